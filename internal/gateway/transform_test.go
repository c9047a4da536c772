package gateway_test

import (
	"compress/gzip"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// Body transforms through the gateway with a real upstream: the request body the upstream
// receives, the response body the client receives, and the failure answers.
func TestBodyTransforms(t *testing.T) {
	var mu sync.Mutex
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		switch r.URL.Path {
		case "/orders":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id": 7, "secret": "s3"}`)
		case "/zipped":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = io.WriteString(zw, `{"id": 8}`)
			_ = zw.Close()
		case "/html":
			_, _ = io.WriteString(w, `<html>oops</html>`)
		default:
			_, _ = io.WriteString(w, "plain")
		}
	}))
	t.Cleanup(up.Close)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tmpl := func(path, method, input, src string) apidef.TemplateMeta {
		return apidef.TemplateMeta{Path: path, Method: method, TemplateData: apidef.TemplateData{Input: input, Mode: "blob", TemplateSource: b64(src)}}
	}
	fromFile := apidef.TemplateMeta{Path: "/file", Method: "POST", TemplateData: apidef.TemplateData{Input: "xml", Mode: "file", TemplateSource: "templates/order.tmpl"}}
	def := withExtended(gt.API("bodies", "/bodies/", up.URL), apidef.ExtendedPathsSet{
		Transform: []apidef.TemplateMeta{
			tmpl("/orders", "POST", "json", `{"order": {"amount": {{.amount}}, "via": "{{._tyk_context.headers_X_Client}}"}}`),
			fromFile,
		},
		TransformResponse: []apidef.TemplateMeta{
			tmpl("/orders", "POST", "json", `{"order_id": {{.id}}}`),
			tmpl("/zipped", "GET", "json", `{"n": {{.id}}}`),
			tmpl("/html", "GET", "json", `{{.a.b}}`),
		},
	})
	def.EnableContextVars = true
	escape := withExtended(gt.API("bodies-escape", "/bodies-escape/", up.URL), apidef.ExtendedPathsSet{
		Transform: []apidef.TemplateMeta{{Path: "/x", Method: "POST", TemplateData: apidef.TemplateData{Input: "json", Mode: "file", TemplateSource: "../../etc/passwd"}}},
	})
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, escape}, Config: func(c *config.Config) {
		dir := filepath.Join(c.AppPath, "templates")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "order.tmpl"), []byte(`{"id": "{{.order.id}}"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}})
	g.Run(t,
		gt.Case{Name: "request and response transformed", Method: "POST", Path: "/bodies/orders", Body: `{"amount": 3}`,
			Headers: map[string]string{"X-Client": "web", "Content-Type": "application/json"}, Code: 200, BodyEquals: `{"order_id": 7}`},
		gt.Case{Name: "xml request with a file template", Method: "POST", Path: "/bodies/file", Body: `<order><id>42</id></order>`, Code: 200, BodyEquals: "plain"},
		gt.Case{Name: "gzip response decoded", Path: "/bodies/zipped", Headers: map[string]string{"Accept-Encoding": "gzip"}, Code: 200, BodyEquals: `{"n": 8}`,
			HeadersNotPresent: []string{"Content-Encoding"}},
		gt.Case{Name: "request body not JSON", Method: "POST", Path: "/bodies/orders", Body: `{"amount":`, Code: 400,
			BodyMatch: "Request body is not valid JSON for the transform"},
		gt.Case{Name: "response template fails: 500, nothing of the upstream's body", Path: "/bodies/html", Code: 500,
			BodyMatch: "Response body transform failed", BodyNotMatch: "oops|template"},
		gt.Case{Name: "template path outside app_path refuses the definition", Method: "POST", Path: "/bodies-escape/x", Code: 404},
	)
	mu.Lock()
	defer mu.Unlock()
	want := []string{`{"order": {"amount": 3, "via": "web"}}`, `{"id": "42"}`, "", ""}
	if len(got) != len(want) {
		t.Fatalf("upstream saw %d requests (%q), want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("upstream request %d body = %q, want %q", i, got[i], want[i])
		}
	}
	if !contains(g.Logs(), "must be a clean relative path inside the template folder") {
		t.Error("the log lacks why the escaping template was refused")
	}
}

// A Tyk OAS operation's transformRequestBody is served through its Classic mapping: the
// upstream receives the template's output.
func TestOASBodyTransform(t *testing.T) {
	up := gt.NewUpstream(t)
	tmpl := base64.StdEncoding.EncodeToString([]byte(`{"item": {{jsonMarshal .name}}}`))
	doc := `{"openapi": "3.0.3", "info": {"title": "Shop", "version": "1"},
	  "paths": {"/items": {"post": {"operationId": "addItem"}}},
	  "x-tyk-api-gateway": {
	    "info": {"id": "shop-body", "name": "Shop", "state": {"active": true}},
	    "upstream": {"url": "` + up.URL + `"},
	    "server": {"listenPath": {"value": "/shop/", "strip": true}},
	    "middleware": {"operations": {"addItem": {
	      "transformRequestBody": {"enabled": true, "format": "json", "body": "` + tmpl + `"}}}}}}`
	g := gt.Start(t, gt.Options{})
	g.WriteFile("shop-body.json", []byte(doc))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "transformed", Method: "POST", Path: "/shop/items", Body: `{"name": "lamp", "price": 3}`, Code: 200},
		gt.Case{Name: "not JSON", Method: "POST", Path: "/shop/items", Body: `lamp`, Code: 400, BodyMatch: "not valid JSON"},
	)
	if seen, _ := up.Last(); seen.Body != `{"item": "lamp"}` {
		t.Errorf("upstream saw body %q, want the template's output", seen.Body)
	}
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream saw %d requests, want 1", n)
	}
}

// A method transform changes only the method sent upstream: the response transforms (body and
// headers) match their entries with the client's method, as Tyk's do (ctxGetRequestMethod), so
// entries under GET /legacy apply to a GET forwarded as POST, and entries under POST /legacy do
// not (they still apply to a client's own POST).
func TestMethodTransformKeepsResponseTransforms(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Method", r.Method)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"upstream"}`)
	}))
	t.Cleanup(up.Close)
	tmpl := base64.StdEncoding.EncodeToString([]byte(`{"renamed":"{{.name}}"}`))
	responseUnder := func(id, method string) *apidef.APIDefinition {
		return withExtended(gt.API(id, "/"+id+"/", up.URL), apidef.ExtendedPathsSet{
			MethodTransforms:        []apidef.MethodTransformMeta{{Path: "/legacy", Method: "GET", ToMethod: "POST"}},
			TransformResponseHeader: []apidef.HeaderInjectionMeta{{Path: "/legacy", Method: method, AddHeaders: map[string]string{"X-Resp": "yes"}}},
			TransformResponse: []apidef.TemplateMeta{{Path: "/legacy", Method: method, TemplateData: apidef.TemplateData{
				Input: "json", Mode: "blob", TemplateSource: tmpl}}},
		})
	}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{responseUnder("mt-get", "GET"), responseUnder("mt-post", "POST")}})
	const transformed, untouched = `{"renamed":"upstream"}`, `{"name":"upstream"}`
	for _, c := range []struct {
		name, method, path   string
		upstream, resp, body string
	}{
		{"GET forwarded as POST, entries under GET", "GET", "/mt-get/legacy", "POST", "yes", transformed},
		{"GET forwarded as POST, entries under POST", "GET", "/mt-post/legacy", "POST", "", untouched},
		{"client's POST, entries under POST", "POST", "/mt-post/legacy", "POST", "yes", transformed},
	} {
		r := g.Do(gt.Case{Name: c.name, Method: c.method, Path: c.path})
		if got := r.Header.Get("X-Upstream-Method"); got != c.upstream {
			t.Errorf("%s: upstream saw %q, want %q", c.name, got, c.upstream)
		}
		if got := r.Header.Get("X-Resp"); got != c.resp {
			t.Errorf("%s: transform_response_headers gave X-Resp = %q, want %q", c.name, got, c.resp)
		}
		if r.Body != c.body {
			t.Errorf("%s: transform_response gave body %s, want %s", c.name, r.Body, c.body)
		}
	}
}
