package transform

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/reqctx"
)

func blob(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func compileDef(t *testing.T, dir string, contextVars bool, req, res []apidef.TemplateMeta) (*Transforms, error) {
	t.Helper()
	def := &apidef.APIDefinition{EnableContextVars: contextVars, VersionData: apidef.VersionData{Versions: map[string]apidef.VersionInfo{
		"v1": {UseExtendedPaths: true, ExtendedPaths: apidef.ExtendedPathsSet{Transform: req, TransformResponse: res}},
	}}}
	return Compile(def, dir)
}

func meta(path, method, input, tmpl string) apidef.TemplateMeta {
	return apidef.TemplateMeta{Path: path, Method: method, TemplateData: apidef.TemplateData{Input: input, Mode: "blob", TemplateSource: blob(tmpl)}}
}

func TestRequestTransform(t *testing.T) {
	session := meta("/session", "POST", "json", `{"tier": "{{._tyk_meta.tier}}", "path": "{{._tyk_context.path}}"}`)
	session.TemplateData.EnableSession = true
	tr, err := compileDef(t, "", true, []apidef.TemplateMeta{
		meta("/json", "POST", "json", `{"total": {{.amount}}, "who": {{jsonMarshal .user}}}`),
		meta("/array", "POST", "json", `{{range .array}}[{{.}}]{{end}}`),
		meta("/xml", "POST", "xml", `{"id": "{{.order.id}}", "lang": "{{index .order "-lang"}}", "items": {{len .order.item}}}`),
		meta("/boom", "POST", "json", `{{.a.b.c}}`),
		meta("/huge", "POST", "json", `{{range .array}}{{printf "%0100000d" 0}}{{end}}`),
		meta("/missing", "POST", "json", `[{{.nothere}}]`),
		session,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, body string
		want             string
		wantStatus       int
		wantMsg          string
	}{
		{name: "json object", path: "/json", body: `{"amount": 12.5, "user": {"name": "a\"b"}}`, want: `{"total": 12.5, "who": {"name":"a\"b"}}`},
		{name: "json array under array", path: "/array", body: `[1, 2]`, want: `[1][2]`},
		{name: "empty body is an empty object", path: "/missing", body: ``, want: `[<no value>]`},
		{name: "xml", path: "/xml", body: `<?xml version="1.0"?><order lang="en"><id>7</id><item>a</item><item>b</item></order>`, want: `{"id": "7", "lang": "en", "items": 2}`},
		{name: "session and context", path: "/session", body: `{}`, want: `{"tier": "gold", "path": "/api/session"}`},
		{name: "not json", path: "/json", body: `{"amount": `, wantStatus: 400, wantMsg: MsgRequestNotJSON},
		{name: "not xml", path: "/xml", body: `<order><id>7</order>`, wantStatus: 400, wantMsg: MsgRequestNotXML},
		{name: "xml with two roots", path: "/xml", body: `<a/><b/>`, wantStatus: 400, wantMsg: MsgRequestNotXML},
		{name: "template error", path: "/boom", body: `{"a": 1}`, wantStatus: 500, wantMsg: MsgRequestFailed},
		{name: "output bounded", path: "/huge", body: `[` + strings.Repeat("1,", 200) + `1]`, wantStatus: 500, wantMsg: MsgRequestFailed},
		{name: "input bounded", path: "/json", body: `{"amount": 1, "pad": "` + strings.Repeat("x", MaxBody) + `"}`, wantStatus: 413, wantMsg: chain.MsgRequestTooLarge},
		{name: "other path untouched", path: "/other", body: `not json`, want: `not json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api"+tc.path, strings.NewReader(tc.body))
			r = reqctx.With(r, &reqctx.State{Session: &apidef.SessionState{MetaData: map[string]any{"tier": "gold"}}})
			c := &chain.Context{Version: "v1", Readings: endpoint.Readings(tc.path)}
			err := runStep(tr, r, c)
			if tc.wantStatus != 0 {
				var ce *chain.Error
				if !errors.As(err, &ce) || ce.Status != tc.wantStatus || ce.Message != tc.wantMsg {
					t.Fatalf("got %v, want %d %q", err, tc.wantStatus, tc.wantMsg)
				}
				if strings.Contains(ce.Message, "{{") || strings.Contains(ce.Message, "template:") {
					t.Errorf("the message leaks the template: %q", ce.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r.Body)
			if string(got) != tc.want {
				t.Errorf("body = %q, want %q", got, tc.want)
			}
			if tc.path != "/other" && r.ContentLength != int64(len(tc.want)) {
				t.Errorf("ContentLength = %d, want %d", r.ContentLength, len(tc.want))
			}
		})
	}
}

func runStep(tr *Transforms, r *http.Request, c *chain.Context) error {
	s, ok := tr.Step()
	if !ok {
		return errors.New("no step")
	}
	return s.Run(httptest.NewRecorder(), r, c)
}

func TestResponseTransform(t *testing.T) {
	tr, err := compileDef(t, "", false, nil, []apidef.TemplateMeta{
		meta("/r", "GET", "json", `{"n": {{.count}}}`),
		meta("/x", "GET", "xml", `{{xmlMarshal .}}`),
		meta("/bad", "GET", "json", `{{.a.b.c}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, path string
		body       []byte
		encoding   string
		status     int
		want       string
		wantStatus int
		wantMsg    string
	}{
		{name: "json", path: "/r", body: []byte(`{"count": 3}`), want: `{"n": 3}`},
		{name: "gzip decoded and sent plain", path: "/r", body: gz(`{"count": 4}`), encoding: "gzip", want: `{"n": 4}`},
		{name: "xml round trip", path: "/x", body: []byte(`<a k="1&amp;2"><b>x</b><b>y</b></a>`), want: `<a k="1&amp;2"><b>x</b><b>y</b></a>`},
		{name: "unknown encoding", path: "/r", body: []byte("?"), encoding: "br", wantStatus: 500, wantMsg: MsgResponseFailed},
		{name: "not json", path: "/r", body: []byte(`<html>`), wantStatus: 500, wantMsg: MsgResponseFailed},
		{name: "template error", path: "/bad", body: []byte(`{"a": 1}`), wantStatus: 500, wantMsg: MsgResponseFailed},
		{name: "too large", path: "/r", body: bytes.Repeat([]byte(" "), MaxBody+1), wantStatus: 500, wantMsg: MsgResponseTooLong},
		{name: "other path", path: "/o", body: []byte(`raw`), want: `raw`},
		{name: "204 left alone", path: "/r", status: 204, body: nil, want: ``},
		{name: "304 left alone", path: "/r", status: 304, body: nil, want: ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api"+tc.path, nil)
			status := tc.status
			if status == 0 {
				status = 200
			}
			res := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(tc.body)), Request: req}
			if tc.encoding != "" {
				res.Header.Set("Content-Encoding", tc.encoding)
			}
			c := &chain.Context{Version: "v1", Readings: endpoint.Readings(tc.path)}
			err := tr.Response(res, req, c)
			if tc.wantStatus != 0 {
				var re *ResponseError
				if !errors.As(err, &re) || re.Status != tc.wantStatus || re.Message != tc.wantMsg {
					t.Fatalf("got %v, want %d %q", err, tc.wantStatus, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			if string(got) != tc.want || res.Header.Get("Content-Encoding") != "" {
				t.Errorf("body = %q (Content-Encoding %q), want %q", got, res.Header.Get("Content-Encoding"), tc.want)
			}
		})
	}
}

func TestTemplateFiles(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "ok.tmpl"), []byte(`{"v": "{{.v}}"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.tmpl"), []byte(`secret`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.tmpl"), filepath.Join(dir, "templates", "link.tmpl")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.tmpl"), bytes.Repeat([]byte("x"), MaxTemplate+1), 0o644); err != nil {
		t.Fatal(err)
	}
	// A named pipe no one writes to: opening it used to wait for a writer, holding the reload.
	if err := syscall.Mkfifo(filepath.Join(dir, "templates", "pipe.tmpl"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := func(name string) []apidef.TemplateMeta {
		return []apidef.TemplateMeta{{Path: "/f", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: name}}}
	}
	if _, err := compileDef(t, dir, false, file("templates/ok.tmpl"), nil); err != nil {
		t.Errorf("a template inside app_path: %v", err)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"dot dot", "../secret.tmpl", "must be a clean relative path"},
		{"absolute", filepath.Join(outside, "secret.tmpl"), "must be a clean relative path"},
		{"symbolic link out", "templates/link.tmpl", "cannot be opened inside app_path"},
		{"missing", "templates/none.tmpl", "cannot be opened inside app_path"},
		{"too large", "big.tmpl", "larger than"},
		{"named pipe", "templates/pipe.tmpl", `template_source "templates/pipe.tmpl": not a regular file but a named pipe (FIFO)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := compileDef(t, dir, false, file(tc.src), nil)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Compile did not return within 10s")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "extended_paths.transform[0].template_data") {
				t.Errorf("Compile = %v, want an error containing %q naming the entry", err, tc.want)
			}
		})
	}
	_, err := compileDef(t, dir, false, []apidef.TemplateMeta{meta("/p", "POST", "json", `{{.a`)}, nil)
	if err == nil || !strings.Contains(err.Error(), "the template does not parse") {
		t.Errorf("Compile of a broken template = %v", err)
	}
	_, err = compileDef(t, dir, false, []apidef.TemplateMeta{meta("/p", "POST", "json", `{{readFile "x"}}`)}, nil)
	if err == nil || !strings.Contains(err.Error(), `function "readFile" not defined`) {
		t.Errorf("Compile of a template with an unknown function = %v", err)
	}
}

func TestDecodeXMLDepth(t *testing.T) {
	deep := strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1)
	if _, err := decodeXML([]byte(deep)); err == nil {
		t.Error("decodeXML accepted elements nested past the bound")
	}
	got, err := decodeXML([]byte(`<r><e/><t x="1">v</t></r>`))
	if err != nil {
		t.Fatal(err)
	}
	r := got["r"].(map[string]any)
	if r["e"] != "" || r["t"].(map[string]any)["#text"] != "v" || r["t"].(map[string]any)["-x"] != "1" {
		t.Errorf("decodeXML = %v", got)
	}
}
