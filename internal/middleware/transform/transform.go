// Package transform applies an API's body transforms as Tyk does: `extended_paths.transform`
// rewrites a request body and `transform_response` an upstream response body through a Go
// text/template. The body is decoded (`input_type` json or xml) into the template's data, with
// `_tyk_context` (context variables, with enable_context_vars) and `_tyk_meta` (the key's
// meta_data, with enable_session) beside it. Templates are parsed once, when the API loads;
// bodies read and bodies written are bounded.
package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"text/template"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/headers"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/regfile"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Bounds: the largest body a transform reads, the largest it writes and the largest template
// file it loads.
const (
	MaxBody     = 10 << 20
	MaxOutput   = 10 << 20
	MaxTemplate = 1 << 20
)

// Messages of the answers a transform gives; the cause is logged, never sent.
const (
	MsgRequestNotJSON  = "Request body is not valid JSON for the transform"
	MsgRequestNotXML   = "Request body is not valid XML for the transform"
	MsgRequestFailed   = "Request body transform failed"
	MsgResponseFailed  = "Response body transform failed"
	MsgResponseTooLong = "Response Body Too Large"
)

// Transforms are the compiled body transforms of every version of an API.
type Transforms struct {
	request, response endpoint.Table[*entry]
	contextVars       bool
	// files are the template files read (template_mode "file"), by name, with the SHA-256 of
	// the content compiled; dir is where they were read from.
	files map[string][sha256.Size]byte
	dir   string
}

type entry struct {
	tmpl    *template.Template
	xml     bool
	session bool
}

// funcs are the functions Tyk gives templates.
var funcs = template.FuncMap{
	"jsonMarshal": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"xmlMarshal": xmlMarshal,
}

// Compile returns the body transforms of the definition, or nil when it has none. A template
// in a file (template_mode "file") is read from dir, the gateway's app_path, and may not leave
// it (no absolute path, no "..", no symbolic link out). A template that cannot be read or
// parsed refuses the definition, the entry named.
func Compile(def *apidef.APIDefinition, dir string) (*Transforms, error) {
	t := &Transforms{contextVars: def.EnableContextVars}
	for name, v := range def.VersionData.Versions {
		if !v.UseExtendedPaths {
			continue
		}
		for _, l := range []struct {
			list    string
			table   *endpoint.Table[*entry]
			entries []apidef.TemplateMeta
		}{
			{"transform", &t.request, v.ExtendedPaths.Transform},
			{"transform_response", &t.response, v.ExtendedPaths.TransformResponse},
		} {
			for i, e := range l.entries {
				if e.Disabled {
					continue
				}
				where := fmt.Sprintf("version %q: extended_paths.%s[%d]", name, l.list, i)
				en, err := t.compileEntry(e.TemplateData, dir)
				if err != nil {
					return nil, fmt.Errorf("%s.template_data: %w", where, err)
				}
				if err := l.table.Add(name, where, e.Path, e.Method, v.IgnoreEndpointCase || e.IgnoreCase, en); err != nil {
					return nil, err
				}
			}
		}
	}
	if t.request.Empty() && t.response.Empty() {
		return nil, nil
	}
	return t, nil
}

func (t *Transforms) compileEntry(d apidef.TemplateData, dir string) (*entry, error) {
	en := &entry{session: d.EnableSession}
	switch d.Input {
	case apidef.InputJSON:
	case apidef.InputXML:
		en.xml = true
	default:
		return nil, fmt.Errorf("input_type %q is not %q or %q", d.Input, apidef.InputJSON, apidef.InputXML)
	}
	var src []byte
	switch d.Mode {
	case apidef.TemplateModeBlob:
		var err error
		if src, err = base64.StdEncoding.DecodeString(d.TemplateSource); err != nil {
			return nil, fmt.Errorf("template_source is not base64: %w", err)
		}
	case apidef.TemplateModeFile:
		var err error
		if src, err = readTemplate(dir, d.TemplateSource); err != nil {
			return nil, err
		}
		if t.files == nil {
			t.files, t.dir = map[string][sha256.Size]byte{}, dir
		}
		t.files[d.TemplateSource] = sha256.Sum256(src)
	default:
		return nil, fmt.Errorf("template_mode %q is not %q or %q", d.Mode, apidef.TemplateModeBlob, apidef.TemplateModeFile)
	}
	tmpl, err := template.New("transform").Funcs(funcs).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("the template does not parse: %w", err)
	}
	en.tmpl = tmpl.Option("missingkey=default")
	return en, nil
}

// readTemplate reads a template file inside dir.
func readTemplate(dir, name string) ([]byte, error) {
	if err := apidef.CheckTemplateFile(name); err != nil {
		return nil, fmt.Errorf("template_source: %w", err)
	}
	if dir == "" {
		return nil, errors.New("template_source: template files are read from app_path, which is not set")
	}
	// Not a regular file (a named pipe, whose read would block the reload, a device) or too
	// large: refused without reading it.
	src, err := regfile.ReadInRoot(dir, name, MaxTemplate)
	var pe *fs.PathError
	switch {
	case errors.Is(err, regfile.ErrTooLarge):
		return nil, fmt.Errorf("template_source %q: larger than %d bytes", name, MaxTemplate)
	case errors.Is(err, regfile.ErrNotRegular):
		return nil, fmt.Errorf("template_source %q: %w", name, errors.Unwrap(err))
	case errors.As(err, &pe) && pe.Op == "read":
		return nil, fmt.Errorf("template_source %q: %w", name, err)
	case err != nil:
		return nil, fmt.Errorf("template_source %q: cannot be opened inside app_path: %w", name, errors.Unwrap(err))
	}
	return src, nil
}

