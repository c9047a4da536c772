package apistore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apistore"
)

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func def(id string) string {
	return `{"api_id": "` + id + `", "name": "API ` + id + `", "proxy": {"listen_path": "/` + id + `/", "target_url": "http://u"}}`
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.json", def("b"))
	writeFile(t, dir, "a.json", def("a"))
	writeFile(t, dir, "c.txt", def("c"))
	writeFile(t, dir, "bad.json", "{\n  \"api_id\": \"bad\",\n}")
	writeFile(t, dir, "type.json", "{\n  \"api_id\": \"t\",\n  \"active\": \"yes\"\n}")
	if err := os.Mkdir(filepath.Join(dir, "sub.json.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.json.d"), "d.json", def("d"))

	entries, err := apistore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Base(e.File))
	}
	if want := []string{"a.json", "b.json", "bad.json", "type.json"}; !slices.Equal(names, want) {
		t.Fatalf("Load files = %q, want %q", names, want)
	}
	tests := []struct {
		name    string
		entry   apistore.Entry
		wantID  string
		wantErr []string
	}{
		{name: "a", entry: entries[0], wantID: "a"},
		{name: "b", entry: entries[1], wantID: "b"},
		{name: "syntax error", entry: entries[2], wantErr: []string{"invalid JSON at line 3, column"}},
		{name: "type error", entry: entries[3], wantErr: []string{`field "active" at line 3, column`, "want bool, got JSON string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.entry
			if e.File != filepath.Join(dir, filepath.Base(e.File)) {
				t.Errorf("File = %q, want a path in %q", e.File, dir)
			}
			if string(e.Raw) != readFile(t, e.File) {
				t.Errorf("Raw = %q, want the file content", e.Raw)
			}
			if tc.wantErr == nil {
				if e.Err != nil || e.Def() == nil {
					t.Fatalf("Def = %v, Err = %v; want a definition", e.Def(), e.Err)
				}
				if e.Def().APIID != tc.wantID || !e.Def().Active {
					t.Errorf("Def api_id %q active %v, want %q true", e.Def().APIID, e.Def().Active, tc.wantID)
				}
				return
			}
			if e.Def() != nil {
				t.Errorf("Def = %+v with an error, want nil", e.Def())
			}
			if e.Err == nil {
				t.Fatal("Err = nil, want a decoding error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(e.Err.Error(), w) {
					t.Errorf("Err = %q, want it to contain %q", e.Err, w)
				}
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	entries, err := apistore.New(filepath.Join(t.TempDir(), "nope")).Load()
	if err != nil {
		t.Fatalf("Load of a missing dir: %v", err)
	}
	if len(entries) != 0 {
		t.Errorf("Load of a missing dir = %d entries, want none", len(entries))
	}
}

func TestLoadEmptyDir(t *testing.T) {
	entries, err := apistore.New(t.TempDir()).Load()
	if err != nil || len(entries) != 0 {
		t.Errorf("Load of an empty dir = %d entries, %v; want none, nil", len(entries), err)
	}
}

func TestPath(t *testing.T) {
	if got := apistore.New("/some/dir").Path(); got != "/some/dir" {
		t.Errorf("Path() = %q, want /some/dir", got)
	}
}

func TestSaveNew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "apps") // does not exist yet
	d := apistore.New(dir)
	raw := def("new-api")
	created, err := d.SaveChecked("new-api", []byte(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created = false for a new id")
	}
	if got := readFile(t, filepath.Join(dir, "new-api.json")); got != raw {
		t.Errorf("new-api.json = %q, want %q", got, raw)
	}
	if got, want := dirNames(t, dir), []string{"new-api.json"}; !slices.Equal(got, want) {
		t.Errorf("dir holds %q, want %q (no temporary files)", got, want)
	}
	f, err := d.FileFor("new-api")
	if err != nil || f != filepath.Join(dir, "new-api.json") {
		t.Errorf("FileFor = %q, %v; want %q", f, err, filepath.Join(dir, "new-api.json"))
	}
}

func TestSaveExistingInOwnFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "custom-name.json", def("api1"))
	writeFile(t, dir, "other.json", def("api2"))
	d := apistore.New(dir)
	updated := `{"api_id": "api1", "name": "updated"}`
	created, err := d.SaveChecked("api1", []byte(updated), nil)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created = true for an existing id")
	}
	if got := readFile(t, filepath.Join(dir, "custom-name.json")); got != updated {
		t.Errorf("custom-name.json = %q, want %q", got, updated)
	}
	if got, want := dirNames(t, dir), []string{"custom-name.json", "other.json"}; !slices.Equal(got, want) {
		t.Errorf("dir holds %q, want %q (no api1.json, no temporary files)", got, want)
	}
	if got := readFile(t, filepath.Join(dir, "other.json")); got != def("api2") {
		t.Errorf("other.json changed to %q", got)
	}
}

