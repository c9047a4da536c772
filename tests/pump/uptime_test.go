package pump_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	msgpack "gopkg.in/vmihailenco/msgpack.v2"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// UptimeReportData is tyk-pump's analytics.UptimeReportData, as tyk-pump decodes the uptime
// list's elements (no msgpack tags: keys are the Go field names).
type UptimeReportData struct {
	URL          string
	RequestTime  int64
	ResponseCode int
	TCPError     bool
	ServerError  bool
	Day          int
	Month        time.Month
	Year         int
	Hour         int
	Minute       int
	TimeStamp    time.Time
	ExpireAt     time.Time `bson:"expireAt"`
	APIID        string
	OrgID        string
}

var uptimeKeys = []string{"APIID", "Day", "ExpireAt", "Hour", "Minute", "Month", "OrgID", "RequestTime", "ResponseCode",
	"ServerError", "TCPError", "TimeStamp", "URL", "Year"}

func decodeUptime(t *testing.T, blob []byte) UptimeReportData {
	t.Helper()
	var rec UptimeReportData
	if err := msgpack.Unmarshal(blob, &rec); err != nil {
		t.Fatalf("tyk-pump's decoder refuses an uptime record: %v\n%.300q", err, blob)
	}
	var m map[string]interface{}
	if err := msgpack.Unmarshal(blob, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, uptimeKeys) {
		t.Fatalf("an uptime record's keys are %q, want Tyk's %q", keys, uptimeKeys)
	}
	return rec
}

// TestUptimeRecordEncoding: a record with hostile and extreme values reads back exactly, and
// the record after it in the same buffer is still a record.
func TestUptimeRecordEncoding(t *testing.T) {
	at := time.Date(2026, 12, 6, 23, 59, 58, 123456789, time.UTC)
	in := analytics.UptimeRecord{URL: "http://x/\xff" + strings.Repeat("p", 70000), RequestTime: 1 << 40, ResponseCode: 521,
		TCPError: true, ServerError: false, TimeStamp: at, ExpireAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), APIID: "api\x00", OrgID: "org"}
	blob := append(analytics.EncodeUptime(&in), analytics.EncodeUptime(&analytics.UptimeRecord{URL: "next", ResponseCode: 200})...)
	var got, next UptimeReportData
	dec := msgpack.NewDecoder(strings.NewReader(string(blob)))
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&next); err != nil || next.URL != "next" || next.ResponseCode != 200 {
		t.Fatalf("the record after: %+v %v", next, err)
	}
	decodeUptime(t, analytics.EncodeUptime(&in))
	want := UptimeReportData{URL: in.URL, RequestTime: in.RequestTime, ResponseCode: 521, TCPError: true, Day: 6, Month: time.December,
		Year: 2026, Hour: 23, Minute: 59, APIID: in.APIID, OrgID: "org"}
	if !got.TimeStamp.Equal(at) || !got.ExpireAt.Equal(in.ExpireAt) {
		t.Errorf("times: %v %v", got.TimeStamp, got.ExpireAt)
	}
	got.TimeStamp, got.ExpireAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

// TestUptimeAnalytics: with enable_uptime_analytics, each run of an API's uptime checks is
// recorded in Tyk's list, and tyk-pump reads it: a passing HTTP check, one answered 503, and a
// tcp check that cannot connect (Tyk's 521).
func TestUptimeAnalytics(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sick" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(up.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	// A tcp service that answers PONG to PING.
	pong, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pong.Close() })
	go func() {
		for {
			c, err := pong.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "PING" {
					c.Write([]byte("PONG"))
				}
			}()
		}
	}()
	def := gt.API("checked", "/checked/", up.URL)
	def.OrgID = "org1"
	def.UptimeTests.Config.ExpireUptimeAnalyticsAfter = 3600
	def.UptimeTests.CheckList = []apidef.HostCheck{{URL: up.URL + "/ok"}, {URL: up.URL + "/sick"}, {URL: closed, Protocol: "tcp", Timeout: time.Second},
		{URL: pong.Addr().String(), Protocol: "tcp", Timeout: time.Second,
			Commands: []apidef.CheckCommand{{Name: "send", Message: "PING"}, {Name: "expect", Message: "PONG"}}}}
	before := time.Now().Add(-time.Second)
	gt.Start(t, gt.Options{Redis: srv.Addr, APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.UptimeTests.Config.EnableUptimeAnalytics = true
		c.UptimeTests.Config.TimeWait = 1
	}})
	c := client(t, srv.Addr)
	byURL := map[string]UptimeReportData{}
	deadline := time.Now().Add(15 * time.Second)
	for len(byURL) < 4 && time.Now().Before(deadline) {
		for _, blob := range waitList(t, c, analytics.UptimeKey, 1) {
			r := decodeUptime(t, blob)
			byURL[r.URL] = r
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := time.Now().Add(time.Second)
	for _, tc := range []struct {
		url         string
		code        int
		tcp, server bool
	}{
		{up.URL + "/ok", 200, false, false},
		{up.URL + "/sick", 503, false, true},
		{closed, 521, true, false},
		{pong.Addr().String(), 200, false, false},
	} {
		r, ok := byURL[tc.url]
		if !ok {
			t.Errorf("no record of %s", tc.url)
			continue
		}
		if r.ResponseCode != tc.code || r.TCPError != tc.tcp || r.ServerError != tc.server || r.APIID != "checked" || r.OrgID != "org1" {
			t.Errorf("%s: %+v", tc.url, r)
		}
		if r.TimeStamp.Before(before) || r.TimeStamp.After(after) || r.RequestTime < 0 || r.RequestTime > 2000 {
			t.Errorf("%s: time %v, request time %d ms", tc.url, r.TimeStamp, r.RequestTime)
		}
		local := r.TimeStamp.Local()
		if r.Day != local.Day() || r.Month != local.Month() || r.Year != local.Year() || r.Hour != local.Hour() || r.Minute != local.Minute() {
			t.Errorf("%s: time parts %d-%d-%d %d:%d for %v", tc.url, r.Year, r.Month, r.Day, r.Hour, r.Minute, local)
		}
		if d := r.ExpireAt.Sub(r.TimeStamp); d < 3599*time.Second || d > 3601*time.Second {
			t.Errorf("%s: expires %v after the run, want expire_utime_after's hour", tc.url, d)
		}
	}
	ttl, err := c.Do(t.Context(), c.B().Ttl().Key(analytics.UptimeKey).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > 60 {
		t.Errorf("the uptime list's TTL is %d (%v), want storage_expiration_time's 60 s at most", ttl, err)
	}
}
