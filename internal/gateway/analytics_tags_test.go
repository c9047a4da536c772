package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAnalyticsTagHeadersNoCredentials: tag_headers naming headers that carry credentials (the
// API's auth header, Authorization, Cookie, Proxy-Authorization, X-Tyk-Authorization) tag the
// record "<header>-[redacted]", never with the value; other headers keep theirs (Go's client
// does not send Proxy-Authorization to a server that is not a proxy, so it is not sent). Detailed
// recording is off, so only the tags could leak.
func TestAnalyticsTagHeadersNoCredentials(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.Keyed(gt.API("tagged", "/tagged/", up.URL))
	api.Auth.AuthHeaderName = "X-Api-Key"
	api.TagHeaders = []string{"X-Team", "x-api-key", "Authorization", "Cookie", "Proxy-Authorization", "X-Tyk-Authorization"}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	key := g.CreateKey(&apidef.SessionState{Rate: 100, Per: 60, AccessRights: access("tagged")})
	secrets := map[string]string{
		"X-Api-Key":           key,
		"Authorization":       "Bearer upstream-secret-1",
		"Cookie":              "sid=upstream-secret-2",
		"X-Tyk-Authorization": "upstream-secret-4",
	}
	headers := map[string]string{"X-Team": "blue"}
	for k, v := range secrets {
		headers[k] = v
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/tagged/x", Headers: headers}))

	records := readRecords(t, file, 1)
	if len(records) != 1 {
		t.Fatalf("%d records, want 1", len(records))
	}
	tags := records[0].Tags
	for _, want := range []string{"x-team-blue", "x-api-key-[redacted]", "authorization-[redacted]", "cookie-[redacted]",
		"x-tyk-authorization-[redacted]"} {
		if !slices.Contains(tags, want) {
			t.Errorf("tags %q lack %q", tags, want)
		}
	}
	for name, v := range secrets {
		for _, tag := range tags {
			if strings.Contains(tag, strings.TrimPrefix(v, "Bearer ")) {
				t.Errorf("tag %q holds the value of %s", tag, name)
			}
		}
	}
}

// TestAnalyticsTrackEndpoints: a request matching do_not_track_endpoints makes no record (a
// login endpoint kept out of analytics, detailed recording on), one matching track_endpoints a
// record with the entry's path and track_path set, others a plain record. An entry that does not
// compile refuses the definition, with enable_analytics on or off.
func TestAnalyticsTrackEndpoints(t *testing.T) {
	up := gt.NewUpstream(t)
	file, analytics := analyticsFile(t)
	api := gt.API("tracked", "/tracked/", up.URL)
	api.EnableDetailedRecording = true
	v := api.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.DoNotTrackEndpoints = []apidef.TrackEndpointMeta{{Path: "/login", Method: "POST"}, {Path: "/x", Method: "GET", Disabled: true}}
	v.ExtendedPaths.TrackEndpoints = []apidef.TrackEndpointMeta{{Path: "/users/{id}", Method: "GET"}}
	api.VersionData.Versions["Default"] = v
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{api}, Config: analytics})
	g.Run(t,
		gt.Case{Name: "login", Method: "POST", Path: "/tracked/login", Body: "password=hunter2", Code: 200},
		gt.Case{Name: "a user", Path: "/tracked/users/42", Code: 200},
		gt.Case{Name: "login read", Path: "/tracked/login", Code: 200},
		gt.Case{Name: "a disabled entry", Path: "/tracked/x", Code: 200},
	)
	records := readRecords(t, file, 3)
	var got []string
	for _, r := range records {
		got = append(got, fmt.Sprintf("%s %s %v", r.Method, r.Path, r.TrackPath))
	}
	want := []string{"GET /users/{id} true", "GET /tracked/login false", "GET /tracked/x false"}
	if !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}

	bad := gt.API("bad", "/bad/", up.URL)
	bv := bad.VersionData.Versions["Default"]
	bv.UseExtendedPaths = true
	bv.ExtendedPaths.DoNotTrackEndpoints = []apidef.TrackEndpointMeta{{Path: "/a(", Method: "GET"}}
	bad.VersionData.Versions["Default"] = bv
	body, err := json.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	g.Run(t, gt.Case{Name: "a bad entry", Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(body), Code: 400,
		BodyMatch: "do_not_track_endpoints"})
}

// TestUntrackedBodiesNotCopied: with detailed recording on, a request to a
// do_not_track_endpoints entry has no record, so neither its body nor the response's is copied
// for one. Measured by the bytes the process allocates per request, bodies of 64 KiB each way,
// against the same requests to an API without detailed recording: copying the bodies would add
// well over 128 KiB a request (some 470 KiB under -race, with the buffers' growth).
func TestUntrackedBodiesNotCopied(t *testing.T) {
	const size = 64 << 10
	payload := bytes.Repeat([]byte("x"), size)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(payload)
	}))
	t.Cleanup(up.Close)
	_, analytics := analyticsFile(t)
	detailed := gt.API("detailed", "/detailed/", up.URL)
	detailed.EnableDetailedRecording = true
	v := detailed.VersionData.Versions["Default"]
	v.UseExtendedPaths = true
	v.ExtendedPaths.DoNotTrackEndpoints = []apidef.TrackEndpointMeta{{Path: "/login", Method: "POST"}}
	detailed.VersionData.Versions["Default"] = v
	plain := gt.API("plain", "/plain/", up.URL)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{detailed, plain}, Config: analytics})
	post := func(path string) {
		resp, err := g.Client.Post(g.URL+path, "text/plain", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || resp.StatusCode != 200 {
			t.Fatalf("%s: status %d, %d bytes, %v", path, resp.StatusCode, n, err)
		}
	}
	allocated := func(path string) uint64 {
		const requests = 20
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range requests {
			post(path)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / requests
	}
	allocated("/detailed/login")
	allocated("/plain/login")
	var untracked, base uint64
	for range 3 {
		untracked += allocated("/detailed/login")
		base += allocated("/plain/login")
	}
	t.Logf("bytes allocated per request: %d untracked with detailed recording, %d without detailed recording", untracked/3, base/3)
	if untracked > base+3*size*3/2 { // 96 KiB a request: -race drops pooled buffers
		t.Errorf("an untracked request allocated %d bytes more than one without detailed recording: its bodies were copied for a record it does not have", (untracked-base)/3)
	}
}
