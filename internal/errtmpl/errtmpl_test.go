package errtmpl_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gatehouse/gatehouse/internal/errtmpl"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// answer writes the error answer for a request with the given Content-Type.
func answer(s *errtmpl.Set, contentType string, status int, msg string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/x", nil)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.WriteError(w, r, status, msg)
	return w
}

// A message that would break a template's JSON string or XML element if written as is.
const hostile = "it's \"quoted\" <b>&</b>\n\\ end"

func TestBuiltIn(t *testing.T) {
	s, err := errtmpl.Load(filepath.Join(t.TempDir(), "absent"))
	if err != nil || !s.Missing {
		t.Fatalf("a template path that does not exist: %v (missing %v), want the built-in templates", err, s != nil && s.Missing)
	}
	w := answer(s, "application/json", 403, "Access to this API has been disallowed")
	if got, want := w.Body.String(), "{\n    \"error\": \"Access to this API has been disallowed\"\n}"; got != want || w.Code != 403 {
		t.Errorf("JSON request: %d %q, want 403 %q (Tyk's default body)", w.Code, got, want)
	}
	w = answer(s, "", 401, hostile)
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != hostile {
		t.Errorf("a hostile message: %q (%v), want valid JSON carrying it", w.Body, err)
	}
	for _, ct := range []string{"application/xml", "text/xml; charset=utf-8", "Application/SOAP+XML"} {
		w = answer(s, ct, 429, hostile)
		var x struct {
			XMLName xml.Name `xml:"error"`
			Text    string   `xml:",chardata"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &x); err != nil || x.Text != hostile || w.Code != 429 {
			t.Errorf("XML request (%s): %d %q (%v), want <error> carrying the message", ct, w.Code, w.Body, err)
		}
		if got, want := w.Header().Get("Content-Type"), strings.ToLower(strings.TrimSuffix(ct, "; charset=utf-8")); got != want {
			t.Errorf("XML request (%s): Content-Type %q, want %q", ct, got, want)
		}
	}
	var nilSet *errtmpl.Set
	if w := answer(nilSet, "application/xml", 500, "x"); w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("a nil set: Content-Type %q, want the default JSON", w.Header().Get("Content-Type"))
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"error.json":            `{"code": {{.StatusCode}}, "message": "{{.Message}}"}`,
		"error_429.json":        `{"retry": true, "message": "{{.Message}}"}`,
		"error_403.xml":         `<denied>{{.Message}}</denied>`,
		"default_webhook.json":  `{{.NotAnErrorTemplate}}`,
		"error_200.json":        `{{.Ignored}}`,
		"playground.html":       `{{`,
		"error_4031.json":       `{{`,
		"templates-readme.json": `{{`,
	})
	s, err := errtmpl.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(s.Files, ","), "error.json,error_403.xml,error_429.json"; got != want {
		t.Errorf("files read %q, want %q", got, want)
	}
	w := answer(s, "", 401, hostile)
	var body struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != 401 || body.Message != hostile || w.Code != 401 {
		t.Errorf("error.json: %d %q (%v), want the status and message", w.Code, w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error.json: Content-Type %q", ct)
	}
	if w := answer(s, "", 429, "Rate limit exceeded"); w.Body.String() != `{"retry": true, "message": "Rate limit exceeded"}` {
		t.Errorf("error_429.json: %q", w.Body)
	}
	// XML: error_<code>.xml, else the built-in error.xml (not error.json).
	if w := answer(s, "application/xml", 403, "a & b"); w.Body.String() != `<denied>a &amp; b</denied>` {
		t.Errorf("error_403.xml: %q", w.Body)
	}
	if w := answer(s, "text/xml", 404, "Not Found"); w.Body.String() != `<error>Not Found</error>` || w.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("XML without error_404.xml: %q %q, want the built-in error.xml", w.Body, w.Header().Get("Content-Type"))
	}
	if got := answer(s, "", 401, "x").Header().Get("Content-Length"); got == "" {
		t.Error("no Content-Length")
	}
}

func TestBadTemplates(t *testing.T) {
	for name, tc := range map[string]struct{ file, body, want string }{
		"does not parse":  {"error.json", `{"error": "{{.Message"}`, "error.json"},
		"unknown field":   {"error_403.xml", `<e>{{.Detail}}</e>`, "{{.Message}} and {{.StatusCode}} only"},
		"too large":       {"error.json", strings.Repeat("x", errtmpl.MaxTemplateSize+1), "larger than"},
		"unknown func":    {"error_500.json", `{{upper .Message}}`, "error_500.json"},
		"map access fail": {"error.json", `{{index .Message 99}}`, "error.json"},
		// Fails only for some statuses: every status is tried at load.
		"one status fails": {"error.json", `{{if eq .StatusCode 503}}{{.Nope}}{{end}}ok`, "status 503"},
		"writes too much":  {"error.xml", `{{range 599}}{{range 599}}{{$.Message}}{{end}}{{end}}`, "writes more than"},
		"not UTF-8":        {"error.json", "{\"e\": \"\xff\xfe{{.Message}}\"}", "not UTF-8"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{tc.file: tc.body})
			_, err := errtmpl.Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("Load: %v, want an error naming %s and containing %q", err, tc.file, tc.want)
			}
		})
	}
	// A directory, or a symbolic link to one, named as a template; a FIFO (reading it would
	// block the start).
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "error.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := errtmpl.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory named error.json: %v", err)
	}
	dir = t.TempDir()
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "error_404.xml")); err != nil {
		t.Fatal(err)
	}
	if _, err := errtmpl.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a symbolic link to a directory: %v", err)
	}
	dir = t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "error.xml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := errtmpl.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO: %v", err)
	}
	// A status's own template runs only for that status: what it would do for another is no
	// failure, while it fails for its own status as any template does.
	dir = t.TempDir()
	write(t, dir, map[string]string{"error_404.json": `{{if ne .StatusCode 404}}{{.Nope}}{{end}}{"error": "{{.Message}}"}`})
	if _, err := errtmpl.Load(dir); err != nil {
		t.Errorf("error_404.json failing only for other statuses: %v", err)
	}
	dir = t.TempDir()
	write(t, dir, map[string]string{"error_404.json": `{{if eq .StatusCode 404}}{{.Nope}}{{end}}x`})
	if _, err := errtmpl.Load(dir); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Errorf("error_404.json failing for 404: %v", err)
	}
	// A template path that is a file, not a directory.
	f := filepath.Join(t.TempDir(), "file")
	write(t, filepath.Dir(f), map[string]string{"file": "x"})
	if _, err := errtmpl.Load(f); err == nil || !strings.Contains(err.Error(), "template_path") {
		t.Errorf("a file as template_path: %v, want an error naming template_path", err)
	}
}

// TestRuntimeFailure: a template that fails only for some message (no load-time run can find
// every one) still answers: JSON with Tyk's default body, XML with the built-in error.xml,
// the message escaped once.
func TestRuntimeFailure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"error.json": `{{if gt (len .Message) 40}}{{.Nope}}{{end}}{"m": "{{.Message}}"}`,
		"error.xml":  `{{if eq .Message "a &lt; b"}}{{.Nope}}{{end}}<m>{{.Message}}</m>`,
	})
	s, err := errtmpl.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := `a "quoted" message longer than forty characters`
	if w := answer(s, "", 500, long); w.Body.String() != "{\n    \"error\": \"a \\\"quoted\\\" message longer than forty characters\"\n}" || w.Code != 500 {
		t.Errorf("JSON fallback: %d %q", w.Code, w.Body)
	}
	if w := answer(s, "", 500, `c`); w.Body.String() != `{"m": "c"}` {
		t.Errorf("JSON template: %q", w.Body)
	}
	w := answer(s, "text/xml", 502, "a < b")
	if w.Body.String() != "<error>a &lt; b</error>" || w.Header().Get("Content-Type") != "text/xml" {
		t.Errorf("XML fallback: %q %q", w.Header().Get("Content-Type"), w.Body)
	}
}
