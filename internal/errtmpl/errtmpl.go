// Package errtmpl writes the gateway's error answers through Tyk's error templates: the files
// error_<code>.json, error_<code>.xml, error.json and error.xml of template_path.
//
// As in Tyk, a request whose Content-Type is XML (application/xml, text/xml,
// application/soap+xml) gets error_<code>.xml, else error.xml, else error.json; any other gets
// error_<code>.json, else error.json. The built-in error.json is Tyk's default body,
// {"error": "<message>"}, and the built-in error.xml is <error>message</error>: a directory's
// files replace them by name.
//
// Templates are Go text/templates given {{.Message}} and {{.StatusCode}}. The message comes
// escaped for where it goes, so that a template written as Tyk's are, "{{.Message}}" inside a
// JSON string or an XML element, stays well-formed whatever the message holds: JSON string
// escaping for .json templates, XML escaping for .xml ones.
package errtmpl

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// MaxTemplateSize bounds a template file, and MaxAnswerSize what a template writes: error
// templates are a few lines.
const (
	MaxTemplateSize = 64 << 10
	MaxAnswerSize   = 64 << 10
)

// Built-in templates, Tyk's defaults.
const (
	builtinJSON = "{\n    \"error\": \"{{.Message}}\"\n}"
	builtinXML  = "<error>{{.Message}}</error>"
)

// names are the files a template directory may hold that Set reads: error.json, error.xml,
// error_<code>.json and error_<code>.xml with a 3-digit code from 400 to 599.
var names = regexp.MustCompile(`^error(?:_([45][0-9][0-9]))?\.(json|xml)$`)

// data is what a template is given.
type data struct {
	Message    string
	StatusCode int
}

// Set is the error templates of a directory over the built-in ones. The zero Set and a nil
// *Set write the built-in answers.
type Set struct {
	json, xml map[int]*template.Template // by status; 0 is error.json / error.xml
	// builtinXML answers XML requests whose template failed.
	builtinXML *template.Template
	// custom is set when the directory replaced or added a JSON template: without it, JSON
	// answers take the fast path (Tyk's default body, no template run).
	custom bool
	// Files names the templates read from the directory, for the start-up log; Missing is
	// set when the directory does not exist.
	Files   []string
	Missing bool
}

// Load reads the error templates of dir. A directory that does not exist gives the built-in
// templates (and no error: a Tyk configuration names its own install's template path; Missing
// says so). A template that is not a regular UTF-8 file, does not parse, or fails or writes
// more than MaxAnswerSize when run for any status from 400 to 599 is an error naming the file,
// so that a broken template stops the start rather than failing error answers.
func Load(dir string) (*Set, error) {
	s := &Set{json: map[int]*template.Template{}, xml: map[int]*template.Template{}}
	s.json[0] = template.Must(template.New("error.json").Parse(builtinJSON))
	s.builtinXML = template.Must(template.New("error.xml").Parse(builtinXML))
	s.xml[0] = s.builtinXML
	if dir == "" {
		return s, nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		s.Missing = true
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("template_path %s: %w", dir, err)
	}
	for _, e := range entries {
		m := names.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		code := 0
		if m[1] != "" {
			code, _ = strconv.Atoi(m[1])
		}
		t, err := parse(path, code)
		if err != nil {
			return nil, err
		}
		if m[2] == "json" {
			s.json[code] = t
			s.custom = true
		} else {
			s.xml[code] = t
		}
		s.Files = append(s.Files, e.Name())
	}
	return s, nil
}

// parse reads and checks the template at path, which answers the status code (0: every status
// without a template of its own).
func parse(path string, code int) (*template.Template, error) {
	// A directory, a FIFO (whose read would block the start) or a device is no template;
	// Stat follows a symbolic link to what it names.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("error template %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("error template %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("error template %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTemplateSize+1))
	if err != nil {
		return nil, fmt.Errorf("error template %s: %w", path, err)
	}
	if len(b) > MaxTemplateSize {
		return nil, fmt.Errorf("error template %s: larger than %d bytes", path, MaxTemplateSize)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("error template %s: not UTF-8 text", path)
	}
	t, err := template.New(filepath.Base(path)).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("error template %s: %w (templates are Go text/templates given {{.Message}} and {{.StatusCode}})", path, err)
	}
	// Run it as it will run: for every status it may answer (its own code, or any), with an
	// empty message and one of every character that needs escaping.
	first, last := 400, 599
	if code != 0 {
		first, last = code, code
	}
	for status := first; status <= last; status++ {
		for _, msg := range []string{"", `a "b" <c> & 'd' \e` + "\n"} {
			if _, err := execute(t, msg, status); err != nil {
				return nil, fmt.Errorf("error template %s, run for status %d: %w (templates are given {{.Message}} and {{.StatusCode}} only)", path, status, err)
			}
		}
	}
	return t, nil
}

// errTooLarge stops a template that writes more than MaxAnswerSize.
var errTooLarge = fmt.Errorf("writes more than %d bytes", MaxAnswerSize)

// capped is a buffer that refuses to grow past MaxAnswerSize.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > MaxAnswerSize {
		return 0, errTooLarge
	}
	return c.Buffer.Write(p)
}

func execute(t *template.Template, message string, status int) (*capped, error) {
	var b capped
	if err := t.Execute(&b, data{Message: message, StatusCode: status}); err != nil {
		return nil, err
	}
	return &b, nil
}

// WriteError writes the error answer for r: status, and message through the template chosen for
// r's Content-Type and status. Headers already set on w (Retry-After, rate limit headers) go
// with it.
func (s *Set) WriteError(w http.ResponseWriter, r *http.Request, status int, message string) {
	if s == nil || s.json == nil || r == nil {
		writeDefault(w, status, message)
		return
	}
	if ct, ok := xmlType(r.Header.Get("Content-Type")); ok {
		if !run(w, pick(s.xml, status), ct, status, xmlEscape(message)) {
			// Checked at load for every status; a message-dependent failure still answers.
			run(w, s.builtinXML, ct, status, xmlEscape(message))
		}
		return
	}
	if !s.custom || !run(w, pick(s.json, status), "application/json", status, jsonEscape(message)) {
		writeDefault(w, status, message)
	}
}

func pick(m map[int]*template.Template, status int) *template.Template {
	if t := m[status]; t != nil {
		return t
	}
	return m[0]
}

// run writes t's answer, or nothing and false when t fails (the caller falls back).
func run(w http.ResponseWriter, t *template.Template, contentType string, status int, message string) bool {
	b, err := execute(t, message, status)
	if err != nil {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
	return true
}

// WantsXML reports whether r's Content-Type asks for XML error answers, as Tyk reads it.
func WantsXML(r *http.Request) bool {
	_, ok := xmlType(r.Header.Get("Content-Type"))
	return ok
}

// xmlType reports whether a request's Content-Type asks for XML errors, and the Content-Type
// of the answer (the request's media type, as in Tyk).
func xmlType(ct string) (string, bool) {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/xml", "text/xml", "application/soap+xml":
		return mt, true
	}
	return "", false
}

// jsonEscape returns s as the inside of a JSON string.
func jsonEscape(s string) string {
	b, err := json.Marshal(s)
	if err != nil || len(b) < 2 {
		return ""
	}
	return string(b[1 : len(b)-1])
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeDefault is Tyk's default JSON error body, written without a template.
func writeDefault(w http.ResponseWriter, status int, message string) {
	chain.WriteError(w, status, message)
}
