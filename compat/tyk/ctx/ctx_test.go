//go:build gatehouse_compat

package ctx

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	gh "github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/sdk"
	"github.com/gatehouse/gatehouse/sdk/sdktest"

	"github.com/TykTechnologies/tyk/user"
)

// fullGateway sets every field of the gateway's session.
func fullGateway() *gh.SessionState {
	return &gh.SessionState{
		LastCheck: 1, Allowance: 2.5, Rate: 10, Per: 60, QuotaMax: 1000, QuotaRenews: 1700000000,
		QuotaRemaining: 999, QuotaRenewalRate: 3600, ThrottleInterval: 0.5, ThrottleRetryLimit: 3, Expires: 1800000000,
		Smoothing: gh.RateLimitSmoothing{Enabled: true, Threshold: 3, Trigger: 0.5, Step: 2, Delay: 10},
		AccessRights: map[string]gh.AccessDefinition{
			"api1": {APIName: "one", APIID: "api1", Versions: []string{"Default"},
				AllowedURLs: []gh.AccessSpec{{URL: "/users.*", Methods: []string{"GET", "POST"}}},
				Limit: &gh.APILimit{Rate: 5, Per: 1, ThrottleInterval: 2, ThrottleRetryLimit: 1, QuotaMax: 10, QuotaRenews: 3, QuotaRemaining: 4, QuotaRenewalRate: 60,
					Smoothing: gh.RateLimitSmoothing{Threshold: 1, Step: 1, Delay: 1}}},
			"api2": {APIName: "two", APIID: "api2", Versions: []string{}},
		},
		OrgID: "org", ApplyPolicyID: "legacy", ApplyPolicies: []string{"p1", "p2"},
		DateCreated: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), LastUpdated: "1700000000", IsInactive: true,
		MetaData: map[string]interface{}{"tier": "gold", "nested": map[string]interface{}{"n": 1.0}},
		Tags:     []string{"a", "b"}, Alias: "alias", OauthClientID: "client-1", SessionLifetime: 100, DataExpires: 200,
		EnableDetailedRecording: true, KeyID: "key",
		BasicAuthData: gh.BasicAuthData{Password: "$2a$10$hash", HashType: "bcrypt"},
		HMACEnabled:   true, HmacSecret: "c2VjcmV0",
		JWTData: gh.JWTData{Secret: "jwt-secret"},
	}
}

// TestRoundTripFromGateway: every field of the gateway's session survives the trip through
// Tyk's type and back.
func TestRoundTripFromGateway(t *testing.T) {
	want := fullGateway()
	got := toGateway(fromGateway(fullGateway()))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the session:\n got %#v\nwant %#v", got, want)
	}
	if fromGateway(nil) != nil {
		t.Error("a nil session does not convert to nil")
	}
	// A zero per-API limit is no limit, in both types: it comes back as nil.
	zero := &gh.SessionState{AccessRights: map[string]gh.AccessDefinition{"a": {APIID: "a", Limit: &gh.APILimit{}}}}
	if l := toGateway(fromGateway(zero)).AccessRights["a"].Limit; l != nil {
		t.Errorf("a zero limit came back as %+v, want nil", l)
	}
}

// TestRoundTripFromTyk: the fields of Tyk's session that the gateway keeps survive the trip;
// the others are the documented list.
func TestRoundTripFromTyk(t *testing.T) {
	u := fromGateway(fullGateway())
	back := fromGateway(toGateway(u))
	if !reflect.DeepEqual(back, u) {
		t.Fatalf("round trip changed the session:\n got %#v\nwant %#v", back, u)
	}
	// Fields the gateway does not keep.
	extra := &user.SessionState{
		MaxQueryDepth: 3,
		OauthKeys:     map[string]string{"a": "b"}, Certificate: "cert",
		Monitor:             user.Monitor{TriggerLimits: []float64{80}},
		IdExtractorDeadline: 5, PostExpiryAction: "delete", PostExpiryGracePeriod: 6,
	}
	if got := fromGateway(toGateway(extra)); !reflect.DeepEqual(got, &user.SessionState{}) {
		t.Errorf("fields the gateway does not keep came back: %#v", got)
	}
	// The deprecated detail-recording flag is read.
	if !toGateway(&user.SessionState{EnableDetailRecording: true}).EnableDetailedRecording {
		t.Error("enable_detail_recording was dropped")
	}
}

// TestCertificateBindingsCarried: a plugin's certificate bindings reach the gateway, which
// refuses one that names no certificate, and the gateway's reach a plugin.
func TestCertificateBindingsCarried(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	u := &user.SessionState{
		AccessRights:                  map[string]user.AccessDefinition{"a": {APIID: "a"}},
		MtlsStaticCertificateBindings: []string{"org1" + fp},
	}
	g := toGateway(u)
	if err := g.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	if got := fromGateway(g).MtlsStaticCertificateBindings; !reflect.DeepEqual(got, u.MtlsStaticCertificateBindings) {
		t.Errorf("back to the plugin: %q", got)
	}
	u.MtlsStaticCertificateBindings = []string{"cert-id"}
	if err := toGateway(u).Validate(); err == nil || !strings.Contains(err.Error(), "mtls_static_certificate_bindings[0]") {
		t.Errorf("Validate() = %v, want an error naming mtls_static_certificate_bindings[0]", err)
	}
}

