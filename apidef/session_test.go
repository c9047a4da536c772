package apidef_test

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestPolicyIDs(t *testing.T) {
	tests := []struct {
		name    string
		single  string
		list    []string
		want    []string
		wantNil bool
	}{
		{name: "none", wantNil: true},
		{name: "list only", list: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "single only", single: "p", want: []string{"p"}},
		{name: "single not in list goes first", single: "p", list: []string{"a", "b"}, want: []string{"p", "a", "b"}},
		{name: "single already in list", single: "b", list: []string{"a", "b"}, want: []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &apidef.SessionState{ApplyPolicyID: tc.single, ApplyPolicies: slices.Clone(tc.list)}
			got := s.PolicyIDs()
			if tc.wantNil {
				if got != nil {
					t.Errorf("PolicyIDs() = %q, want nil", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("PolicyIDs() = %q, want %q", got, tc.want)
			}
			if !slices.Equal(s.ApplyPolicies, tc.list) {
				t.Errorf("PolicyIDs changed ApplyPolicies to %q, want %q", s.ApplyPolicies, tc.list)
			}
		})
	}
}

func TestPolicyIDsDoesNotAliasList(t *testing.T) {
	// Appending to the result must not write into the session's backing array.
	list := make([]string, 1, 4)
	list[0] = "a"
	s := &apidef.SessionState{ApplyPolicyID: "p", ApplyPolicies: list}
	got := s.PolicyIDs()
	got[0] = "changed"
	if s.ApplyPolicies[0] != "a" || s.ApplyPolicyID != "p" {
		t.Errorf("session changed through PolicyIDs result: %q %q", s.ApplyPolicyID, s.ApplyPolicies)
	}
}

func sampleSession() *apidef.SessionState {
	return &apidef.SessionState{
		LastCheck:        1,
		Allowance:        2,
		Rate:             10,
		Per:              60,
		QuotaMax:         100,
		QuotaRenews:      1700000000,
		QuotaRemaining:   50,
		QuotaRenewalRate: 3600,
		Expires:          1800000000,
		AccessRights: map[string]apidef.AccessDefinition{
			"api1": {
				APIName:     "API 1",
				APIID:       "api1",
				Versions:    []string{"Default", "v2"},
				AllowedURLs: []apidef.AccessSpec{{URL: "/users", Methods: []string{"GET"}}},
				Limit:       &apidef.APILimit{Rate: 5, Per: 1, QuotaMax: 10},
			},
		},
		OrgID:         "org",
		ApplyPolicyID: "old",
		ApplyPolicies: []string{"p1", "p2"},
		DateCreated:   time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		LastUpdated:   "123",
		IsInactive:    true,
		MetaData: map[string]interface{}{
			"user":   "alice",
			"score":  1.5,
			"nested": map[string]interface{}{"team": "blue"},
			"list":   []interface{}{"x", "y"},
		},
		Tags:                    []string{"t1"},
		Alias:                   "alice-key",
		SessionLifetime:         30,
		DataExpires:             40,
		EnableDetailedRecording: true,
		KeyID:                   "raw-key-123",
	}
}

func TestClone(t *testing.T) {
	orig := sampleSession()
	want := sampleSession()
	c := orig.Clone()
	if c == orig {
		t.Fatal("Clone returned the same pointer")
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Clone() = %+v\nwant   %+v", c, want)
	}
	if c.KeyID != "raw-key-123" {
		t.Errorf("Clone().KeyID = %q, want %q", c.KeyID, "raw-key-123")
	}

	// Mutate everything reachable from the clone.
	ar := c.AccessRights["api1"]
	ar.Versions[0] = "mutated"
	ar.AllowedURLs[0].URL = "/mutated"
	ar.AllowedURLs[0].Methods[0] = "DELETE"
	ar.Limit.Rate = 999
	c.AccessRights["api2"] = apidef.AccessDefinition{APIID: "api2"}
	c.MetaData["user"] = "mallory"
	c.MetaData["nested"].(map[string]interface{})["team"] = "red"
	c.MetaData["list"].([]interface{})[0] = "z"
	c.MetaData["new"] = true
	c.Tags[0] = "mutated"
	c.ApplyPolicies[0] = "mutated"
	c.Rate = 1
	c.KeyID = "other"

	if !reflect.DeepEqual(orig, want) {
		t.Errorf("mutating the clone changed the original:\n got %+v\nwant %+v", orig, want)
	}
}

func TestCloneNil(t *testing.T) {
	var s *apidef.SessionState
	if c := s.Clone(); c != nil {
		t.Errorf("(*SessionState)(nil).Clone() = %+v, want nil", c)
	}
}

func TestCloneEmpty(t *testing.T) {
	s := &apidef.SessionState{KeyID: "k"}
	c := s.Clone()
	if c.KeyID != "k" || c.AccessRights != nil || c.MetaData != nil || c.Tags != nil {
		t.Errorf("Clone of empty session = %+v", c)
	}
}

func TestSessionKeyIDNotSerialised(t *testing.T) {
	data, err := json.Marshal(&apidef.SessionState{KeyID: "secret-key"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		if s, ok := v.(string); ok && s == "secret-key" {
			t.Errorf("KeyID serialised as %q", k)
		}
	}
}

func TestLimitFor(t *testing.T) {
	s := &apidef.SessionState{
		Rate: 10, Per: 60, QuotaMax: 100, QuotaRenews: 7, QuotaRemaining: 40, QuotaRenewalRate: 3600,
		AccessRights: map[string]apidef.AccessDefinition{
			"own":       {Limit: &apidef.APILimit{Rate: 1, Per: 2, QuotaMax: 3, QuotaRenews: 4, QuotaRemaining: 5, QuotaRenewalRate: 6}},
			"quotaonly": {Limit: &apidef.APILimit{QuotaMax: 9}},
			"nil":       {},
			"zero":      {Limit: &apidef.APILimit{}},
			"counters":  {Limit: &apidef.APILimit{QuotaRenews: 8, QuotaRemaining: 9}},
		},
	}
	sessionLimit := apidef.APILimit{Rate: 10, Per: 60, QuotaMax: 100, QuotaRenews: 7, QuotaRemaining: 40, QuotaRenewalRate: 3600}
	tests := []struct {
		name       string
		api        string
		want       apidef.APILimit
		wantPerAPI bool
	}{
		{name: "own limit", api: "own", want: apidef.APILimit{Rate: 1, Per: 2, QuotaMax: 3, QuotaRenews: 4, QuotaRemaining: 5, QuotaRenewalRate: 6}, wantPerAPI: true},
		{name: "quota only limit", api: "quotaonly", want: apidef.APILimit{QuotaMax: 9}, wantPerAPI: true},
		{name: "nil limit", api: "nil", want: sessionLimit},
		{name: "zero limit", api: "zero", want: sessionLimit},
		{name: "only counters set counts as zero", api: "counters", want: sessionLimit},
		{name: "api without access right", api: "other", want: sessionLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, perAPI := s.LimitFor(tc.api)
			if got != tc.want || perAPI != tc.wantPerAPI {
				t.Errorf("LimitFor(%q) = %+v, %v; want %+v, %v", tc.api, got, perAPI, tc.want, tc.wantPerAPI)
			}
		})
	}
}

func TestLimitForReturnsCopy(t *testing.T) {
	s := &apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"a": {Limit: &apidef.APILimit{Rate: 1, Per: 1}},
	}}
	l, _ := s.LimitFor("a")
	l.Rate = 100
	if s.AccessRights["a"].Limit.Rate != 1 {
		t.Errorf("changing the returned limit changed the session: rate %v", s.AccessRights["a"].Limit.Rate)
	}
}

