package storagetest

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var documentCases = []testCase{
	{"PutAndList", documentsPutAndList},
	{"Modes", documentsModes},
	{"Delete", documentsDelete},
	{"SetsIndependent", documentsSetsIndependent},
	{"Sample", documentsSample},
	{"SampleBounded", documentsSampleBounded},
	{"Document", documentsOne},
}

func (e *env) docs(set string) map[string]string {
	e.t.Helper()
	got, err := e.s.Documents(e.t.Context(), set)
	if err != nil {
		e.t.Fatalf("Documents(%q): %v", set, err)
	}
	out := map[string]string{}
	for id, d := range got {
		out[id] = string(d)
	}
	return out
}

func (e *env) putDoc(set, id, doc string, mode storage.PutMode) error {
	return e.s.PutDocument(e.t.Context(), set, id, []byte(doc), mode)
}

func (e *env) wantDocs(set string, want map[string]string) {
	e.t.Helper()
	if got := e.docs(set); !maps.Equal(got, want) {
		e.t.Errorf("Documents(%q) = %q, want %q", set, got, want)
	}
}

func documentsPutAndList(e *env) {
	set := e.key("apis")
	e.wantDocs(set, map[string]string{})
	for id, doc := range map[string]string{"a": `{"api_id":"a"}`, "b": `{"api_id":"b"}`, "bin": "\x00\xff"} {
		if err := e.putDoc(set, id, doc, storage.Upsert); err != nil {
			e.t.Fatalf("PutDocument(%q): %v", id, err)
		}
	}
	e.wantDocs(set, map[string]string{"a": `{"api_id":"a"}`, "b": `{"api_id":"b"}`, "bin": "\x00\xff"})

	// The store keeps its own copies, and gives out copies.
	buf := []byte("original")
	if err := e.s.PutDocument(e.t.Context(), set, "c", buf, storage.Upsert); err != nil {
		e.t.Fatal(err)
	}
	copy(buf, "CLOBBER!")
	got, _ := e.s.Documents(e.t.Context(), set)
	copy(got["c"], "CLOBBER!")
	if d := e.docs(set)["c"]; d != "original" {
		e.t.Errorf("document c = %q, want %q", d, "original")
	}
}

func documentsModes(e *env) {
	set := e.key("apis")
	if err := e.putDoc(set, "a", "1", storage.Update); !errors.Is(err, storage.ErrNotFound) {
		e.t.Errorf("Update of a missing document: %v, want ErrNotFound", err)
	}
	if err := e.putDoc(set, "a", "1", storage.Create); err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	if err := e.putDoc(set, "a", "2", storage.Create); !errors.Is(err, storage.ErrExists) {
		e.t.Errorf("Create of an existing document: %v, want ErrExists", err)
	}
	e.wantDocs(set, map[string]string{"a": "1"})
	if err := e.putDoc(set, "a", "3", storage.Update); err != nil {
		e.t.Errorf("Update of an existing document: %v", err)
	}
	if err := e.putDoc(set, "a", "4", storage.Upsert); err != nil {
		e.t.Errorf("Upsert of an existing document: %v", err)
	}
	e.wantDocs(set, map[string]string{"a": "4"})
}

func documentsDelete(e *env) {
	set := e.key("apis")
	_ = e.putDoc(set, "a", "1", storage.Upsert)
	_ = e.putDoc(set, "b", "2", storage.Upsert)
	for _, c := range []struct {
		id   string
		want bool
	}{{"a", true}, {"a", false}, {"never", false}} {
		ok, err := e.s.DeleteDocument(e.t.Context(), set, c.id)
		if err != nil || ok != c.want {
			e.t.Errorf("DeleteDocument(%q) = %t, %v; want %t", c.id, ok, err, c.want)
		}
	}
	e.wantDocs(set, map[string]string{"b": "2"})
	_, _ = e.s.DeleteDocument(e.t.Context(), set, "b")
	e.wantDocs(set, map[string]string{})
}

func documentsSetsIndependent(e *env) {
	apis, pols := e.key("apis"), e.key("policies")
	_ = e.putDoc(apis, "x", "api", storage.Upsert)
	_ = e.putDoc(pols, "x", "policy", storage.Upsert)
	e.wantDocs(apis, map[string]string{"x": "api"})
	e.wantDocs(pols, map[string]string{"x": "policy"})
	// A document set is not a value: Keys lists values only.
	wantKeySet(e, e.prefix)
}

