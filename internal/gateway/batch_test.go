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
