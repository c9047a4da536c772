// Package erroroverride is Tyk's error overrides (error_overrides, Tyk 5.13), compiled: rules by
// status code that rewrite the error answers of the gateway (matched by the error's flag or
// message) and of the upstream (by its 5xx flag, body pattern or a JSON field of its body). See
// apidef.ErrorOverrides for the rules' shape.
package erroroverride

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/regfile"
)

// MaxBodyRead is how much of an upstream's error body is read to match it, as in Tyk.
const MaxBodyRead = 4 << 10

// maxAnswer bounds an answer a template writes, as the error templates' (errtmpl).
const maxAnswer = 64 << 10

// Set is one layer of rules compiled: an API's, or tyk.conf's.
type Set struct {
	byCode  map[int][]*rule
	byClass [2][]*rule // 4xx, 5xx
	// files are the template files the rules read (response.template), and those looked for
	// before them and not found: what FilesChanged reads again.
	files map[string]templateFile
}

// templateFile is what a template file held when the rules were compiled.
type templateFile struct {
	sum     [32]byte
	present bool
}

// FilesChanged reports whether a template file the rules were read from has changed or gone
// away since, or one looked for and not found then now exists: the rules must be compiled
// again. A nil Set has none.
func (s *Set) FilesChanged() bool {
	if s == nil {
		return false
	}
	for path, was := range s.files {
		data, err := regfile.Read(path, maxTemplateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if was.present {
				return true
			}
		case err != nil || !was.present || sha256.Sum256(data) != was.sum:
			return true
		}
	}
	return false
}

type rule struct {
	flag    string
	pattern *regexp.Regexp
	path    []string
	value   string
	// upstreamOK: the rule can match an upstream's response (its flag is empty or URS).
	upstreamOK bool
	// needsBody: matching an upstream's response reads its body.
	needsBody bool

	status     int
	message    string
	hasMessage bool
	headers    []header
	body       *bodyTemplate // inline body; nil without
	json, xml  *bodyTemplate // template files; nil without
}

type header struct{ name, value string }

// bodyTemplate is a body template and how the values put in it are escaped.
type bodyTemplate struct {
	t           *template.Template
	contentType string
	escape      func(string) string
}

// Compile compiles o, reading the template files its rules name from dir; nil for no rules.
func Compile(o apidef.ErrorOverrides, dir string) (*Set, error) {
	if len(o) == 0 {
		return nil, nil
	}
	if errs := o.Validate("error_overrides"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Set{byCode: map[int][]*rule{}, files: map[string]templateFile{}}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		code, class, _ := apidef.ErrorOverrideKey(k)
		for i, r := range o[k] {
			cr, err := compileRule(r, dir, s.files)
			if err != nil {
				return nil, fmt.Errorf("error_overrides[%q][%d]: %w", k, i, err)
			}
			if class != 0 {
				s.byClass[class-4] = append(s.byClass[class-4], cr)
			} else {
				s.byCode[code] = append(s.byCode[code], cr)
			}
		}
	}
	return s, nil
}

