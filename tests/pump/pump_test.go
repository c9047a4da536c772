// Package pump_test checks what tyk-pump reads from Redis: a gateway on the Redis store with
// enable_analytics serves known requests, the test reads the list tyk-pump reads with a plain
// LRANGE and decodes every element with gopkg.in/vmihailenco/msgpack.v2 into tyk-pump's
// record, as tyk-pump does. The decoder is not the gateway's (a small encoder of its own), so
// these tests are a module of their own: the gateway's go.mod, which every plugin build
// resolves, never names it. See README.md beside this file.
package pump_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	msgpack "gopkg.in/vmihailenco/msgpack.v2"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/session"
)

const listKey = "analytics-tyk-system-analytics"

// upstream answers with the status its path ends with (/status/201), after sleeping the
// milliseconds of ?sleep=, and echoes the request's headers in its body and a header of its
// own, as careless upstreams do.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if ms, err := strconv.Atoi(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		code := http.StatusOK
		if i := strings.LastIndex(r.URL.Path, "/status/"); i >= 0 {
			if c, err := strconv.Atoi(r.URL.Path[i+len("/status/"):]); err == nil {
				code = c
			}
		}
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.WriteHeader(code)
		_ = r.Header.Write(w)
		fmt.Fprintf(w, "query=%s\n", r.URL.RawQuery)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func client(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitList waits until the list at key holds at least n elements and returns them all.
func waitList(t *testing.T, c rueidis.Client, key string, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		l, err := c.Do(ctx, c.B().Llen().Key(key).Build()).AsInt64()
		if err == nil && l >= int64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the list %s holds %d elements (%v), want %d", key, l, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	vals, err := c.Do(ctx, c.B().Lrange().Key(key).Start(0).Stop(-1).Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out
}

// decode decodes one element as tyk-pump does, and checks that its keys are exactly Tyk's.
func decode(t *testing.T, blob []byte) AnalyticsRecord {
	t.Helper()
	var rec AnalyticsRecord
	if err := msgpack.Unmarshal(blob, &rec); err != nil {
		t.Fatalf("tyk-pump's decoder refuses an element: %v\n%.500q", err, blob)
	}
	var m map[string]interface{}
	if err := msgpack.Unmarshal(blob, &m); err != nil {
		t.Fatalf("decoding an element as a map: %v", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	want := slices.Clone(tykFields)
	sort.Strings(keys)
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Errorf("record keys:\n got %q\nwant %q", keys, want)
	}
	return rec
}

func byPath(t *testing.T, recs []AnalyticsRecord, path string) AnalyticsRecord {
	t.Helper()
	for _, r := range recs {
		if r.Path == path {
			return r
		}
	}
	t.Fatalf("no record for %s", path)
	return AnalyticsRecord{}
}

func TestPumpDecodesRecords(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	keyed.Name, keyed.OrgID, keyed.Tags, keyed.ExpireAnalyticsAfter = "Keyed API", "org1", []string{"api-tag"}, 3600
	keyed.TagHeaders = []string{"x-team"}
	open := gt.API("open", "/open/", up.URL)
	open.Name = "Open API"
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{keyed, open}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
	}})
	key := g.CreateKey(&apidef.SessionState{Alias: "alice", Tags: []string{"sess-tag"}, ApplyPolicies: nil,
		AccessRights: map[string]apidef.AccessDefinition{"keyed": {APIID: "keyed"}}})

	before := time.Now().Add(-time.Second)
	gt.Check(t, gt.Case{Code: 201}, g.Do(gt.Case{Path: "/keyed/a/status/201?sleep=30", Headers: map[string]string{"Authorization": key, "User-Agent": "pump-test/1", "X-Team": "alpha"}}))
	gt.Check(t, gt.Case{Code: 404}, g.Do(gt.Case{Method: "POST", Path: "/open/b/status/404", Body: "hello", Headers: map[string]string{"User-Agent": "pump-test/2"}}))
	gt.Check(t, gt.Case{Code: 401}, g.Do(gt.Case{Path: "/keyed/c"}))
	after := time.Now().Add(time.Second)

	c := client(t, srv.Addr)
	blobs := waitList(t, c, listKey, 3)
	if len(blobs) != 3 {
		t.Fatalf("%d records, want 3", len(blobs))
	}
	var recs []AnalyticsRecord
	for _, b := range blobs {
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("a record carries the raw key: %q", b)
		}
		recs = append(recs, decode(t, b))
	}

	hash := session.HashKey(key)
	k := byPath(t, recs, "/keyed/a/status/201")
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Method", k.Method, "GET"},
		{"APIVersion", k.APIVersion, "Non Versioned"},
		{"RawPath", k.RawPath, "/keyed/a/status/201"},
		{"OriginalPath", k.OriginalPath, "/keyed/a/status/201"},
		{"ListenPath", k.ListenPath, "/keyed/"},
		{"ResponseCode", k.ResponseCode, 201},
		{"APIID", k.APIID, "keyed"},
		{"APIName", k.APIName, "Keyed API"},
		{"OrgID", k.OrgID, "org1"},
		{"APIKey", k.APIKey, hash},
		{"Alias", k.Alias, "alice"},
		{"UserAgent", k.UserAgent, "pump-test/1"},
		{"IPAddress", k.IPAddress, "127.0.0.1"},
		{"Host", k.Host, strings.TrimPrefix(g.URL, "http://")},
		{"Tags", k.Tags, []string{"sess-tag", "x-team-alpha", "api-tag", "key-" + hash, "org-org1", "api-keyed"}},
		{"ExpireAt", k.ExpireAt.Sub(k.TimeStamp), 3600 * time.Second},
		{"Latency.Gateway", k.Latency.Gateway, k.Latency.Total - k.Latency.Upstream},
		{"RequestTime", k.RequestTime, k.Latency.Total},
		{"Day", k.Day, k.TimeStamp.UTC().Day()},
		{"Month", k.Month, k.TimeStamp.UTC().Month()},
		{"Year", k.Year, k.TimeStamp.UTC().Year()},
		{"Hour", k.Hour, k.TimeStamp.UTC().Hour()},
		{"Geo", k.Geo, GeoData{}},
		{"Network", k.Network, NetworkStats{}},
		{"RawRequest", k.RawRequest, ""},
		{"RawResponse", k.RawResponse, ""},
		{"TrackPath", k.TrackPath, false},
		{"CollectionName", k.CollectionName, ""},
	} {
		if fmt.Sprint(f.got) != fmt.Sprint(f.want) {
			t.Errorf("keyed record %s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if k.TimeStamp.Before(before) || k.TimeStamp.After(after) {
		t.Errorf("TimeStamp %v is not between %v and %v", k.TimeStamp, before, after)
	}
	// The upstream slept 30 ms: that much at least is the upstream's, and the total holds it.
	if k.Latency.Upstream < 30 || k.Latency.Total < k.Latency.Upstream {
		t.Errorf("Latency %+v: want Upstream >= 30 ms and Total >= Upstream", k.Latency)
	}

	o := byPath(t, recs, "/open/b/status/404")
	if o.Method != "POST" || o.ResponseCode != 404 || o.APIKey != "" || o.ContentLength != 5 || o.APIID != "open" ||
		o.APIName != "Open API" || o.UserAgent != "pump-test/2" || !slices.Equal(o.Tags, []string{"org-default", "api-open"}) {
		t.Errorf("keyless record = %+v", o)
	}
	// No expire_analytics_after: 100 years, as in Tyk.
	if got := o.ExpireAt.Year() - o.TimeStamp.Year(); got != 100 {
		t.Errorf("keyless record expires %d years after it was made, want 100", got)
	}
	if r := byPath(t, recs, "/keyed/c"); r.ResponseCode != 401 || r.APIKey != "" {
		t.Errorf("refused record: code %d, key %q; want 401 and no key", r.ResponseCode, r.APIKey)
	}

	// No tyk-pump reads the list here: it expires storage_expiration_time (60 s) after it was
	// made.
	ttl, err := c.Do(context.Background(), c.B().Ttl().Key(listKey).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > 60 {
		t.Errorf("TTL of %s = %d (%v), want 1 to 60 s", listKey, ttl, err)
	}
}

// TestPumpMultipleKeysAndExpiry checks enable_multiple_analytics_keys (the lists _0 to _9)
// and storage_expiration_time.
func TestPumpMultipleKeysAndExpiry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
		c.AnalyticsConfig.EnableMultipleAnalyticsKeys = true
		c.AnalyticsConfig.StorageExpirationTime = 20
	}})
	const n = 30
	for i := range n {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/" + strconv.Itoa(i)}))
	}
	c := client(t, srv.Addr)
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		total := 0
		var keys []string
		for _, k := range srv.Keys(t, "analytics-*") {
			keys = append(keys, k)
			if !strings.HasPrefix(k, listKey+"_") || len(k) != len(listKey)+2 {
				t.Fatalf("a record list named %q, want %s_0 to _9", k, listKey)
			}
			blobs := waitList(t, c, k, 1)
			for _, b := range blobs {
				if r := decode(t, b); r.APIID != "open" || r.ResponseCode != 200 {
					t.Errorf("record %+v", r)
				}
			}
			total += len(blobs)
			ttl, err := c.Do(ctx, c.B().Ttl().Key(k).Build()).AsInt64()
			if err != nil || ttl <= 0 || ttl > 20 {
				t.Errorf("TTL of %s = %d (%v), want 1 to 20 s", k, ttl, err)
			}
		}
		if total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records in lists %v", total, n, keys)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPumpDetailedRecordingHidesKeys sends a key in every place the API reads one from (and