func TestSaveTwice(t *testing.T) {
	dir := t.TempDir()
	d := apistore.New(dir)
	for i, want := range []bool{true, false, false} {
		raw := `{"api_id": "x", "name": "v` + string(rune('0'+i)) + `"}`
		created, err := d.SaveChecked("x", []byte(raw), nil)
		if err != nil {
			t.Fatal(err)
		}
		if created != want {
			t.Errorf("save %d: created = %v, want %v", i, created, want)
		}
		if got := readFile(t, filepath.Join(dir, "x.json")); got != raw {
			t.Errorf("save %d: x.json = %q, want %q", i, got, raw)
		}
	}
	if got, want := dirNames(t, dir), []string{"x.json"}; !slices.Equal(got, want) {
		t.Errorf("dir holds %q, want %q", got, want)
	}
}

func TestSaveBadID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want string
	}{
		{name: "empty", id: "", want: "api_id: missing"},
		{name: "path traversal", id: "../evil", want: "must not start with a dot"},
		{name: "slash", id: "a/b", want: "may hold only letters, digits"},
		{name: "hidden", id: ".hidden", want: "must not start with a dot"},
		{name: "too long", id: strings.Repeat("a", 129), want: "longer than 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "apps")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			created, err := apistore.New(dir).SaveChecked(tc.id, []byte(`{}`), nil)
			if err == nil {
				t.Fatalf("Save(%q) = %v, nil; want error", tc.id, created)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Save(%q) error = %q, want it to contain %q", tc.id, err, tc.want)
			}
			if created {
				t.Error("created = true with an error")
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("dir holds %q after a refused save", got)
			}
			if got := dirNames(t, parent); !slices.Equal(got, []string{"apps"}) {
				t.Errorf("parent holds %q after a refused save", got)
			}
		})
	}
}

func TestSaveRefusesUndecodableFileOfSameName(t *testing.T) {
	// A broken x.json defines no id, but it is a file the operator put there: Save("x") does not
	// write over it.
	dir := t.TempDir()
	writeFile(t, dir, "x.json", "{broken")
	created, err := apistore.New(dir).SaveChecked("x", []byte(def("x")), nil)
	if !errors.Is(err, apistore.ErrFileTaken) || !strings.Contains(err.Error(), "x.json") || !strings.Contains(err.Error(), "does not load") {
		t.Fatalf("SaveChecked = %v, %v; want ErrFileTaken naming x.json, which does not load", created, err)
	}
	if got := readFile(t, filepath.Join(dir, "x.json")); got != "{broken" {
		t.Errorf("x.json = %q, want it unchanged", got)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		id        string
		wantErr   error
		wantFiles []string
	}{
		{name: "by id file", files: map[string]string{"a.json": def("a"), "b.json": def("b")}, id: "a", wantFiles: []string{"b.json"}},
		{name: "in a differently named file", files: map[string]string{"custom.json": def("a"), "b.json": def("b")}, id: "a", wantFiles: []string{"b.json"}},
		{name: "missing", files: map[string]string{"b.json": def("b")}, id: "a", wantErr: apistore.ErrNotFound, wantFiles: []string{"b.json"}},
		{name: "file named after id defines another", files: map[string]string{"a.json": def("b")}, id: "a", wantErr: apistore.ErrNotFound, wantFiles: []string{"a.json"}},
		{name: "empty dir", files: nil, id: "a", wantErr: apistore.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			err := apistore.New(dir).Delete(tc.id)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Delete(%q) = %v, want %v", tc.id, err, tc.wantErr)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.wantFiles) {
				t.Errorf("dir holds %q, want %q", got, tc.wantFiles)
			}
		})
	}
}

