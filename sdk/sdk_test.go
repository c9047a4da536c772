package sdk_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/reqctx"
	"github.com/gatehouse/gatehouse/sdk"
)

func withState(st *reqctx.State) *http.Request {
	return reqctx.With(httptest.NewRequest("GET", "/api/x", nil), st)
}

func TestGetSession(t *testing.T) {
	s := &apidef.SessionState{Alias: "alice"}
	tests := []struct {
		name string
		st   *reqctx.State
		want *apidef.SessionState
	}{
		{name: "session set", st: &reqctx.State{Session: s}, want: s},
		{name: "before auth", st: &reqctx.State{}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sdk.GetSession(withState(tc.st)); got != tc.want {
				t.Errorf("GetSession = %p, want %p", got, tc.want)
			}
		})
	}
}

// TestGetSessionShared: a session that shares the key store's decoding (what the key check gives
// a request) is copied the first time a plugin asks for it, and the copy is the request's from
// then on: a later hook of the same request sees what an earlier one changed, and the decoding
// other requests share is never changed.
func TestGetSessionShared(t *testing.T) {
	decoding := &apidef.SessionState{Alias: "alice", MetaData: map[string]interface{}{"team": "a"}, Tags: []string{"t"}}
	own := *decoding // the request's own fields, still pointing at the decoding's maps
	st := &reqctx.State{Session: &own, SessionShared: true}
	r := withState(st)
	first := sdk.GetSession(r)
	if first == &own || reflect.ValueOf(first.MetaData).Pointer() == reflect.ValueOf(decoding.MetaData).Pointer() {
		t.Fatal("GetSession handed out the shared decoding's meta data")
	}
	first.MetaData["team"] = "changed"
	first.Tags[0] = "changed"
	if second := sdk.GetSession(r); second != first || second.MetaData["team"] != "changed" {
		t.Errorf("a second GetSession in the same request returned %p (%v), want the first copy %p", second, second.MetaData, first)
	}
	if decoding.MetaData["team"] != "a" || decoding.Tags[0] != "t" {
		t.Errorf("a plugin's change reached the shared decoding: %+v", decoding)
	}
	if st.Session != first || st.SessionShared {
		t.Error("the request's state does not hold the copy")
	}
}

func TestSetSession(t *testing.T) {
	tests := []struct {
		name         string
		token        string
		keyID        string
		schedule     bool
		hashKey      []bool
		wantKeyID    string
		wantToken    string
		wantSchedule bool
	}{
		{name: "KeyID defaults to the token", token: "tok", wantKeyID: "tok", wantToken: "tok"},
		{name: "KeyID given becomes the token", token: "tok", keyID: "plugin-key", wantKeyID: "plugin-key", wantToken: "plugin-key"},
		{name: "no token and no KeyID", wantKeyID: "", wantToken: ""},
		{name: "schedule update", token: "t", schedule: true, wantKeyID: "t", wantToken: "t", wantSchedule: true},
		{name: "hashKey is accepted (and ignored)", token: "t", hashKey: []bool{false, true}, wantKeyID: "t", wantToken: "t"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &reqctx.State{Token: tc.token}
			r := withState(st)
			s := &apidef.SessionState{KeyID: tc.keyID, Alias: "a"}
			sdk.SetSession(r, s, tc.schedule, tc.hashKey...)
			if st.Session != s {
				t.Errorf("state session = %p, want %p", st.Session, s)
			}
			if s.KeyID != tc.wantKeyID {
				t.Errorf("KeyID = %q, want %q", s.KeyID, tc.wantKeyID)
			}
			if st.Token != tc.wantToken || sdk.GetAuthToken(r) != tc.wantToken {
				t.Errorf("token = %q (GetAuthToken %q), want %q", st.Token, sdk.GetAuthToken(r), tc.wantToken)
			}
			if !st.SessionSet {
				t.Error("SessionSet = false")
			}
			if st.ScheduleUpdate != tc.wantSchedule {
				t.Errorf("ScheduleUpdate = %v, want %v", st.ScheduleUpdate, tc.wantSchedule)
			}
			if st.Err != nil {
				t.Errorf("Err = %v, want nil", st.Err)
			}
			if got := sdk.GetSession(r); got != s {
				t.Errorf("GetSession after SetSession = %p, want %p", got, s)
			}
		})
	}
}