// compileRule compiles one rule, recording in files the template files it read or looked for.
func compileRule(r apidef.ErrorOverride, dir string, files map[string]templateFile) (*rule, error) {
	cr := &rule{status: r.Response.StatusCode, message: r.Response.Message, hasMessage: r.Response.Message != "", upstreamOK: true}
	if m := r.Match; m != nil {
		cr.flag = m.Flag
		cr.upstreamOK = m.Flag == "" || m.Flag == apidef.FlagUpstreamResponse
		if m.MessagePattern != "" {
			cr.pattern = regexp.MustCompile(m.MessagePattern) // validated
			cr.needsBody = true
		}
		if m.BodyField != "" {
			cr.path, _ = apidef.BodyPath(m.BodyField)
			cr.value = m.BodyValue
			cr.needsBody = true
		}
	}
	for name, v := range r.Response.Headers {
		cr.headers = append(cr.headers, header{textproto.CanonicalMIMEHeaderKey(name), v})
	}
	slices.SortFunc(cr.headers, func(a, b header) int { return strings.Compare(a.name, b.name) })
	if b := r.Response.Body; b != "" {
		ct := "application/json"
		for _, h := range cr.headers {
			if h.name == "Content-Type" && h.value != "" {
				ct = h.value
			}
		}
		t, err := template.New("body").Option("missingkey=error").Parse(b)
		if err != nil {
			return nil, fmt.Errorf("response.body: %w", err)
		}
		if err := apidef.StraightTemplate(t.Tree, len(t.Templates()), "an error override's body"); err != nil {
			return nil, fmt.Errorf("response.body: %w", err)
		}
		cr.body = &bodyTemplate{t: t, contentType: ct, escape: escaperFor(ct)}
		if err := cr.body.try(); err != nil {
			return nil, fmt.Errorf("response.body: %w", err)
		}
		return cr, nil
	}
	if name := r.Response.Template; name != "" {
		for _, ext := range []string{".json", ".xml"} {
			// Only a regular file, read without blocking and bounded: a named pipe or a device
			// named like a template would hold the reload.
			path := filepath.Join(dir, name+ext)
			data, err := regfile.Read(path, maxTemplateFile)
			if errors.Is(err, os.ErrNotExist) {
				files[path] = templateFile{}
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("response.template: %w", err)
			}
			files[path] = templateFile{sum: sha256.Sum256(data), present: true}
			t, err := template.New(name + ext).Option("missingkey=error").Parse(string(data))
			if err != nil {
				return nil, fmt.Errorf("response.template: %s%s is not a Go template: %w", name, ext, err)
			}
			if err := apidef.StraightTemplate(t.Tree, len(t.Templates()), "an error override's template"); err != nil {
				return nil, fmt.Errorf("response.template: %s%s: %w", name, ext, err)
			}
			bt := &bodyTemplate{t: t, contentType: "application/json", escape: escaperFor("json")}
			if ext == ".xml" {
				bt = &bodyTemplate{t: t, contentType: "application/xml", escape: escaperFor("xml")}
			}
			if err := bt.try(); err != nil {
				return nil, fmt.Errorf("response.template: %s%s: %w", name, ext, err)
			}
			if ext == ".json" {
				cr.json = bt
			} else {
				cr.xml = bt
			}
		}
		if cr.json == nil && cr.xml == nil {
			return nil, fmt.Errorf("response.template: neither %s.json nor %s.xml is in template_path (%s)", name, name, dir)
		}
	}
	return cr, nil
}

// try runs the template once, so that one that cannot answer (a field it does not have, an
// answer over 64 KiB) is refused when compiled rather than failing on requests.
func (bt *bodyTemplate) try() error {
	var out capped
	return bt.t.Execute(&out, templateData(500, "message", "params", bt.escape))
}

// templateData is what a body template is given.
func templateData(status int, message, invalid string, escape func(string) string) map[string]any {
	return map[string]any{
		"StatusCode": status, "statusCode": status,
		"Message": escape(message), "InvalidParams": escape(invalid),
	}
}

// escaperFor returns how values put in a body of the content type are escaped: as the inside of
// a JSON string, as XML text, as HTML text, or not at all for other types.
func escaperFor(contentType string) func(string) string {
	ct := strings.ToLower(contentType)
	switch {
	case strings.Contains(ct, "json"):
		return func(s string) string {
			b, _ := json.Marshal(s)
			return string(b[1 : len(b)-1])
		}
	case strings.Contains(ct, "xml"), strings.Contains(ct, "html"):
		return func(s string) string {
			var b strings.Builder
			_ = xml.EscapeText(&b, []byte(s))
			return b.String()
		}
	}
	return func(s string) string { return s }
}

// Error is an error answer of the gateway's own.
type Error struct {
	Status  int
	Message string
	// Flag is Tyk's classification of the error ("" when it has none).
	Flag string
	// InvalidParams says what failed a request's validation (flag BIV).
	InvalidParams string
	// XML: the request's Content-Type asks for XML answers.
	XML bool
}

