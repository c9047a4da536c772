package apistore_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apistore"
)

// TestLoadTykAppPath reads testdata/apps, an app_path of Tyk Classic files as people keep them:
// a definition with fields Gatehouse does not read, one switched off, and two hand edits gone
// wrong. Every *.json file is an entry, sorted by name; the broken ones say where they are
// broken; the others decode; other files are not read.
func TestLoadTykAppPath(t *testing.T) {
	dir := filepath.Join("testdata", "apps")
	entries, err := apistore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Base(e.File))
	}
	if want := []string{"archive.json", "billing.json", "hand-edited.json", "string-flag.json"}; !slices.Equal(names, want) {
		t.Fatalf("entries = %q, want %q", names, want)
	}

	byName := map[string]apistore.Entry{}
	for _, e := range entries {
		byName[filepath.Base(e.File)] = e
		if len(e.Raw) == 0 {
			t.Errorf("%s: Raw is empty", e.File)
		}
		if (e.Def() == nil) == (e.Err == nil) {
			t.Errorf("%s: want exactly one of Def and Err, got %v and %v", e.File, e.Def(), e.Err)
		}
	}

	billing := byName["billing.json"].Def()
	if billing == nil || billing.APIID != "billing" || !billing.Active || billing.UseKeylessAccess ||
		billing.Auth.AuthHeaderName != "X-Billing-Key" || billing.Proxy.ListenPath != "/billing/" ||
		billing.Proxy.TargetURL != "http://billing.umbrella.test:7000" || !billing.Proxy.StripListenPath {
		t.Errorf("billing.json decoded to %+v", billing)
	}
	if a := byName["archive.json"].Def(); a == nil || a.Active || a.APIID != "archive" {
		t.Errorf("archive.json decoded to %+v, want active false", a)
	}

	for name, want := range map[string][]string{
		"hand-edited.json": {"invalid JSON at line 8, column 3", "remove the comma at line 7, column 46"},
		"string-flag.json": {`field "active" at line 5, `, "want bool, got JSON string"},
	} {
		err := byName[name].Err
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", name, err, w)
			}
		}
	}

	if e, ok := apistore.Find(entries, "billing"); !ok || filepath.Base(e.File) != "billing.json" {
		t.Errorf("Find(billing) = %v, %v", e.File, ok)
	}
	if _, ok := apistore.Find(entries, "hand-edited"); ok {
		t.Errorf("Find found the definition of a file that does not decode")
	}
}