// documentsSample: SampleDocuments gives a whole set that holds no more than asked, at most
// as many as asked of a larger one (each with its own document) with the set's size, and, over
// repeated calls, every document of the set.
func documentsSample(e *env) {
	set := e.key("nodes")
	sample := func(limit int) (map[string]string, int) {
		e.t.Helper()
		got, err := e.s.SampleDocuments(e.t.Context(), set, storage.SampleLimits{Count: limit, Bytes: 1 << 10})
		if err != nil {
			e.t.Fatalf("SampleDocuments(%q, %d): %v", set, limit, err)
		}
		if got.Skipped != 0 {
			e.t.Errorf("SampleDocuments(%q, %d) skipped %d documents, all small", set, limit, got.Skipped)
		}
		out := map[string]string{}
		for id, d := range got.Docs {
			out[id] = string(d)
		}
		return out, got.Total
	}
	if got, total := sample(3); len(got) != 0 || total != 0 {
		e.t.Errorf("sample of an empty set: %q, total %d", got, total)
	}
	want := map[string]string{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		want[id] = "doc-" + id + "\x00\xff"
		if err := e.putDoc(set, id, want[id], storage.Upsert); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, limit := range []int{5, 100} {
		if got, total := sample(limit); !maps.Equal(got, want) || total != 5 {
			e.t.Errorf("sample of %d: %q, total %d; want the whole set, total 5", limit, got, total)
		}
	}
	for _, limit := range []int{0, -1} {
		if got, total := sample(limit); len(got) != 0 || total != 5 {
			e.t.Errorf("sample of %d: %q, total %d; want nothing, total 5", limit, got, total)
		}
	}
	seen := map[string]bool{}
	for range 200 {
		got, total := sample(2)
		if len(got) != 2 || total != 5 {
			e.t.Fatalf("sample of 2: %q, total %d; want 2 documents, total 5", got, total)
		}
		for id, d := range got {
			if want[id] != d {
				e.t.Fatalf("sample of 2 gives %q = %q, want %q", id, d, want[id])
			}
			seen[id] = true
		}
		if len(seen) == len(want) {
			return
		}
	}
	e.t.Errorf("200 samples of 2 saw only %v of the 5 documents", seen)
}

// documentsSampleBounded: SampleDocuments reads no document whose value or id is over the
// bytes asked: it counts those it picked, removes them when asked to, and reads the others,
// however many batches they take.
func documentsSampleBounded(e *env) {
	set := e.key("nodes-bounded")
	want := map[string]string{}
	for i := range 100 {
		id := fmt.Sprintf("n%03d", i)
		want[id] = strings.Repeat("d", 100)
		if err := e.putDoc(set, id, want[id], storage.Upsert); err != nil {
			e.t.Fatal(err)
		}
	}
	junk := map[string]string{"big": strings.Repeat("x", 4097), strings.Repeat("i", 4097): "small"}
	for id, d := range junk {
		if err := e.putDoc(set, id, d, storage.Upsert); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, drop := range []bool{false, true} {
		got, err := e.s.SampleDocuments(e.t.Context(), set, storage.SampleLimits{Count: 1000, Bytes: 4096, DropLarger: drop})
		if err != nil {
			e.t.Fatal(err)
		}
		docs := map[string]string{}
		for id, d := range got.Docs {
			docs[id] = string(d)
		}
		if !maps.Equal(docs, want) || got.Skipped != 2 || got.Total != 102 {
			e.t.Errorf("drop %v: read %d documents (want the 100 small ones), skipped %d (want 2), total %d (want 102)",
				drop, len(docs), got.Skipped, got.Total)
		}
	}
	all, err := e.s.Documents(e.t.Context(), set)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(all) != 100 {
		e.t.Errorf("after a sample dropping the larger documents the set holds %d, want the 100 small ones", len(all))
	}
	// At most Count are picked, the larger ones among them.
	if err := e.putDoc(set, "big", junk["big"], storage.Upsert); err != nil {
		e.t.Fatal(err)
	}
	got, err := e.s.SampleDocuments(e.t.Context(), set, storage.SampleLimits{Count: 10, Bytes: 4096})
	if err != nil {
		e.t.Fatal(err)
	}
	if n := len(got.Docs) + got.Skipped; n != 10 {
		e.t.Errorf("a sample of 10 read %d and skipped %d", len(got.Docs), got.Skipped)
	}
}

// documentsOne: Document reads one document, ErrNotFound for none, ErrTooLarge for one over
// the bytes asked.
func documentsOne(e *env) {
	set := e.key("mark")
	_ = e.putDoc(set, "mark", "m\x00\xff", storage.Upsert)
	_ = e.putDoc(set, "empty", "", storage.Upsert)
	_ = e.putDoc(set, "junk", strings.Repeat("j", 5000), storage.Upsert)
	for _, c := range []struct {
		id   string
		want string
		err  error
	}{{"mark", "m\x00\xff", nil}, {"empty", "", nil}, {"junk", "", storage.ErrTooLarge}, {"none", "", storage.ErrNotFound}} {
		got, err := e.s.Document(e.t.Context(), set, c.id, 4096)
		if !errors.Is(err, c.err) || string(got) != c.want {
			e.t.Errorf("Document(%q) = %q, %v; want %q, %v", c.id, got, err, c.want, c.err)
		}
	}
}