// Answer is what a matching rule answers with.
type Answer struct {
	Status  int
	Message string
	// Headers are set on the answer; an empty value removes the header.
	Headers []Header
	// Body is the whole body, of ContentType; nil: the status and message are answered as any
	// error's (the error templates).
	Body        []byte
	ContentType string
}

// Header is one header of an answer.
type Header struct{ Name, Value string }

// tykStatus is the status Tyk answers an error of a flag with, where Gatehouse answers another:
// rules written for Tyk's (a "500" rule for a refused connection, which Gatehouse answers 502)
// are tried too.
var tykStatus = map[string]int{
	"BTL": http.StatusBadRequest,
	"UCF": 500, "UCT": 500, "URR": 500, "EPI": 500, "CAB": 500, "NRS": 500, "DNS": 500, "NRH": 500, "UPE": 500,
	"TLE": 500, "TLI": 500, "TLM": 500, "TLN": 500, "TLH": 500, "TLP": 500, "TLA": 500, "TLC": 500,
}

// Gateway returns the answer of the first rule matching e, if any: the rules of e's status, then
// of the status Tyk answers e's flag with when it is another, then of the statuses' classes.
func (s *Set) Gateway(e Error) (*Answer, bool) {
	if s == nil {
		return nil, false
	}
	for _, group := range s.candidates(e.Status, tykStatus[e.Flag]) {
		for _, r := range group {
			if !r.matchesGateway(e) {
				continue
			}
			if a, ok := r.answer(e.Status, e.Message, e.InvalidParams, e.XML); ok {
				return a, true
			}
		}
	}
	return nil, false
}

// candidates returns the rules of status and of alt (0: none), in the order they are tried: the
// codes' rules, then the classes'. Four groups in an array, so that trying them allocates
// nothing on a request's path.
func (s *Set) candidates(status, alt int) [4][]*rule {
	var g [4][]*rule
	g[0], g[2] = s.byCode[status], s.class(status)
	if alt != 0 && alt != status {
		g[1] = s.byCode[alt]
		if alt/100 != status/100 {
			g[3] = s.class(alt)
		}
	}
	return g
}

func (s *Set) class(status int) []*rule {
	if c := status / 100; c == 4 || c == 5 {
		return s.byClass[c-4]
	}
	return nil
}

// matchesGateway: with a flag, the error's must be it; else the pattern, if any, must match
// the message.
func (r *rule) matchesGateway(e Error) bool {
	switch {
	case r.flag != "":
		return r.flag == e.Flag
	case r.pattern != nil:
		return r.pattern.MatchString(e.Message)
	}
	return true
}

// forUpstream reports whether r may match an upstream's response of status: without a flag, or
// with URS for a 5xx.
func (r *rule) forUpstream(status int) bool {
	return r.upstreamOK && (r.flag == "" || status >= 500)
}

// Wants reports whether a rule may rewrite an upstream response of status, and whether
// matching it needs the response body.
func (s *Set) Wants(status int) (wants, body bool) {
	if s == nil || status < 400 {
		return false, false
	}
	for _, group := range s.candidates(status, 0) {
		for _, r := range group {
			if r.forUpstream(status) {
				wants = true
				body = body || r.needsBody
			}
		}
	}
	return wants, body
}

// Upstream returns the answer of the first rule matching an upstream's error response: its
// status and the start of its body (at most MaxBodyRead bytes; nil when a rule did not need it,
// or when the body is encoded and cannot be read).
func (s *Set) Upstream(status int, body []byte, xmlRequest bool) (*Answer, bool) {
	if s == nil {
		return nil, false
	}
	for _, group := range s.candidates(status, 0) {
		for _, r := range group {
			if !r.forUpstream(status) {
				continue
			}
			if r.pattern != nil && (body == nil || !r.pattern.Match(body)) {
				continue
			}
			if r.path != nil {
				v, ok := lookup(body, r.path)
				if !ok || v != r.value {
					continue
				}
			}
			if a, ok := r.answer(status, "", "", xmlRequest); ok {
				return a, true
			}
		}
	}
	return nil, false
}

