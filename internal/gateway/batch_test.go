package gateway_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestBatchRequests: Tyk's batch requests (enable_batch_request_support). Each request of a
// batch is served as if sent alone (its own key, the API's limits and upstream), the answers in
// the batch's order; one whose path leaves the API is answered 400; malformed, oversized and
// overlong batches are refused; an API without the feature proxies /tyk/batch.
func TestBatchRequests(t *testing.T) {
	up := gt.NewUpstream(t)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 3<<20)))
	}))
	defer big.Close()
	batched := gt.Keyed(gt.API("batched", "/batched/", up.URL))
	batched.EnableBatchRequestSupport = true
	other := gt.API("other", "/other/", up.URL)
	plain := gt.API("plain", "/plain/", up.URL)
	huge := gt.API("huge", "/huge/", big.URL)
	huge.EnableBatchRequestSupport = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{batched, other, plain, huge}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"batched": {APIID: "batched"}}})

	batch := func(path, body string) (int, []map[string]any, string) {
		t.Helper()
		r := g.Do(gt.Case{Method: "POST", Path: path, Body: body})
		var out []map[string]any
		_ = json.Unmarshal([]byte(r.Body), &out)
		return r.Code, out, r.Body
	}
	code, out, raw := batch("/batched/tyk/batch", `{"requests": [
		{"method": "GET", "relative_url": "a/b?x=1", "headers": {"Authorization": "`+key+`"}},
		{"method": "GET", "relative_url": "no-key"},
		{"method": "POST", "relative_url": "/c", "body": "hello", "headers": {"Authorization": "`+key+`"}},
		{"method": "GET", "relative_url": "../other/x", "headers": {"Authorization": "`+key+`"}},
		{"method": "GET", "relative_url": "tyk/batch", "headers": {"Authorization": "`+key+`"}}]}`)
	if code != 200 || len(out) != 5 {
		t.Fatalf("batch: %d %s", code, raw)
	}
	want := []struct {
		rel  string
		code float64
		body string
	}{
		{"a/b?x=1", 200, `"path": "/a/b"`},
		{"no-key", 401, "Authorization field missing"},
		{"/c", 200, `"body": "hello"`},
		{"../other/x", 400, "not a path the gateway serves"},
		{"tyk/batch", 400, "leads out of the API"},
	}
	for i, w := range want {
		if out[i]["relative_url"] != w.rel || out[i]["code"] != w.code || !strings.Contains(fmt.Sprint(out[i]["body"]), w.body) {
			t.Errorf("reply %d = %v, want %s, %v, a body with %q", i, out[i], w.rel, w.code, w.body)
		}
	}
	if !strings.Contains(fmt.Sprint(out[0]["body"]), `"query": "x=1"`) {
		t.Errorf("the query did not reach the upstream: %v", out[0]["body"])
	}
	// In order when run one after the other too.
	if code, out, _ := batch("/batched/tyk/batch/", `{"suppress_parallel_execution": true, "requests": [
		{"relative_url": "1", "headers": {"Authorization": "`+key+`"}}, {"relative_url": "2", "headers": {"Authorization": "`+key+`"}}]}`); code != 200 || len(out) != 2 ||
		!strings.Contains(fmt.Sprint(out[1]["body"]), `"path": "/2"`) {
		t.Errorf("sequential batch: %d %v", code, out)
	}
	g.Run(t,
		gt.Case{Name: "malformed", Method: "POST", Path: "/batched/tyk/batch", Body: `{"requests": `, Code: 400, BodyMatch: "Batch request malformed"},
		gt.Case{Name: "a method that is no token", Method: "POST", Path: "/batched/tyk/batch", Body: `{"requests": [{"method": "GE T", "relative_url": "x"}]}`,
			Code: 400, BodyMatch: "Batch request creation failed"},
		gt.Case{Name: "too many", Method: "POST", Path: "/batched/tyk/batch", Body: `{"requests": [` + strings.Repeat(`{"relative_url": "x"},`, 50) + `{"relative_url": "x"}]}`,
			Code: 400, BodyMatch: "more than 50 requests"},
		gt.Case{Name: "a GET is the API's", Path: "/batched/tyk/batch", Headers: map[string]string{"Authorization": key}, Code: 200, BodyMatch: `"path": "/tyk/batch"`},
		gt.Case{Name: "an API without batches proxies it", Method: "POST", Path: "/plain/tyk/batch", Body: `{"requests": []}`, Code: 200, BodyMatch: `"path": "/tyk/batch"`},
	)
	if code, out, raw := batch("/huge/tyk/batch", `{"requests": [{"relative_url": "x"}]}`); code != 200 || len(out) != 1 || out[0]["code"] != float64(502) {
		t.Errorf("an answer over 2 MiB: %d %.300s", code, raw)
	}
}

