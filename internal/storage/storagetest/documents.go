package storagetest

import (
	"errors"
	"maps"

	"github.com/gatehouse/gatehouse/internal/storage"
)

var documentCases = []testCase{
	{"PutAndList", documentsPutAndList},
	{"Modes", documentsModes},
	{"Delete", documentsDelete},
	{"SetsIndependent", documentsSetsIndependent},
	{"Sample", documentsSample},
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
		got, total, err := e.s.SampleDocuments(e.t.Context(), set, limit)
		if err != nil {
			e.t.Fatalf("SampleDocuments(%q, %d): %v", set, limit, err)
		}
		out := map[string]string{}
		for id, d := range got {
			out[id] = string(d)
		}
		return out, total
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