// in the body, and to an upstream that echoes it) with detailed recording on: the raw request
// and response are there, the key nowhere, and a body of 8 MiB is recorded in part only.
func TestPumpDetailedRecordingHidesKeys(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	def := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	def.Auth = apidef.AuthConfig{AuthHeaderName: "X-Api-Key", UseParam: true, ParamName: "api_key"}
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
		c.AnalyticsConfig.EnableDetailedRecording = true
	}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{"keyed": {APIID: "keyed"}}})
	const cookieSecret, gatewaySecret = "session-cookie-secret", "gateway-api-secret"
	body := "token=" + key + "&" + strings.Repeat("x", 8<<20)
	for _, tc := range []gt.Case{
		// Cookie and X-Tyk-Authorization carry credentials on any API, though this one reads
		// its key from neither.
		{Name: "header", Path: "/keyed/h", Headers: map[string]string{"X-Api-Key": key, "Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+key)),
			"Cookie": "sid=" + cookieSecret, "X-Tyk-Authorization": gatewaySecret}},
		{Name: "param", Path: "/keyed/p?api_key=" + key + "&other=1"},
		{Name: "body", Method: "POST", Path: "/keyed/b", Headers: map[string]string{"X-Api-Key": key}, Body: body},
	} {
		gt.Check(t, gt.Case{Name: tc.Name, Code: 200}, g.Do(tc))
	}
	c := client(t, srv.Addr)
	blobs := waitList(t, c, listKey, 3)
	for _, b := range blobs {
		if len(b) > 512<<10 {
			t.Errorf("a record of %d bytes: the recorded bodies are not bounded", len(b))
		}
		r := decode(t, b)
		req, err1 := base64.StdEncoding.DecodeString(r.RawRequest)
		resp, err2 := base64.StdEncoding.DecodeString(r.RawResponse)
		if err1 != nil || err2 != nil || len(req) == 0 || len(resp) == 0 {
			t.Fatalf("%s: raw request %d bytes (%v), raw response %d bytes (%v)", r.Path, len(req), err1, len(resp), err2)
		}
		for what, data := range map[string][]byte{"record": b, "raw request": req, "raw response": resp} {
			if bytes.Contains(data, []byte(key)) {
				t.Errorf("%s: the %s carries the raw key:\n%.2000s", r.Path, what, data)
			}
		}
		// The other credential headers are hidden in the request as sent (what an upstream
		// echoes back is its own).
		for _, secret := range []string{cookieSecret, gatewaySecret} {
			if bytes.Contains(req, []byte(secret)) {
				t.Errorf("%s: the raw request carries the credential %q:\n%.2000s", r.Path, secret, req)
			}
		}
		// "[redacted]" in a header, "%5Bredacted%5D" in the query.
		if !bytes.Contains(req, []byte("redacted")) {
			t.Errorf("%s: nothing redacted in the raw request:\n%.2000s", r.Path, req)
		}
		if !bytes.HasPrefix(req, []byte(r.Method+" "+r.Path)) || !bytes.HasPrefix(resp, []byte("HTTP/1.1 200 OK")) {
			t.Errorf("%s: raw request starts %.60q, raw response %.60q", r.Path, req, resp)
		}
		if r.Path == "/keyed/b" && (!bytes.Contains(req, []byte("xxxxxxxx")) || len(req) > 128<<10) {
			t.Errorf("the 8 MiB body: %d bytes recorded, want part of it, at most 128 KiB", len(req))
		}
	}
}