// FilesChanged reports whether compiling the definition again could give other templates though
// the definition did not change: a template file read (template_mode "file") now holds other
// content than was compiled, or cannot be read. It reads each such file again (a reload calls
// it to reuse the compiled transforms); false when no template came from a file.
func (t *Transforms) FilesChanged() bool {
	if t == nil {
		return false
	}
	for name, sum := range t.files {
		src, err := readTemplate(t.dir, name)
		if err != nil || sha256.Sum256(src) != sum {
			return true
		}
	}
	return false
}

// HasResponse reports whether upstream responses are transformed.
func (t *Transforms) HasResponse() bool { return t != nil && !t.response.Empty() }

// Step returns the request step (Tyk's body transform, after validate_json and before the
// request header transforms), or ok false when no request is transformed.
func (t *Transforms) Step() (chain.Step, bool) {
	if t == nil || t.request.Empty() {
		return chain.Step{}, false
	}
	return chain.Step{Name: "transform_body", Run: t.runRequest}, true
}

func (t *Transforms) runRequest(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
	en, ok := t.request.Lookup(c.Version, r.Method, c.Readings)
	if !ok {
		return nil
	}
	body, full, err := proxy.ReadBody(r, MaxBody)
	if err != nil {
		return proxy.ReadBodyError(c, err)
	}
	if !full {
		return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, fmt.Errorf("body transform: the body is over %d bytes", MaxBody))
	}
	data, err := decode(body, en.xml)
	if err != nil {
		msg := MsgRequestNotJSON
		if en.xml {
			msg = MsgRequestNotXML
		}
		return chain.Errorf(http.StatusBadRequest, msg, err)
	}
	out, err := t.execute(en, data, r, c)
	if err != nil {
		return chain.Errorf(http.StatusInternalServerError, MsgRequestFailed, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(out))
	r.ContentLength = int64(len(out))
	r.TransferEncoding = nil
	r.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// decode reads a body into a template's data as Tyk does: a JSON object is the data itself, a
// JSON array is under "array", an empty body is an empty object; XML is mapped as mxj maps it
// (see decodeXML).
func decode(body []byte, isXML bool) (map[string]any, error) {
	if isXML {
		if len(bytes.TrimSpace(body)) == 0 {
			return map[string]any{}, nil
		}
		return decodeXML(body)
	}
	data := map[string]any{}
	if len(bytes.TrimSpace(body)) == 0 {
		return data, nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case []any:
		data["array"] = x
	}
	return data, nil
}

// execute runs the template on data, with the request's context variables and session meta
// data when the API and the entry ask for them, bounding what it writes.
func (t *Transforms) execute(en *entry, data map[string]any, r *http.Request, c *chain.Context) ([]byte, error) {
	if t.contextVars {
		data["_tyk_context"] = ContextData(r, c)
	}
	if en.session {
		if st := reqctx.From(r); st != nil && st.Session != nil {
			data["_tyk_meta"] = st.Session.MetaData
		}
	}
	var out limitedBuffer
	if err := en.tmpl.Execute(&out, data); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// errOutputTooLarge stops a template that writes more than MaxOutput.
var errOutputTooLarge = fmt.Errorf("the template wrote more than %d bytes", MaxOutput)

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxOutput {
		return 0, errOutputTooLarge
	}
	return b.Buffer.Write(p)
}

// ContextData is Tyk's context data map: the request's context variables, as body transform
// templates (._tyk_context) and plugins (ctx.ContextData) read them.
func ContextData(r *http.Request, c *chain.Context) map[string]any {
	m := map[string]any{
		"path":       r.URL.Path,
		"path_parts": strings.Split(r.URL.Path, "/"),
	}
	for _, n := range []string{"remote_addr", "request_id", "token"} {
		v, _ := headers.ContextValue(n, r, c)
		m[n] = v
	}
	if c.TraceID != "" {
		m["tyk_trace_id"] = c.TraceID
	}
	// A JWT's header parameters and claims as they are (numbers as float64), as in Tyk.
	for k, v := range c.JWTClaims() {
		m[headers.JWTClaimsPrefix+k] = v
	}
	hdr := map[string][]string{}
	for k, v := range r.Header {
		hdr[k] = v
		if len(v) > 0 {
			m["headers_"+strings.ReplaceAll(k, "-", "_")] = v[0]
		}
	}
	m["headers"] = hdr
	m["headers_Host"] = r.Host
	q := r.URL.Query()
	m["request_data"] = map[string][]string(q)
	for k, v := range q {
		if len(v) > 0 {
			m["request_data_"+strings.ReplaceAll(k, "-", "_")] = v[0]
		}
	}
	for _, ck := range r.Cookies() {
		m["cookies_"+strings.ReplaceAll(ck.Name, "-", "_")] = ck.Value
	}
	return m
}