// TestBatchRequestsClientAddress: a batch's requests are from the batch's client, whatever
// X-Forwarded-For they name: through a trusted proxy, IP lists check the proxy's word for the
// batch, not the batch's word for its requests.
func TestBatchRequestsClientAddress(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("allow", "/allow/", up.URL)
	def.EnableBatchRequestSupport = true
	def.EnableIPWhiteListing, def.AllowedIPs = true, []string{"192.0.2.10"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }})
	body := `{"requests": [{"relative_url": "x", "headers": {"X-Forwarded-For": "192.0.2.10"}}]}`
	r := g.Do(gt.Case{Method: "POST", Path: "/allow/tyk/batch", Body: body, Headers: map[string]string{"X-Forwarded-For": "198.51.100.7"}})
	if r.Code != 200 || !strings.Contains(r.Body, `"code":403`) {
		t.Errorf("a batch from 198.51.100.7 naming 192.0.2.10 for its request: %d %s", r.Code, r.Body)
	}
	r = g.Do(gt.Case{Method: "POST", Path: "/allow/tyk/batch", Body: body})
	if r.Code != 200 || !strings.Contains(r.Body, `"code":403`) {
		t.Errorf("a batch from the proxy itself naming 192.0.2.10 for its request: %d %s", r.Code, r.Body)
	}
	r = g.Do(gt.Case{Method: "POST", Path: "/allow/tyk/batch", Body: body, Headers: map[string]string{"X-Forwarded-For": "192.0.2.10"}})
	if r.Code != 200 || !strings.Contains(r.Body, `"code":200`) {
		t.Errorf("a batch from the allowed address: %d %s", r.Code, r.Body)
	}
}

// TestBatchRequestsLoop: a batch that already passed through the API (its Via names it), as
// one the API's upstream sent back would, has its requests refused as loops, not multiplied.
func TestBatchRequestsLoop(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("looped", "/looped/", up.URL)
	def.EnableBatchRequestSupport = true
	secret := "batch-node-secret-0123456789abcdef"
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) { c.NodeSecret = secret }})
	k := sha256.Sum256([]byte("gatehouse via names\x00" + secret))
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("looped"))
	via := "1.1 gatehouse-" + hex.EncodeToString(m.Sum(nil)[:6])
	body := `{"requests": [{"relative_url": "x"}]}`
	if r := g.Do(gt.Case{Method: "POST", Path: "/looped/tyk/batch", Body: body}); !strings.Contains(r.Body, `"code":200`) {
		t.Fatalf("a first batch: %d %s", r.Code, r.Body)
	}
	r := g.Do(gt.Case{Method: "POST", Path: "/looped/tyk/batch", Body: body, Headers: map[string]string{"Via": via}})
	if r.Code != 200 || !strings.Contains(r.Body, `"code":508`) {
		t.Errorf("a batch that passed through the API already: %d %s", r.Code, r.Body)
	}
}

// TestBatchRequestsBounds: what a batch's requests may carry and what their answers may take:
// the answers' bodies together (4 MiB), a final status after an interim one, no connection
// upgrades, no request line or header a client could not send itself.
func TestBatchRequestsBounds(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("made"))
			return
		}
		w.Write([]byte(strings.Repeat("x", 1<<20+1<<19))) // 1.5 MiB
	}))
	defer big.Close()
	def := gt.API("bounds", "/bounds/", big.URL)
	def.EnableBatchRequestSupport = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) { c.HTTPServerOptions.MaxHeaderBytes = 8192 }})
	r := g.Do(gt.Case{Method: "POST", Path: "/bounds/tyk/batch", Body: `{"suppress_parallel_execution": true, "requests": [
		{"relative_url": "a"}, {"relative_url": "b"}, {"relative_url": "c"}, {"relative_url": "hints"},
		{"relative_url": "ws", "headers": {"Connection": "Upgrade", "Upgrade": "websocket"}},
		{"relative_url": "q?a=b c"},
		{"relative_url": "h", "headers": {"Bad Name": "x"}},
		{"relative_url": "big", "headers": {"X-Big": "` + strings.Repeat("y", 9000) + `"}}]}`})
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil || r.Code != 200 || len(out) != 8 {
		t.Fatalf("batch: %d %.300s (%v)", r.Code, r.Body, err)
	}
	want := []struct {
		code float64
		body string
	}{
		{200, "xxx"}, {200, "xxx"}, {502, "over 4 MiB together"}, {201, "made"},
		{400, "cannot be batched"}, {400, "spaces or control characters"}, {400, "not one a request may carry"}, {400, "Request Header Fields Too Large"},
	}
	for i, w := range want {
		if out[i]["code"] != w.code || !strings.Contains(fmt.Sprint(out[i]["body"]), w.body) {
			t.Errorf("reply %d: code %v body %.80v, want %v with %q", i, out[i]["code"], out[i]["body"], w.code, w.body)
		}
	}
}