// TestEndpointLimitsConverted: a plugin's per-endpoint rate limits reach the gateway, and the
// gateway's reach a plugin, entry for entry.
func TestEndpointLimitsConverted(t *testing.T) {
	eps := []user.Endpoint{
		{Path: "/x", Methods: []user.EndpointMethod{{Name: "GET", Limit: user.RateLimit{Rate: 1, Per: 60}}, {Name: "POST", Limit: user.RateLimit{Rate: 2, Per: 30}}}},
		{Path: "/y/{id}", Methods: []user.EndpointMethod{{Name: "DELETE", Limit: user.RateLimit{Rate: 5, Per: 1}}}},
	}
	u := &user.SessionState{AccessRights: map[string]user.AccessDefinition{"a": {APIID: "a", Endpoints: eps}}}
	g := toGateway(u)
	if err := g.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	want := []gh.EndpointLimit{
		{Path: "/x", Methods: []gh.EndpointMethodLimit{{Name: "GET", Limit: gh.RateLimit{Rate: 1, Per: 60}}, {Name: "POST", Limit: gh.RateLimit{Rate: 2, Per: 30}}}},
		{Path: "/y/{id}", Methods: []gh.EndpointMethodLimit{{Name: "DELETE", Limit: gh.RateLimit{Rate: 5, Per: 1}}}},
	}
	if got := g.AccessRights["a"].Endpoints; !reflect.DeepEqual(got, want) {
		t.Errorf("toGateway endpoints = %+v, want %+v", got, want)
	}
	if back := fromGateway(g).AccessRights["a"].Endpoints; !reflect.DeepEqual(back, eps) {
		t.Errorf("fromGateway endpoints = %+v, want %+v", back, eps)
	}
}

func TestSessionThroughTheRequest(t *testing.T) {
	r := sdktest.NewRequest("GET", "/api/x", nil, sdktest.WithToken("tok"))
	if GetSession(r) != nil {
		t.Fatal("a session before auth")
	}
	s := &user.SessionState{Alias: "al", Rate: 3, Per: 1, MetaData: map[string]interface{}{"k": "v"}}
	SetSession(r, s, true, true)
	if s.KeyID != "tok" || !s.IsModified() {
		t.Errorf("KeyID %q, modified %v: want the auth token and a touched session", s.KeyID, s.IsModified())
	}
	if got := sdk.GetSession(r); got.Alias != "al" || got.Rate != 3 || got.KeyID != "tok" {
		t.Errorf("the gateway sees %+v", got)
	}
	if GetAuthToken(r) != "tok" {
		t.Errorf("auth token %q", GetAuthToken(r))
	}
	// The meta data of the session a plugin got is the request's.
	GetSession(r).MetaData["added"] = true
	if sdk.GetSession(r).MetaData["added"] != true {
		t.Error("a change to the meta data is lost")
	}
}

func TestSetSessionNilFailsTheRequest(t *testing.T) {
	res := sdktest.Run(func(w http.ResponseWriter, r *http.Request) { SetSession(r, nil, true) },
		sdktest.NewRequest("GET", "/x", nil))
	if res.Panic == nil && res.Err == nil {
		t.Errorf("SetSession(nil) went unnoticed: %+v", res)
	}
}

func TestGetDefinition(t *testing.T) {
	r := sdktest.NewRequest("GET", "/x", nil, sdktest.WithConfigData(map[string]any{"my-context-data": "v"}))
	def := GetDefinition(r)
	if def == nil || def.APIID != "test" || def.ConfigData["my-context-data"] != "v" {
		t.Fatalf("definition %+v", def)
	}
	def.ConfigData["my-context-data"] = "changed"
	if GetDefinition(r).ConfigData["my-context-data"] != "v" {
		t.Error("changing the copy changed the gateway's definition")
	}
	if GetDefinition(&http.Request{}) != nil {
		t.Error("a definition outside the gateway")
	}
}

func TestKeys(t *testing.T) {
	for k, want := range map[Key]uint{AuthToken: 2, ContextData: 8, Definition: 24, OASDefinition: 29, MatchedIdPBinding: 42} {
		if uint(k) != want {
			t.Errorf("key %d, want %d", k, want)
		}
	}
}

// BenchmarkGetSession is the cost of ctx.GetSession over sdk.GetSession: the conversion of a
// session with two access rights and meta data.
func BenchmarkGetSession(b *testing.B) {
	r := sdktest.NewRequest("GET", "/x", nil, sdktest.WithSession(fullGateway()))
	b.ReportAllocs()
	for b.Loop() {
		if GetSession(r) == nil {
			b.Fatal("no session")
		}
	}
}

// BenchmarkSDKGetSession is the same call without conversion, for comparison.
func BenchmarkSDKGetSession(b *testing.B) {
	r := sdktest.NewRequest("GET", "/x", nil, sdktest.WithSession(fullGateway()))
	b.ReportAllocs()
	for b.Loop() {
		if sdk.GetSession(r) == nil {
			b.Fatal("no session")
		}
	}
}

// BenchmarkSetSession is the cost of ctx.SetSession: converting Tyk's session to the gateway's.
func BenchmarkSetSession(b *testing.B) {
	r := sdktest.NewRequest("GET", "/x", nil)
	s := fromGateway(fullGateway())
	b.ReportAllocs()
	for b.Loop() {
		SetSession(r, s, true)
	}
}