// metric returns the value of a counter without labels on the gateway's metrics listener.
func metric(t *testing.T, g *gt.Gateway, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + g.Server.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return 0
}

// TestPumpRedisDown kills Redis: requests are still served, the records are dropped and
// counted, and once Redis is back records are written again.
func TestPumpRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
	}})
	c := client(t, srv.Addr)
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/before"}))
	waitList(t, c, listKey, 1)
	// The count follows the push's answer, a moment after the list holds the record.
	waitMetric(t, g, "gatehouse_analytics_records_written_total", 1)
	if w, d := metric(t, g, "gatehouse_analytics_records_written_total"), metric(t, g, "gatehouse_analytics_records_dropped_total"); w != 1 || d != 0 {
		t.Errorf("written %v, dropped %v; want 1, 0", w, d)
	}

	srv.Kill()
	const down = 20
	for i := range down {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/down/" + strconv.Itoa(i)}))
	}
	waitMetric(t, g, "gatehouse_analytics_records_dropped_total", down)

	srv.Restart()
	// Records go to Redis again once the gateway sees it back; until then they are dropped.
	deadline := time.Now().Add(20 * time.Second)
	c2 := client(t, srv.Addr)
	for i := 0; ; i++ {
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/after/" + strconv.Itoa(i)}))
		n, _ := c2.Do(context.Background(), c2.B().Llen().Key(listKey).Build()).AsInt64()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no record written within 20 s of Redis coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, b := range waitList(t, c2, listKey, 1) {
		if r := decode(t, b); !strings.HasPrefix(r.Path, "/open/after/") {
			t.Errorf("after the restart, a record for %s", r.Path)
		}
	}
	waitMetric(t, g, "gatehouse_analytics_records_written_total", 2)
}

