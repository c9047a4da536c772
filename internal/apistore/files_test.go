package apistore_test

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apistore"
)

// oasPair writes Tyk's pair of files of OAS API id to dir: <id>.json (Classic, is_oas) and
// <id>-oas.json (the document).
func oasPair(t *testing.T, dir, id string) {
	t.Helper()
	writeFile(t, dir, id+".json", `{"api_id": "`+id+`", "name": "`+id+`", "is_oas": true, "proxy": {"listen_path": "/`+id+`/", "target_url": "http://u"}}`)
	writeFile(t, dir, id+"-oas.json", `{"openapi": "3.0.3", "info": {"title": "`+id+`", "version": "1"}, "paths": {},
		"x-tyk-api-gateway": {"info": {"id": "`+id+`", "name": "`+id+`", "state": {"active": true}},
		"upstream": {"url": "http://u"}, "server": {"listenPath": {"value": "/`+id+`/"}}}}`)
}

// snapshot returns every file in dir by name with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range dirNames(t, dir) {
		out[name] = readFile(t, filepath.Join(dir, name))
	}
	return out
}

// TestSaveRefusesAnotherAPIsFile: creating an API never writes over a file that is not its own:
// another API's definition in a file named as the operator chose, the OAS document of another
// API, a companion file no API claims, or a file that does not load. The error says which file
// and what holds it, and nothing is written (not even the first of an OAS API's two files).
func TestSaveRefusesAnotherAPIsFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "httpbin.json", def("1"))
	oasPair(t, dir, "cat")
	writeFile(t, dir, "dog-oas.json", `{"openapi": "3.0.3"}`) // no dog.json beside it: not loaded
	writeFile(t, dir, "broken.json", "{broken")
	d := apistore.New(dir)
	before := snapshot(t, dir)

	for _, c := range []struct {
		name, id string
		oas      bool
		want     []string
	}{
		{"classic over another API's file", "httpbin", false, []string{"httpbin.json", `API "1"`, "choose another api_id"}},
		{"OAS over another API's file", "httpbin", true, []string{"httpbin.json", `API "1"`}},
		{"OAS whose document file is unclaimed", "dog", true, []string{"dog-oas.json", "a document no API loads"}},
		{"classic over a file that does not load", "broken", false, []string{"broken.json", "does not load"}},
		{"OAS over a file that does not load", "broken", true, []string{"broken.json", "does not load"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var created bool
			var err error
			if c.oas {
				created, err = d.SaveOASChecked(c.id, []byte(def(c.id)), []byte(`{"openapi": "3.0.3"}`), nil)
			} else {
				created, err = d.SaveChecked(c.id, []byte(def(c.id)), nil)
			}
			if !errors.Is(err, apistore.ErrFileTaken) || created {
				t.Fatalf("save %q = %v, %v; want ErrFileTaken", c.id, created, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if after := snapshot(t, dir); !maps.Equal(after, before) {
				t.Errorf("app_path changed by a refused save: %q, was %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
		})
	}

	// The OAS document of API cat is cat-oas.json: an api_id naming it is refused as such.
	if _, err := d.SaveChecked("cat-oas", []byte(def("cat-oas")), nil); !errors.Is(err, apistore.ErrCompanionID) {
		t.Errorf("SaveChecked(cat-oas) = %v, want ErrCompanionID", err)
	}
	if after := snapshot(t, dir); !maps.Equal(after, before) {
		t.Errorf("app_path changed by a refused save")
	}
}

// TestSaveRefusesCompanionID: a new API whose api_id ends in -oas or -mcp would be written to a
// file the loader reads as the document of another API, never as a definition: it is refused,
// through both writes, with the reason, and nothing is written. An API with such an id defined
// in a file named otherwise is updated in place as before.
func TestSaveRefusesCompanionID(t *testing.T) {
	dir := t.TempDir()
	d := apistore.New(dir)
	for _, id := range []string{"cat-oas", "cat-mcp"} {
		if _, err := d.SaveChecked(id, []byte(def(id)), nil); !errors.Is(err, apistore.ErrCompanionID) ||
			!strings.Contains(err.Error(), id+".json") || !strings.Contains(err.Error(), "cat.json") ||
			!strings.Contains(err.Error(), "choose an api_id that does not end in -oas or -mcp") {
			t.Errorf("SaveChecked(%q) = %v, want ErrCompanionID with the reason", id, err)
		}
		if _, err := d.SaveOASChecked(id, []byte(def(id)), []byte(`{}`), nil); !errors.Is(err, apistore.ErrCompanionID) {
			t.Errorf("SaveOASChecked(%q) = %v, want ErrCompanionID", id, err)
		}
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("dir holds %q after refused saves", got)
	}

	writeFile(t, dir, "hand-named.json", def("x-oas"))
	updated := `{"api_id": "x-oas", "name": "updated"}`
	if created, err := d.SaveChecked("x-oas", []byte(updated), nil); err != nil || created {
		t.Fatalf("updating x-oas in hand-named.json = %v, %v", created, err)
	}
	if got := readFile(t, filepath.Join(dir, "hand-named.json")); got != updated {
		t.Errorf("hand-named.json = %q, want %q", got, updated)
	}
}

// TestSaveOASUpdatesOwnPair: an update of an OAS API writes over its own pair of files, which
// the refusal of others' files must not stop.
func TestSaveOASUpdatesOwnPair(t *testing.T) {
	dir := t.TempDir()
	oasPair(t, dir, "cat")
	d := apistore.New(dir)
	classic, doc := `{"api_id": "cat", "is_oas": true, "name": "v2"}`, `{"openapi": "3.0.3", "v": 2}`
	if created, err := d.SaveOASChecked("cat", []byte(classic), []byte(doc), nil); err != nil || created {
		t.Fatalf("SaveOASChecked(cat) = %v, %v", created, err)
	}
	if readFile(t, filepath.Join(dir, "cat.json")) != classic || readFile(t, filepath.Join(dir, "cat-oas.json")) != doc {
		t.Errorf("the pair was not updated: %v", snapshot(t, dir))
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"cat-oas.json", "cat.json"}) {
		t.Errorf("dir holds %q", got)
	}
}