// answer is r's answer to an error of status and message. A template that fails answers
// nothing: the error is answered as it would have been.
func (r *rule) answer(status int, message, invalid string, xmlRequest bool) (*Answer, bool) {
	a := &Answer{Status: status, Message: message}
	if r.status != 0 {
		a.Status = r.status
	}
	bt := r.body
	if bt == nil {
		bt = r.json
		if xmlRequest && r.xml != nil || bt == nil {
			bt = r.xml
		}
	}
	if bt != nil {
		// A body of the rule's own: {{.Message}} is the rule's message, empty without one.
		a.Message = r.message
	} else if r.hasMessage {
		a.Message = r.message
	}
	for _, h := range r.headers {
		a.Headers = append(a.Headers, Header{Name: h.name, Value: h.value})
	}
	if bt == nil {
		return a, true
	}
	var out capped
	if err := bt.t.Execute(&out, templateData(a.Status, a.Message, invalid, bt.escape)); err != nil {
		return nil, false
	}
	a.Body, a.ContentType = out.Bytes(), bt.contentType
	return a, true
}

type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxAnswer {
		return 0, errors.New("the answer is over 64 KiB")
	}
	return c.Buffer.Write(p)
}

// lookup returns the string form of the JSON value at path in body, a JSON document or the start
// of one (a body cut at MaxBodyRead still finds what comes before the cut): a string as is, a
// number, true, false or null as written.
func lookup(body []byte, path []string) (string, bool) {
	if body == nil {
		return "", false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	return find(d, path)
}

// find reads the next value of d, following path into it.
func find(d *json.Decoder, path []string) (string, bool) {
	tok, err := d.Token()
	if err != nil {
		return "", false
	}
	if len(path) == 0 {
		switch v := tok.(type) {
		case string:
			return v, true
		case json.Number:
			return gjsonNumber(v), true
		case bool:
			return strconv.FormatBool(v), true
		case nil:
			return "", true // as gjson reads null
		}
		return "", false // an object or array is no value to compare
	}
	switch tok {
	case json.Delim('{'):
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return "", false
			}
			if k == path[0] {
				return find(d, path[1:])
			}
			if !skip(d) {
				return "", false
			}
		}
	case json.Delim('['):
		n, err := strconv.Atoi(path[0])
		if err != nil || n < 0 {
			return "", false
		}
		for i := 0; d.More(); i++ {
			if i == n {
				return find(d, path[1:])
			}
			if !skip(d) {
				return "", false
			}
		}
	}
	return "", false
}

// gjsonNumber writes a number as gjson does for comparison: an integer as written, any other in
// Go's shortest form (1.50 is 1.5, 1e3 is 1000).
func gjsonNumber(n json.Number) string {
	s := strings.TrimPrefix(string(n), "-")
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return string(n)
	}
	f, err := n.Float64()
	if err != nil {
		return string(n)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// skip reads past the next value of d.
func skip(d *json.Decoder) bool {
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return true
		}
	}
}

// ReadBody returns the start of body (at most MaxBodyRead bytes) and a body that reads the whole
// of it again.
func ReadBody(body io.ReadCloser) ([]byte, io.ReadCloser, error) {
	buf := make([]byte, MaxBodyRead)
	n, err := io.ReadFull(body, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		err = nil
	case err != nil:
		// What was read goes on with the rest.
		return nil, struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf[:n]), body), body}, err
	}
	buf = buf[:n]
	return buf, struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), body), body}, nil
}

// Write writes a full answer (a.Body set) to w, with the headers already on w (those a removes
// gone).
func Write(w http.ResponseWriter, a *Answer) {
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	SetHeaders(h, a.Headers)
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// SetHeaders applies an answer's headers to h.
func SetHeaders(h http.Header, hs []Header) {
	for _, x := range hs {
		if x.Value == "" {
			delete(h, x.Name)
		} else {
			h[x.Name] = []string{x.Value}
		}
	}
}

// maxTemplateFile bounds an error override's template file (response.template).
const maxTemplateFile = 1 << 20