// TestBatchRequestsAtOnce: a gateway serves at most 16 batches at once; one more is answered 503
// with Retry-After, and batches are served again once those end.
func TestBatchRequestsAtOnce(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 32)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer slow.Close()
	def := gt.API("slow", "/slow/", slow.URL)
	def.EnableBatchRequestSupport = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	body := `{"requests": [{"relative_url": "x"}]}`
	done := make(chan int, 16)
	for range 16 {
		go func() { done <- g.Do(gt.Case{Method: "POST", Path: "/slow/tyk/batch", Body: body}).Code }()
	}
	for range 16 {
		<-arrived
	}
	r := g.Do(gt.Case{Method: "POST", Path: "/slow/tyk/batch", Body: body})
	if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("a 17th batch at once: %d %v %s", r.Code, r.Header, r.Body)
	}
	close(release)
	for range 16 {
		if code := <-done; code != 200 {
			t.Errorf("a batch: %d", code)
		}
	}
	if r := g.Do(gt.Case{Method: "POST", Path: "/slow/tyk/batch", Body: body}); r.Code != 200 {
		t.Errorf("after the batches ended: %d %s", r.Code, r.Body)
	}
}

// TestBatchRequestsTimeout: a batch is bounded as a whole (twice proxy_default_timeout): a
// request still running then is cut off and those not started are answered 504 in their
// place, so that slow requests one after the other cannot hold a batch slot for their sum. The
// cut is the batch's doing: no circuit breaker counts it against the upstream.
func TestBatchRequestsTimeout(t *testing.T) {
	// On /x the head at once and the body later (a request cut off is cut in the middle of
	// its answer), on /y all of it later (cut before any answer).
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
		}
		select {
		case <-time.After(600 * time.Millisecond):
		case <-r.Context().Done():
		}
		w.Write([]byte("slow"))
	}))
	defer slow.Close()
	def := gt.API("slow", "/slow/", slow.URL)
	def.EnableBatchRequestSupport = true
	v := def.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.CircuitBreaker = []apidef.CircuitBreakerMeta{
		{Path: "/x", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 60},
		{Path: "/y", Method: "GET", ThresholdPercent: 0.5, Samples: 2, ReturnToServiceAfter: 60}}
	def.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) { c.ProxyDefaultTimeout = 1 }})
	for round, p := range []string{"x", "x", "y", "y"} {
		began := time.Now()
		one := `{"relative_url": "` + p + `"}`
		r := g.Do(gt.Case{Method: "POST", Path: "/slow/tyk/batch", Body: `{"suppress_parallel_execution": true, "requests": [` +
			strings.Repeat(one+",", 5) + one + `]}`})
		took := time.Since(began)
		var out []struct {
			Code int    `json:"code"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal([]byte(r.Body), &out); err != nil || r.Code != 200 || len(out) != 6 {
			t.Fatalf("batch: %d %.300s (%v)", r.Code, r.Body, err)
		}
		if out[0].Code != 200 || out[0].Body != "slow" {
			t.Errorf("round %d, the first request: %d %q", round, out[0].Code, out[0].Body)
		}
		if last := out[5]; last.Code != http.StatusGatewayTimeout || !strings.Contains(last.Body, "before this request started") {
			t.Errorf("round %d, the request not started: %d %q", round, last.Code, last.Body)
		}
		cut := 0
		for _, o := range out {
			if o.Code == http.StatusGatewayTimeout && strings.Contains(o.Body, "while this request ran") {
				cut++
			}
		}
		if cut != 1 {
			t.Errorf("round %d: %d requests were cut off while running, want the one running at the bound: %+v", round, cut, out)
		}
		if took > 10*time.Second {
			t.Errorf("round %d: the batch took %v; its bound is 2 s", round, took)
		}
	}
	// The breakers did not count the cuts: the upstream never failed.
	for _, p := range []string{"/slow/x", "/slow/y"} {
		if r := g.Do(gt.Case{Path: p}); r.Code != 200 {
			t.Errorf("after two batches cut off, %s answered %d %s: a breaker counted the cuts", p, r.Code, r.Body)
		}
	}
}

// TestBatchRequestsCounted: a batch is a request of its API in the metrics and the access log,
// besides the requests it carries; one refused as a whole is counted there too.
func TestBatchRequestsCounted(t *testing.T) {
	up := gt.NewUpstream(t)
	def := gt.API("b", "/b/", up.URL)
	def.EnableBatchRequestSupport = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}})
	r := g.Do(gt.Case{Method: "POST", Path: "/b/tyk/batch", Body: `{"requests": [{"relative_url": "x"}, {"method": "PUT", "relative_url": "y"}]}`})
	if r.Code != 200 {
		t.Fatalf("batch: %d %s", r.Code, r.Body)
	}
	if r := g.Do(gt.Case{Method: "POST", Path: "/b/tyk/batch", Body: `{not json`}); r.Code != 400 {
		t.Fatalf("malformed batch: %d %s", r.Code, r.Body)
	}
	scrapeMetrics(t, g).wantValues(t, "gatehouse_http_requests_total", map[string]float64{
		"api_id=b,code=200,method=GET":  1,
		"api_id=b,code=200,method=PUT":  1,
		"api_id=b,code=200,method=POST": 1,
		"api_id=b,code=400,method=POST": 1,
	})
}