func TestFileFor(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "one.json", def("api1"))
	writeFile(t, dir, "two.json", def("api2"))
	writeFile(t, dir, "broken.json", "{")
	d := apistore.New(dir)
	tests := []struct {
		id   string
		want string
	}{
		{id: "api1", want: filepath.Join(dir, "one.json")},
		{id: "api2", want: filepath.Join(dir, "two.json")},
		{id: "one", want: ""},
		{id: "", want: ""},
	}
	for _, tc := range tests {
		t.Run("id "+tc.id, func(t *testing.T) {
			got, err := d.FileFor(tc.id)
			if err != nil || got != tc.want {
				t.Errorf("FileFor(%q) = %q, %v; want %q, nil", tc.id, got, err, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr string // exact
		// wantSub are substrings of the error, when the exact column is not asserted.
		wantSub []string
	}{
		{
			name: "trailing comma points at the brace",
			raw:  "{\n  \"api_id\": \"x\",\n}",
			wantErr: "invalid JSON at line 3, column 1: invalid character '}' looking for beginning of object key string" +
				" (JSON does not allow a trailing comma; remove the comma at line 2, column 16)",
		},
		{
			name:    "bad character mid-line",
			raw:     "{\"name\": \"x\"} trailing",
			wantErr: "invalid JSON at line 1, column 15: invalid character 't' after top-level value",
		},
		{
			name:    "missing colon on line 2",
			raw:     "{\n\t\"api_id\" \"x\"}",
			wantErr: "invalid JSON at line 2, column 11: invalid character '\"' after object key",
		},
		{
			name:    "truncated input points past the end",
			raw:     "{\"a\":",
			wantErr: "invalid JSON at line 1, column 6: unexpected end of JSON input",
		},
		{
			name:    "empty input",
			raw:     " \n",
			wantErr: "it is empty; it must hold a JSON object",
		},
		{
			name:    "type error on line 3",
			raw:     "{\n\n  \"active\": \"yes\"}",
			wantSub: []string{`field "active" at line 3, column `, ": want bool, got JSON string"},
		},
		{
			name:    "nested type error",
			raw:     `{"proxy": {"listen_path": 5}}`,
			wantSub: []string{`field "proxy.listen_path" at line 1, column `, ": want string, got JSON number"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := apistore.Decode([]byte(tc.raw))
			if err == nil {
				t.Fatalf("Decode = %+v, nil; want error", d)
			}
			if d != nil {
				t.Errorf("Decode returned %+v with the error", d)
			}
			if tc.wantErr != "" && err.Error() != tc.wantErr {
				t.Errorf("Decode error = %q\nwant             %q", err, tc.wantErr)
			}
			for _, w := range tc.wantSub {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestDecodeOK(t *testing.T) {
	d, err := apistore.Decode([]byte(`{"api_id": "a", "active": false, "custom": {"x": 1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.APIID != "a" || d.Active {
		t.Errorf("Decode = api_id %q active %v, want \"a\" false", d.APIID, d.Active)
	}
}

// TestRepeatedIDsOneRule checks that what a reload refuses to serve (FileIDs) and what the
// Gateway API refuses to read or change (FindOne) is one rule: files only, broken entries and
// definitions stored in Redis not counted.
func TestRepeatedIDsOneRule(t *testing.T) {
	entry := func(file, id string, err error) apistore.Entry {
		return apistore.Entry{File: file, Head: apistore.Head{APIID: id}, Err: err}
	}
	broken := errors.New("broken")
	entries := []apistore.Entry{
		entry("/d/a.json", "twice", nil),
		entry("/d/b.json", "once", nil),
		entry("/d/c.json", "once", broken),
		entry(apistore.SharedPrefix+"once", "once", nil),
		entry("/d/z.json", "twice", nil),
		entry("/d/e.json", "", broken),
	}
	defined, repeated := apistore.FileIDs(entries)
	if defined["once"] != "/d/b.json" || defined["twice"] != "/d/a.json" || len(defined) != 2 {
		t.Errorf("defined = %v", defined)
	}
	if len(repeated) != 1 || !errors.Is(repeated["twice"], apistore.ErrRepeatedID) ||
		!strings.Contains(repeated["twice"].Error(), `a.json and z.json define api_id "twice"`) {
		t.Errorf("repeated = %v", repeated)
	}
	for _, id := range []string{"twice", "once", "", "none"} {
		e, ok, err := apistore.FindOne(entries, id)
		if (err != nil) != (repeated[id] != nil) || (err != nil && err.Error() != repeated[id].Error()) {
			t.Errorf("FindOne(%q) error %v, FileIDs says %v", id, err, repeated[id])
		}
		if err == nil && (ok != (defined[id] != "") || e.File != defined[id]) {
			t.Errorf("FindOne(%q) = %s %v, FileIDs says %q", id, e.File, ok, defined[id])
		}
	}
}
