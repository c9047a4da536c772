package apistore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestSharedLoadDecodesOnlyWhatChanged: the fleet's definitions are read on every reload, and
// decoded only when new or changed; an unchanged one has its head and bytes, and Def decodes it
// when asked. One stored under another api_id is refused on every load, remembered or not, and
// Undecoded drops a definition but keeps what decodes it again.
func TestSharedLoadDecodesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	defer store.Close()
	put := func(id, body string) {
		t.Helper()
		if err := store.PutDocument(ctx, "apis", id, []byte(body), storage.Upsert); err != nil {
			t.Fatal(err)
		}
	}
	def := func(id, path string) string {
		return fmt.Sprintf(`{"api_id": %q, "name": %q, "active": true, "proxy": {"listen_path": %q, "target_url": "http://127.0.0.1:9"}}`, id, id, path)
	}
	put("a", def("a", "/a/"))
	put("b", def("b", "/b/"))
	put("c", def("not-c", "/c/"))
	s := &apistore.Shared{Docs: store, Set: "apis"}
	load := func() map[string]apistore.Entry {
		t.Helper()
		entries, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]apistore.Entry{}
		for _, e := range entries {
			out[e.File] = e
		}
		return out
	}
	first := load()
	if e := first["redis:a"]; !apistore.Decoded(e) || e.Head.ListenPath != "/a/" {
		t.Fatalf("a new shared definition: decoded %v, head %+v", apistore.Decoded(e), e.Head)
	}
	if e := first["redis:c"]; e.Err == nil {
		t.Error("a definition stored under another api_id loaded")
	}

	put("b", def("b", "/b2/"))
	second := load()
	a := second["redis:a"]
	if apistore.Decoded(a) || !reflect.DeepEqual(a.Head, first["redis:a"].Head) || a.Def() == nil || a.Def().Proxy.ListenPath != "/a/" {
		t.Errorf("an unchanged shared definition: decoded again %v, head %+v, Def %+v", apistore.Decoded(a), a.Head, a.Def())
	}
	if b := second["redis:b"]; !apistore.Decoded(b) || b.Head.ListenPath != "/b2/" {
		t.Errorf("a changed shared definition: decoded %v, head %+v; want a new decode", apistore.Decoded(b), b.Head)
	}
	if e := second["redis:c"]; e.Err == nil {
		t.Error("a definition stored under another api_id loaded the second time")
	}

	u := first["redis:a"].Undecoded()
	if apistore.Decoded(u) || !reflect.DeepEqual(u.Head, first["redis:a"].Head) || u.Def() == nil || u.Def().APIID != "a" {
		t.Errorf("Undecoded: decoded %v, head %+v, Def %+v; want the head kept and Def decoding the bytes", apistore.Decoded(u), u.Head, u.Def())
	}
}