func TestSetSessionScheduleUpdateSticky(t *testing.T) {
	tests := []struct {
		name  string
		calls []bool
		want  bool
	}{
		{name: "true then false", calls: []bool{true, false}, want: true},
		{name: "false then true", calls: []bool{false, true}, want: true},
		{name: "false twice", calls: []bool{false, false}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &reqctx.State{Token: "t"}
			r := withState(st)
			for _, c := range tc.calls {
				sdk.SetSession(r, &apidef.SessionState{}, c)
			}
			if st.ScheduleUpdate != tc.want {
				t.Errorf("ScheduleUpdate = %v, want %v", st.ScheduleUpdate, tc.want)
			}
		})
	}
}

func TestSetSessionSecondCallReplaces(t *testing.T) {
	st := &reqctx.State{Token: "orig"}
	r := withState(st)
	first := &apidef.SessionState{}
	second := &apidef.SessionState{}
	sdk.SetSession(r, first, false)
	sdk.SetSession(r, second, false)
	if st.Session != second {
		t.Error("second SetSession did not replace the session")
	}
	// The second session took the token the first one set.
	if second.KeyID != "orig" {
		t.Errorf("second KeyID = %q, want %q", second.KeyID, "orig")
	}
}

func TestSetSessionNil(t *testing.T) {
	prev := &apidef.SessionState{Alias: "prev"}
	st := &reqctx.State{Session: prev, Token: "t"}
	r := withState(st)
	sdk.SetSession(r, nil, true, true)
	if st.Err == nil || st.Err.Error() != "sdk.SetSession was called with a nil session" {
		t.Errorf("Err = %v, want the nil session error", st.Err)
	}
	if st.Session != prev {
		t.Errorf("session = %p, want the previous one %p kept", st.Session, prev)
	}
	if st.SessionSet || st.ScheduleUpdate {
		t.Errorf("nil SetSession changed state: SessionSet %v ScheduleUpdate %v", st.SessionSet, st.ScheduleUpdate)
	}
	if st.Token != "t" {
		t.Errorf("token = %q, want %q", st.Token, "t")
	}
}

func TestGetAuthToken(t *testing.T) {
	tests := []struct {
		name string
		st   *reqctx.State
		want string
	}{
		{name: "token", st: &reqctx.State{Token: "abc"}, want: "abc"},
		{name: "keyless", st: &reqctx.State{}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sdk.GetAuthToken(withState(tc.st)); got != tc.want {
				t.Errorf("GetAuthToken = %q, want %q", got, tc.want)
			}
		})
	}
}

func sampleAPI() *apidef.APIDefinition {
	return &apidef.APIDefinition{
		Name:   "API",
		APIID:  "api1",
		Active: false,
		Tags:   []string{"t1"},
		Proxy:  apidef.ProxyConfig{ListenPath: "/api/", TargetURL: "http://u"},
		VersionData: apidef.VersionData{
			NotVersioned: true,
			Versions: map[string]apidef.VersionInfo{
				"Default": {Name: "Default", GlobalHeaders: map[string]string{"X-A": "1"}},
			},
		},
		ConfigData: map[string]interface{}{
			"str":    "v",
			"num":    1.5,
			"nested": map[string]interface{}{"k": "v"},
			"list":   []interface{}{"a", "b"},
		},
		CustomMiddleware: apidef.MiddlewareSection{Driver: "goplugin", Pre: []apidef.MiddlewareDefinition{{Name: "Pre", Path: "/p.so"}}},
	}
}

