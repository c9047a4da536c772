//go:build unix

package apistore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/regfile"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// within runs f and fails the test when it has not returned after 10 s: before, a named pipe
// in app_path blocked a load for good, and a link to /dev/zero read without end.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	return testkit.Within(t, 10*time.Second, what, f)
}

// specialFiles puts into dir what is not a regular file, under names the loader reads: a named
// pipe no one writes to, a symbolic link to /dev/zero, a directory, a file over MaxFileSize
// (sparse: it takes no room), and an OAS API whose document is a named pipe. It returns each
// file's name with what its entry's error must say. The link sorts after the pipes, so that
// code that blocks on a pipe never gets to read /dev/zero without end.
func specialFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	mkfifo := func(name string) {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkfifo("zz.json")
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zzzero.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	huge := writeFile(t, dir, "huge.json", def("huge"))
	if err := os.Truncate(huge, apistore.MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "pipe.json", `{"api_id": "pipe", "is_oas": true, "proxy": {"listen_path": "/pipe/", "target_url": "http://u"}}`)
	mkfifo("pipe-oas.json")
	return map[string]string{
		"zz.json":     "not a regular file but a named pipe (FIFO)",
		"zzzero.json": "not a regular file but a character device",
		"folder.json": "not a regular file but a directory",
		"huge.json":   "larger than 64 MiB, the most read of one file",
	}
}

// TestLoadSkipsWhatIsNotARegularFile: a named pipe, a link to a device, a directory or a file
// over MaxFileSize among the definitions is an entry whose error names the file and says why,
// at once; the other definitions load, and writes through the Dir are not held up either.
func TestLoadSkipsWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", def("a"))
	want := specialFiles(t, dir)

	d := apistore.New(dir)
	d.UseMemo(&apistore.Memo{})
	for _, load := range []struct {
		name string
		f    func() ([]apistore.Entry, error)
	}{
		{"Load", d.Load},
		{"LoadMemo", func() ([]apistore.Entry, error) { return d.LoadMemo(&apistore.Memo{}) }},
	} {
		t.Run(load.name, func(t *testing.T) {
			type result struct {
				entries []apistore.Entry
				err     error
			}
			r := within(t, load.name, func() result { e, err := load.f(); return result{e, err} })
			if r.err != nil {
				t.Fatal(r.err)
			}
			got := map[string]apistore.Entry{}
			for _, e := range r.entries {
				got[filepath.Base(e.File)] = e
			}
			if e := got["a.json"]; e.Err != nil || e.Head.APIID != "a" {
				t.Errorf("a.json: %+v; want API a loaded", e)
			}
			for name, w := range want {
				err := got[name].Err
				if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, name)) || !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %v; want the file named and %q", name, err, w)
				}
			}
			if e := got["pipe.json"]; e.Err != nil || e.OASErr == nil ||
				!errors.Is(e.OASErr, regfile.ErrNotRegular) || !strings.Contains(e.OASErr.Error(), "pipe-oas.json") {
				t.Errorf("pipe.json: error %v, OAS error %v; want its document refused as a named pipe", e.Err, e.OASErr)
			}
		})
	}

	err := within(t, "SaveChecked", func() error {
		_, err := d.SaveChecked("b", []byte(def("b")), nil)
		return err
	})
	if err != nil {
		t.Fatalf("SaveChecked(b): %v", err)
	}
	if err := within(t, "Delete", func() error { return d.Delete("b") }); err != nil {
		t.Fatalf("Delete(b): %v", err)
	}
}