func TestAPILimitIsZero(t *testing.T) {
	tests := []struct {
		name string
		l    *apidef.APILimit
		want bool
	}{
		{name: "nil", l: nil, want: true},
		{name: "empty", l: &apidef.APILimit{}, want: true},
		{name: "rate", l: &apidef.APILimit{Rate: 1}, want: false},
		{name: "per", l: &apidef.APILimit{Per: 1}, want: false},
		{name: "quota_max", l: &apidef.APILimit{QuotaMax: -1}, want: false},
		{name: "renewal rate", l: &apidef.APILimit{QuotaRenewalRate: 60}, want: false},
		{name: "counters only", l: &apidef.APILimit{QuotaRemaining: 5, QuotaRenews: 5}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.IsZero(); got != tc.want {
				t.Errorf("IsZero() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSessionValidate covers SessionState.Validate. The gateway reaches it only with decoded
// JSON, which cannot hold NaN, but it is an exported method of the package plugins import: a
// session built in Go can hold NaN, which every range comparison lets through.
func TestSessionValidate(t *testing.T) {
	limit := func(l apidef.APILimit) func(s *apidef.SessionState) {
		return func(s *apidef.SessionState) {
			s.AccessRights = map[string]apidef.AccessDefinition{"a": {APIID: "a", Limit: &l}}
		}
	}
	tests := []struct {
		name   string
		modify func(s *apidef.SessionState)
		want   []string // substrings, one per problem; none means valid
	}{
		{name: "valid", modify: func(s *apidef.SessionState) {}},
		{name: "at the bounds", modify: func(s *apidef.SessionState) {
			s.Rate, s.Per, s.QuotaRenewalRate, s.SessionLifetime = apidef.MaxRate, apidef.MaxPeriod, apidef.MaxPeriod, apidef.MaxPeriod
		}},
		{name: "rate too high", modify: func(s *apidef.SessionState) { s.Rate = apidef.MaxRate * 2 }, want: []string{"rate 2e+09 is more than 1e+09"}},
		{name: "rate infinite", modify: func(s *apidef.SessionState) { s.Rate = math.Inf(1) }, want: []string{"rate +Inf is more than"}},
		{name: "per too long", modify: func(s *apidef.SessionState) { s.Per = apidef.MaxPeriod + 1 }, want: []string{"per 3.153600001e+09 is more than"}},
		{name: "quota_renewal_rate too long", modify: func(s *apidef.SessionState) { s.QuotaRenewalRate = apidef.MaxPeriod + 1 }, want: []string{"quota_renewal_rate 3153600001 is more than"}},
		{name: "session_lifetime too long", modify: func(s *apidef.SessionState) { s.SessionLifetime = apidef.MaxPeriod + 1 }, want: []string{"session_lifetime 3153600001 is more than"}},
		// One rule with global_rate_limit (apidef.CheckRate).
		{name: "per 0 with a rate", modify: func(s *apidef.SessionState) { s.Per = 0 }, want: []string{"per is 0; with a rate of 10 it must be a positive number of seconds"}},
		{name: "per below a millisecond", modify: func(s *apidef.SessionState) { s.Per = 1e-10 }, want: []string{"per 1e-10 is less than 0.001 seconds"}},
		{name: "rate 0 sets no limit, whatever per", modify: func(s *apidef.SessionState) { s.Rate, s.Per = 0, -5 }},
		{name: "rate -1 sets no limit", modify: func(s *apidef.SessionState) { s.Rate, s.Per = -1, 0 }},
		{name: "rate NaN", modify: func(s *apidef.SessionState) { s.Rate = math.NaN() }, want: []string{"rate and per must be numbers"}},
		{name: "per NaN", modify: func(s *apidef.SessionState) { s.Per = math.NaN() }, want: []string{"rate and per must be numbers"}},
		{name: "access right limit", modify: limit(apidef.APILimit{Rate: apidef.MaxRate + 1, Per: math.NaN()}),
			want: []string{`access_rights["a"].limit.rate`, `access_rights["a"].limit.rate and per must be numbers`}},
		{name: "access right without limit", modify: func(s *apidef.SessionState) {
			s.AccessRights = map[string]apidef.AccessDefinition{"a": {APIID: "a"}}
		}},
		{name: "a custom rate limit key", modify: func(s *apidef.SessionState) {
			s.MetaData = map[string]any{"rate_limit_pattern": "$tyk_context.request_data.user", "team": "a"}
		}, want: []string{"meta_data.rate_limit_pattern (Tyk's custom rate limit and quota key) is not supported"}},
		{name: "other meta data", modify: func(s *apidef.SessionState) {
			s.MetaData = map[string]any{"rate_limit_pattern": "", "team": "a"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &apidef.SessionState{Rate: 10, Per: 60, QuotaMax: 100, QuotaRenewalRate: 3600}
			tc.modify(s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(tc.want) {
				t.Errorf("Validate() reported %d problems, want %d: %v", n, len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