func TestGetDefinition(t *testing.T) {
	api := sampleAPI()
	r := withState(&reqctx.State{API: api})
	got := sdk.GetDefinition(r)
	if got == nil {
		t.Fatal("GetDefinition = nil")
	}
	if got == api {
		t.Fatal("GetDefinition returned the shared definition, want a copy")
	}
	if !reflect.DeepEqual(got, sampleAPI()) {
		t.Errorf("GetDefinition = %+v\nwant %+v", got, sampleAPI())
	}
	if got.Active {
		t.Error("copy Active = true, want the explicit false kept")
	}

	// Mutate everything reachable from the copy.
	got.Name = "changed"
	got.Tags[0] = "changed"
	got.Proxy.ListenPath = "/changed/"
	got.ConfigData["str"] = "changed"
	got.ConfigData["new"] = true
	got.ConfigData["nested"].(map[string]interface{})["k"] = "changed"
	got.ConfigData["list"].([]interface{})[0] = "changed"
	got.VersionData.Versions["Default"].GlobalHeaders["X-A"] = "changed"
	got.VersionData.Versions["v2"] = apidef.VersionInfo{}
	got.CustomMiddleware.Pre[0].Name = "changed"

	if !reflect.DeepEqual(api, sampleAPI()) {
		t.Errorf("changing the copy changed the state's API:\n got %+v\nwant %+v", api, sampleAPI())
	}
	again := sdk.GetDefinition(r)
	if !reflect.DeepEqual(again, sampleAPI()) {
		t.Errorf("a second GetDefinition = %+v, want the original", again)
	}
}

// BenchmarkGetDefinition is one sdk.GetDefinition of a real Tyk definition (6 KB of JSON:
// version data, endpoint lists, plugins, config_data), beside what it cost when it decoded the
// definition's JSON on every call (json), for comparison in one run.
func BenchmarkGetDefinition(b *testing.B) {
	data, err := os.ReadFile("../apidef/testdata/tyk/served/orders-keyed.json")
	if err != nil {
		b.Fatal(err)
	}
	api := new(apidef.APIDefinition)
	if err := json.Unmarshal(data, api); err != nil {
		b.Fatal(err)
	}
	apiJSON, err := json.Marshal(api)
	if err != nil {
		b.Fatal(err)
	}
	r := withState(&reqctx.State{API: api})
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if sdk.GetDefinition(r) == nil {
				b.Fatal("nil")
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var def apidef.APIDefinition
			if err := json.Unmarshal(apiJSON, &def); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestGetDefinitionNoAPI(t *testing.T) {
	if got := sdk.GetDefinition(withState(&reqctx.State{})); got != nil {
		t.Errorf("GetDefinition with no API = %+v, want nil", got)
	}
}

// TestClientIP: the gateway's decision when the request carries one, else the peer's host.
func TestClientIP(t *testing.T) {
	r := withState(&reqctx.State{ClientIP: netip.MustParseAddr("203.0.113.7")})
	r.RemoteAddr = "127.0.0.1:4000"
	if got := sdk.ClientIP(r); got != "203.0.113.7" {
		t.Errorf("ClientIP with the gateway's address = %q, want 203.0.113.7", got)
	}
	r = withState(&reqctx.State{})
	r.RemoteAddr = "[2001:db8::1]:4000"
	if got := sdk.ClientIP(r); got != "2001:db8::1" {
		t.Errorf("ClientIP without the gateway's address = %q, want the peer's 2001:db8::1", got)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr, r.Header["X-Forwarded-For"] = "192.0.2.1:1234", []string{"203.0.113.7"}
	if got := sdk.ClientIP(r); got != "192.0.2.1" {
		t.Errorf("ClientIP of a plain request = %q, want the peer's 192.0.2.1", got)
	}
	if got := sdk.ClientIP(nil); got != "" {
		t.Errorf("ClientIP(nil) = %q", got)
	}
}

func TestPlainRequest(t *testing.T) {
	tests := []struct {
		name string
		r    *http.Request
	}{
		{name: "request without state", r: httptest.NewRequest("GET", "/", nil)},
		{name: "nil request", r: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sdk.GetSession(tc.r); got != nil {
				t.Errorf("GetSession = %+v, want nil", got)
			}
			if got := sdk.GetDefinition(tc.r); got != nil {
				t.Errorf("GetDefinition = %+v, want nil", got)
			}
			if got := sdk.GetAuthToken(tc.r); got != "" {
				t.Errorf("GetAuthToken = %q, want empty", got)
			}
			s := &apidef.SessionState{}
			sdk.SetSession(tc.r, s, true, true) // must not panic
			sdk.SetSession(tc.r, nil, false)    // must not panic
			if s.KeyID != "" {
				t.Errorf("SetSession without state changed KeyID to %q", s.KeyID)
			}
			if got := sdk.GetSession(tc.r); got != nil {
				t.Errorf("GetSession after SetSession without state = %+v, want nil", got)
			}
		})
	}
}