// waitMetric waits until a counter reaches at least want.
func waitMetric(t *testing.T, g *gt.Gateway, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := metric(t, g, name)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want at least %v", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPumpIgnoredIPs checks analytics_config.ignored_ips against the client address as
// trusted_proxies decide it.
func TestPumpIgnoredIPs(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := upstream(t)
	g := gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}, Config: func(c *config.Config) {
		c.EnableAnalytics = true
		c.TrustedProxies = []string{"127.0.0.1/32"}
		c.AnalyticsConfig.IgnoredIPs = []string{"10.1.1.1"}
		c.AnalyticsConfig.PoolSize = 1 // one writer: records reach the list in order
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/ignored", Headers: map[string]string{"X-Forwarded-For": "10.1.1.1"}}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/open/kept", Headers: map[string]string{"X-Forwarded-For": "10.2.2.2"}}))
	blobs := waitList(t, client(t, srv.Addr), listKey, 1)
	if len(blobs) != 1 {
		t.Fatalf("%d records, want only the one from 10.2.2.2", len(blobs))
	}
	if r := decode(t, blobs[0]); r.Path != "/open/kept" || r.IPAddress != "10.2.2.2" {
		t.Errorf("record for %s from %s, want /open/kept from 10.2.2.2", r.Path, r.IPAddress)
	}
}
