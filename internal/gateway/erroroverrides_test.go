package gateway_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// errorUpstream answers by path: an error of its own, as upstreams send them.
func errorUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "1")
		switch r.URL.Path {
		case "/stock", "/stock-identity":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Etag", `"v1"`)
			w.Header().Set("Last-Modified", "Sun, 06 Dec 2026 10:00:00 GMT")
			w.Header().Set("Content-Disposition", "attachment; filename=err.html")
			if r.URL.Path == "/stock-identity" {
				w.Header().Set("Content-Encoding", "identity")
			}
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error": {"code": "OUT_OF_STOCK", "detail": "db-7 says no stock"}}`))
		case "/stock-encoded":
			// Said to be compressed: no pattern or field is looked for in it.
			w.Header().Set("Content-Encoding", "br")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error": {"code": "OUT_OF_STOCK"}}`))
		case "/boom":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("stack trace: internal host db-7.internal"))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error": {"code": "RESOURCE_NOT_FOUND"}}`))
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(`short and stout`))
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestErrorOverrides: tyk.conf's error_overrides and an API's own rewrite the gateway's errors
// (by flag) and the upstream's (URS, a JSON field of the body), the API's first; a rule with a
// body answers it whole (its Go template given the status and the rule's message, JSON-escaped),
// one without changes status, message and headers and leaves the body to the error templates;
// error_overrides_disabled leaves the API's aside; what no rule matches is answered as before.
func TestErrorOverrides(t *testing.T) {
	up := errorUpstream(t)
	templates := t.TempDir()
	if err := os.WriteFile(filepath.Join(templates, "problem.json"), []byte(`{"type": "about:blank", "status": {{.StatusCode}}, "detail": "{{.Message}}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	gateway := apidef.ErrorOverrides{
		"403": {{Match: &apidef.ErrorMatch{Flag: "AKI"}, Response: apidef.ErrorResponse{StatusCode: 401,
			Headers: map[string]string{"WWW-Authenticate": "Bearer"}, Body: `{"error": "authentication_required", "status": {{.StatusCode}}}`}}},
		"5xx": {
			{Match: &apidef.ErrorMatch{Flag: "URS", BodyField: "error.code", BodyValue: "OUT_OF_STOCK"},
				Response: apidef.ErrorResponse{StatusCode: 409, Template: "problem", Message: `Sold "out"`}},
			{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 503, Body: `{"error": "upstream_unavailable"}`}},
			{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 503, Message: "Try again later", Headers: map[string]string{"Retry-After": "30"}}},
		},
		"429": {{Match: &apidef.ErrorMatch{Flag: "RLT"}, Response: apidef.ErrorResponse{Headers: map[string]string{"Retry-After": "60"}}}},
	}
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up))
	own := gt.Keyed(gt.API("own", "/own/", up))
	own.ErrorOverrides = apidef.ErrorOverrides{
		"403": {{Match: &apidef.ErrorMatch{Flag: "AKI"}, Response: apidef.ErrorResponse{StatusCode: 418, Body: `{"error": "api_level"}`}}},
		"404": {{Response: apidef.ErrorResponse{StatusCode: 410, Body: `{"error": "gone"}`}}},
	}
	off := gt.Keyed(gt.API("off", "/off/", up))
	off.ErrorOverrides, off.ErrorOverridesDisabled = own.ErrorOverrides, true
	limited := gt.API("limited", "/limited/", up)
	limited.GlobalRateLimit = apidef.GlobalRateLimit{Rate: 1, Per: 60}
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	down := gt.API("down", "/down/", dead)

	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keyed, own, off, limited, down}, Config: func(c *config.Config) {
		c.ErrorOverrides, c.TemplatePath = gateway, templates
	}})
	g.Run(t,
		gt.Case{Name: "tyk.conf: AKI answered 401 whole", Path: "/keyed/x", Headers: map[string]string{"Authorization": "nope"},
			Code: 401, BodyEquals: `{"error": "authentication_required", "status": 401}`, HeadersMatch: map[string]string{"Www-Authenticate": "Bearer", "Content-Type": "application/json"}},
		gt.Case{Name: "no flag of a rule: as before", Path: "/keyed/x", Code: 401, BodyMatch: "Authorization field missing"},
		gt.Case{Name: "the API's rule first", Path: "/own/x", Headers: map[string]string{"Authorization": "nope"}, Code: 418, BodyEquals: `{"error": "api_level"}`},
		gt.Case{Name: "error_overrides_disabled: tyk.conf's", Path: "/off/x", Headers: map[string]string{"Authorization": "nope"}, Code: 401, BodyMatch: "authentication_required"},
		gt.Case{Name: "upstream 5xx by a field of its body, a template file", Path: "/limited/stock",
			Code: 409, BodyEquals: `{"type": "about:blank", "status": 409, "detail": "Sold \"out\""}`, HeadersMatch: map[string]string{"X-Upstream": "1", "X-Content-Type-Options": "nosniff"},
			HeadersNotPresent: []string{"Etag", "Last-Modified", "Content-Disposition"}},
		gt.Case{Name: "rate limited: a header added to the gateway's answer", Path: "/limited/x", Code: 429, BodyMatch: "API Rate Limit Exceeded", HeadersMatch: map[string]string{"Retry-After": "60"}},
		gt.Case{Name: "refused connection (UCF): status, message and header", Path: "/down/x", Code: 503, BodyMatch: "Try again later", HeadersMatch: map[string]string{"Retry-After": "30"}},
	)
	g2 := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up), func() *apidef.APIDefinition {
		a := gt.API("gone", "/gone/", up)
		a.ErrorOverrides = own.ErrorOverrides
		return a
	}()}, Config: func(c *config.Config) { c.ErrorOverrides, c.TemplatePath = gateway, templates }})
	g2.Run(t,
		gt.Case{Name: "upstream 5xx (URS): its internals hidden", Path: "/open/boom", Code: 503, BodyEquals: `{"error": "upstream_unavailable"}`},
		gt.Case{Name: "identity encoding is read", Path: "/open/stock-identity", Code: 409, BodyMatch: "Sold"},
		gt.Case{Name: "an encoded body is not read: the URS rule without criteria", Path: "/open/stock-encoded", Code: 503, BodyEquals: `{"error": "upstream_unavailable"}`},
		gt.Case{Name: "upstream 4xx without a rule: as sent", Path: "/open/teapot", Code: http.StatusTeapot, BodyEquals: "short and stout"},
		gt.Case{Name: "upstream 404 by the API's rule", Path: "/gone/missing", Code: 410, BodyEquals: `{"error": "gone"}`},
		gt.Case{Name: "success untouched", Path: "/gone/fine", Code: 200, BodyEquals: "ok"},
	)
}

// TestErrorOverridesTykRules: rules written as Tyk's own tests write them fire here too: a "500"
// rule for a refused connection (Gatehouse answers it 502) and a "400" rule for a body over a
// size limit (413 here); a URS rule with a message and no body hides the upstream's body behind
// the error templates; a key without access to the API is AKI, a schema failure BIV with its
// detail; an API's rule wins over tyk.conf's on an upstream response too; the circuit breaker
// counts the upstream's 5xx though a rule answers it 409; an event stream is not held back to
// be read.
func TestErrorOverridesTykRules(t *testing.T) {
	up := errorUpstream(t)
	release := make(chan struct{})
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("data: first\n\n"))
		w.(http.Flusher).Flush()
		select { // until the client has the answer's head: a gateway waiting for 4 KiB never gives it
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer stream.Close()
	gateway := apidef.ErrorOverrides{
		"500": {{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 502, Body: `{"error": "upstream_connection_failed"}`}}},
		"400": {{Match: &apidef.ErrorMatch{Flag: "BTL"}, Response: apidef.ErrorResponse{StatusCode: 413, Body: `{"error": "payload_too_large"}`}}},
		"403": {{Match: &apidef.ErrorMatch{Flag: "AKI"}, Response: apidef.ErrorResponse{Body: `{"error": "invalid_api_key"}`}}},
		"422": {{Match: &apidef.ErrorMatch{Flag: "BIV"}, Response: apidef.ErrorResponse{Body: `{"error": "invalid", "params": "{{.InvalidParams}}"}`}}},
		"5xx": {
			{Match: &apidef.ErrorMatch{Flag: "URS", MessagePattern: "first"}, Response: apidef.ErrorResponse{StatusCode: 500, Body: `{"error": "read the stream"}`}},
			{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 503, Message: "Upstream service error occurred"}},
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	sized := gt.API("sized", "/sized/", up)
	v := sized.VersionData.Versions["Default"]
	v.GlobalSizeLimit = 10
	v.ExtendedPaths.ValidateJSON = []apidef.ValidatePathMeta{{Path: "/people", Method: "POST", Schema: []byte(`{"type": "object", "required": ["name"]}`)}}
	sized.VersionData.Versions["Default"] = v
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up))
	own := gt.API("own", "/own/", up)
	own.ErrorOverrides = apidef.ErrorOverrides{"502": {{Response: apidef.ErrorResponse{StatusCode: 409, Body: `{"error": "the API's"}`}}}}
	broken := gt.API("broken", "/broken/", up)
	bv := broken.VersionData.Versions["Default"]
	bv.ExtendedPaths.CircuitBreaker = []apidef.CircuitBreakerMeta{{Path: "/boom", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 60}}
	broken.VersionData.Versions["Default"] = bv
	broken.ErrorOverrides = own.ErrorOverrides
	// The same for the gateway's own 502 (a refused connection) rewritten by a rule.
	deadBroken := gt.API("deadbroken", "/deadbroken/", dead)
	dv := deadBroken.VersionData.Versions["Default"]
	dv.ExtendedPaths.CircuitBreaker = []apidef.CircuitBreakerMeta{{Path: "/x", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 60}}
	deadBroken.VersionData.Versions["Default"] = dv
	deadBroken.ErrorOverrides = apidef.ErrorOverrides{"5xx": {{Match: &apidef.ErrorMatch{Flag: "UCF"}, Response: apidef.ErrorResponse{StatusCode: 409, Body: `{}`}}}}
	// 204 for an upstream's error: the body it had goes.
	empty := gt.API("empty", "/empty/", up)
	empty.ErrorOverrides = apidef.ErrorOverrides{"5xx": {{Match: &apidef.ErrorMatch{Flag: "URS"}, Response: apidef.ErrorResponse{StatusCode: 204, Message: "m"}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("dead", "/dead/", dead), sized, keyed, own, broken, gt.API("open", "/open/", up), gt.API("stream", "/stream/", stream.URL), deadBroken, empty},
		Config: func(c *config.Config) { c.ErrorOverrides = gateway }})
	other := g.CreateKey(&apidef.SessionState{OrgID: "default", Rate: 100, Per: 60, AccessRights: map[string]apidef.AccessDefinition{"own": {APIID: "own", Versions: []string{"Default"}}}})
	g.Run(t,
		gt.Case{Name: `UCF under Tyk's "500"`, Path: "/dead/x", Code: 502, BodyEquals: `{"error": "upstream_connection_failed"}`},
		gt.Case{Name: `BTL under Tyk's "400"`, Method: "POST", Path: "/sized/x", Body: "far more than ten bytes", Code: 413, BodyEquals: `{"error": "payload_too_large"}`},
		gt.Case{Name: "no access to the API: AKI", Path: "/keyed/x", Headers: map[string]string{"Authorization": other}, Code: 403, BodyEquals: `{"error": "invalid_api_key"}`},
		gt.Case{Name: "a schema failure: BIV with its detail", Method: "POST", Path: "/sized/people", Body: `{}`, Code: 422,
			BodyEquals: `{"error": "invalid", "params": "(root): name is required"}`},
		gt.Case{Name: "URS with a message: the upstream's body hidden", Path: "/open/boom", Code: 503,
			BodyEquals: "{\n    \"error\": \"Upstream service error occurred\"\n}", BodyNotMatch: "db-7"},
		gt.Case{Name: "URS with a message, for an XML client", Path: "/open/boom", Headers: map[string]string{"Content-Type": "application/xml"}, Code: 503,
			BodyMatch: "<error>Upstream service error occurred</error>", HeadersMatch: map[string]string{"Content-Type": "application/xml"}},
		gt.Case{Name: "204 for an upstream's error", Path: "/empty/boom", Code: 204, BodyEmpty: true},
		gt.Case{Name: "the API's rule before tyk.conf's, upstream too", Path: "/own/boom", Code: 409, BodyEquals: `{"error": "the API's"}`},
	)
	// The breaker counts the upstream's 502s, not the 409 the client gets: the third request
	// finds it open.
	g.Run(t,
		gt.Case{Name: "breaker: first 502", Path: "/broken/boom", Code: 409},
		gt.Case{Name: "breaker: second 502", Path: "/broken/boom", Code: 409},
		gt.Case{Name: "breaker: open", Path: "/broken/boom", Code: 503, BodyMatch: "Service temporarily unavailable"},
		gt.Case{Name: "breaker, gateway's 502: first", Path: "/deadbroken/x", Code: 409},
		gt.Case{Name: "breaker, gateway's 502: second", Path: "/deadbroken/x", Code: 409},
		gt.Case{Name: "breaker, gateway's 502: open", Path: "/deadbroken/x", Code: 503, BodyMatch: "Service temporarily unavailable"},
	)

	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(g.URL + "/stream/events")
	close(release)
	if err != nil {
		t.Fatalf("an event stream's error was held back: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// Its body was not read for the pattern: the rule without one answers.
	if res.StatusCode != 503 || !strings.Contains(string(body), "Upstream service error occurred") {
		t.Errorf("an event stream's error: %d %q, want the URS rule without a pattern", res.StatusCode, body)
	}
}

// TestErrorOverrideTemplateEdited: an API's error override naming a template file answers with
// the file as it is after an edit and a reload, though the definition did not change (the API
// is compiled again rather than reused).
func TestErrorOverrideTemplateEdited(t *testing.T) {
	up := gt.NewUpstream(t)
	templates := t.TempDir()
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(templates, "apiproblem.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"v": 1, "detail": "{{.Message}}"}`)
	api := gt.Keyed(gt.API("tmpl", "/tmpl/", up.URL))
	api.ErrorOverrides = apidef.ErrorOverrides{"401": {{Response: apidef.ErrorResponse{Template: "apiproblem"}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: func(c *config.Config) { c.TemplatePath = templates }})
	g.Run(t, gt.Case{Name: "the template as first written", Path: "/tmpl/x", Code: 401, BodyMatch: `"v": 1`})
	write(`{"v": 2, "detail": "{{.Message}}"}`)
	g.Reload()
	g.Run(t, gt.Case{Name: "the template as edited, after a reload", Path: "/tmpl/x", Code: 401, BodyMatch: `"v": 2`})
}
