package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/policy"
)

func ids(set policy.Set) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantIDs []string
		// check maps policy id to the expected name, rate.
		check   map[string]apidef.Policy
		wantErr string
	}{
		{
			name:    "object by id",
			data:    `{"p1": {"id": "p1", "name": "One", "rate": 10, "per": 60}, "p2": {"id": "p2", "name": "Two"}}`,
			wantIDs: []string{"p1", "p2"},
			check:   map[string]apidef.Policy{"p1": {ID: "p1", Name: "One", Rate: 10, Per: 60}, "p2": {ID: "p2", Name: "Two"}},
		},
		{
			name:    "missing id takes the key",
			data:    `{"gold": {"name": "Gold", "quota_max": 1000}}`,
			wantIDs: []string{"gold"},
			check:   map[string]apidef.Policy{"gold": {ID: "gold", Name: "Gold", QuotaMax: 1000}},
		},
		{
			// As in Tyk, which keeps the file's object as it decodes it: keys name the policy by
			// its key, and two entries with the same "id" do not replace each other.
			name:    "the key names the policy, whatever its id field",
			data:    `{"key": {"id": "real", "name": "R"}, "other": {"id": "real", "name": "O"}}`,
			wantIDs: []string{"key", "other"},
			check:   map[string]apidef.Policy{"key": {ID: "key", Name: "R"}, "other": {ID: "other", Name: "O"}},
		},
		{
			name:    "null entry skipped",
			data:    `{"a": null, "b": {"name": "B"}}`,
			wantIDs: []string{"b"},
		},
		{
			name:    "empty object",
			data:    `{}`,
			wantIDs: nil,
		},
		{
			name:    "array form",
			data:    `[{"id": "a", "name": "A"}, {"id": "b", "rate": 5, "per": 1}]`,
			wantIDs: []string{"a", "b"},
			check:   map[string]apidef.Policy{"a": {ID: "a", Name: "A"}, "b": {ID: "b", Rate: 5, Per: 1}},
		},
		{
			name:    "empty array",
			data:    `[]`,
			wantIDs: nil,
		},
		{
			name:    "array without id",
			data:    `[{"id": "a"}, {"name": "no id"}]`,
			wantErr: "decoding policies: policy 1 has no id",
		},
		{
			name:    "array with null",
			data:    `[null]`,
			wantErr: "decoding policies: policy 0 has no id",
		},
		{
			name:    "garbage",
			data:    `not json`,
			wantErr: "decoding policies: want an object of policies by id (or an array of policies)",
		},
		{
			name:    "wrong shape",
			data:    `"a string"`,
			wantErr: "decoding policies: want an object of policies by id",
		},
		{
			name:    "wrong field type",
			data:    `{"p": {"rate": "fast"}}`,
			wantErr: "decoding policies",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := policy.Parse([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse = %v, nil; want error %q", ids(set), tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Parse error = %q, want it to contain %q", err, tc.wantErr)
				}
				if set != nil {
					t.Errorf("Parse returned a set %v with the error", ids(set))
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := ids(set); !slices.Equal(got, tc.wantIDs) {
				t.Errorf("ids = %q, want %q", got, tc.wantIDs)
			}
			for id, want := range tc.check {
				p := set[id]
				if p == nil {
					t.Errorf("policy %q missing", id)
					continue
				}
				if p.ID != want.ID || p.Name != want.Name || p.Rate != want.Rate || p.Per != want.Per || p.QuotaMax != want.QuotaMax {
					t.Errorf("policy %q = %+v, want id %q name %q rate %v per %v quota %d", id, p, want.ID, want.Name, want.Rate, want.Per, want.QuotaMax)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policies.json")
	if err := os.WriteFile(good, []byte(`{"p": {"rate": 1, "per": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A named pipe no one writes to (opening it used to wait for a writer, holding every
	// reload), a file over the bound (sparse: it takes no room). (A device, such as /dev/zero,
	// is refused as the pipe is: internal/regfile's tests.)
	pipe := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, policy.MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantIDs []string
		wantErr string
	}{
		{name: "empty path", path: "", wantIDs: nil},
		{name: "file", path: good, wantIDs: []string{"p"}},
		{name: "missing file", path: filepath.Join(dir, "nope.json"), wantErr: "reading policies"},
		{name: "named pipe", path: pipe, wantErr: "reading policies: read " + pipe + ": not a regular file but a named pipe (FIFO)"},
		{name: "too large", path: huge, wantErr: "larger than 64 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var set policy.Set
			var err error
			done := make(chan struct{})
			go func() {
				defer close(done)
				set, err = policy.Load(tc.path)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load did not return within 10s")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if set == nil {
				t.Fatal("Load returned a nil set")
			}
			if got := ids(set); !slices.Equal(got, tc.wantIDs) {
				t.Errorf("ids = %q, want %q", got, tc.wantIDs)
			}
		})
	}
}

func TestApplyNoPolicies(t *testing.T) {
	s := &apidef.SessionState{Rate: 1, Per: 1}
	got, err := policy.Set{"p": {ID: "p", Rate: 100, Per: 1}}.Apply(s)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Errorf("Apply of a session naming no policy returned %p, want the same pointer %p", got, s)
	}
}

func TestApplyErrors(t *testing.T) {
	set := policy.Set{
		"p":     {ID: "p", OrgID: "org1"},
		"noorg": {ID: "noorg"},
	}
	tests := []struct {
		name        string
		s           apidef.SessionState
		wantUnknown bool
		wantErr     string
	}{
		{name: "unknown policy", s: apidef.SessionState{ApplyPolicies: []string{"p", "missing"}, OrgID: "org1"}, wantUnknown: true, wantErr: `unknown policy "missing"`},
		{name: "unknown legacy policy id", s: apidef.SessionState{ApplyPolicyID: "gone"}, wantUnknown: true, wantErr: `unknown policy "gone"`},
		{name: "org mismatch", s: apidef.SessionState{ApplyPolicies: []string{"p"}, OrgID: "org2"}, wantErr: `policy "p" belongs to org "org1", the key to org "org2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := set.Apply(&tc.s)
			if err == nil {
				t.Fatalf("Apply = %+v, nil; want error", got)
			}
			if got != nil {
				t.Errorf("Apply returned a session with the error: %+v", got)
			}
			if errors.Is(err, policy.ErrUnknownPolicy) != tc.wantUnknown {
				t.Errorf("errors.Is(%v, ErrUnknownPolicy) = %v, want %v", err, !tc.wantUnknown, tc.wantUnknown)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestApplyOrg(t *testing.T) {
	tests := []struct {
		name      string
		policyOrg string
		keyOrg    string
	}{
		{name: "same org", policyOrg: "o", keyOrg: "o"},
		{name: "policy without org", policyOrg: "", keyOrg: "o"},
		{name: "key without org", policyOrg: "o", keyOrg: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := policy.Set{"p": {ID: "p", OrgID: tc.policyOrg}}
			if _, err := set.Apply(&apidef.SessionState{ApplyPolicies: []string{"p"}, OrgID: tc.keyOrg}); err != nil {
				t.Errorf("Apply: %v, want nil", err)
			}
		})
	}
}

func TestApplyLimits(t *testing.T) {
	tests := []struct {
		name        string
		policies    []*apidef.Policy
		session     apidef.SessionState
		wantRate    float64
		wantPer     float64
		wantQuota   int64
		wantRenewal int64
	}{
		{
			name:     "single policy replaces the session's limits",
			policies: []*apidef.Policy{{ID: "a", Rate: 10, Per: 60, QuotaMax: 100, QuotaRenewalRate: 3600}},
			session:  apidef.SessionState{Rate: 1000, Per: 1, QuotaMax: -1, QuotaRenewalRate: 1},
			wantRate: 10, wantPer: 60, wantQuota: 100, wantRenewal: 3600,
		},
		{
			name: "highest rate per second wins",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 100, Per: 60, QuotaMax: 10, QuotaRenewalRate: 60}, // 1.67/s
				{ID: "b", Rate: 10, Per: 1, QuotaMax: 10, QuotaRenewalRate: 60},   // 10/s
				{ID: "c", Rate: 5, Per: 1, QuotaMax: 10, QuotaRenewalRate: 60},    // 5/s
			},
			wantRate: 10, wantPer: 1, wantQuota: 10, wantRenewal: 60,
		},
		{
			name: "more requests over a longer period is not a higher rate",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 2, Per: 1, QuotaMax: 1},
				{ID: "b", Rate: 60, Per: 60, QuotaMax: 1},
			},
			wantRate: 2, wantPer: 1, wantQuota: 1,
		},
		{
			name: "a policy without a rate does not lift another's",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 100, Per: 1, QuotaMax: 1},
				{ID: "b", Rate: 0, Per: 0, QuotaMax: 1},
				{ID: "c", Rate: 1000, Per: 1, QuotaMax: 1},
			},
			wantRate: 1000, wantPer: 1, wantQuota: 1,
		},
		{
			name: "unlimited rate -1 wins",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 100, Per: 1, QuotaMax: 1},
				{ID: "b", Rate: -1, Per: -1, QuotaMax: 1},
			},
			wantRate: -1, wantPer: -1, wantQuota: 1,
		},
		{
			name: "partitions: an ACL-only policy leaves the rate alone",
			policies: []*apidef.Policy{
				{ID: "rl", Rate: 2, Per: 60, Partitions: apidef.PolicyPartitions{RateLimit: true}},
				{ID: "acl", Rate: 0, Per: 0, QuotaMax: 99, Partitions: apidef.PolicyPartitions{ACL: true}},
			},
			wantRate: 2, wantPer: 60, wantQuota: 0,
		},
		{
			name: "highest quota wins with its renewal rate",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 1, Per: 1, QuotaMax: 100, QuotaRenewalRate: 60},
				{ID: "b", Rate: 1, Per: 1, QuotaMax: 1000, QuotaRenewalRate: 3600},
				{ID: "c", Rate: 1, Per: 1, QuotaMax: 500, QuotaRenewalRate: 10},
			},
			wantRate: 1, wantPer: 1, wantQuota: 1000, wantRenewal: 3600,
		},
		{
			name: "unlimited quota -1 wins",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 1, Per: 1, QuotaMax: 100, QuotaRenewalRate: 60},
				{ID: "b", Rate: 1, Per: 1, QuotaMax: -1, QuotaRenewalRate: 0},
				{ID: "c", Rate: 1, Per: 1, QuotaMax: 1000000, QuotaRenewalRate: 5},
			},
			wantRate: 1, wantPer: 1, wantQuota: -1, wantRenewal: 0,
		},
		{
			name: "unlimited quota first stays",
			policies: []*apidef.Policy{
				{ID: "a", Rate: 1, Per: 1, QuotaMax: -1},
				{ID: "b", Rate: 1, Per: 1, QuotaMax: 1 << 40, QuotaRenewalRate: 5},
			},
			wantRate: 1, wantPer: 1, wantQuota: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := applyAll(t, tc.session, tc.policies)
			if got.Rate != tc.wantRate || got.Per != tc.wantPer || got.QuotaMax != tc.wantQuota || got.QuotaRenewalRate != tc.wantRenewal {
				t.Errorf("Apply = rate %v per %v quota %d renewal %d; want rate %v per %v quota %d renewal %d",
					got.Rate, got.Per, got.QuotaMax, got.QuotaRenewalRate, tc.wantRate, tc.wantPer, tc.wantQuota, tc.wantRenewal)
			}
		})
	}
}

// applyAll applies policies, in order, to a copy of s that names them all.
func applyAll(t *testing.T, s apidef.SessionState, policies []*apidef.Policy) *apidef.SessionState {
	t.Helper()
	set := policy.Set{}
	for _, p := range policies {
		set[p.ID] = p
		s.ApplyPolicies = append(s.ApplyPolicies, p.ID)
	}
	got, err := set.Apply(&s)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestApplyThrottle: throttling comes with the rate limit partition. The policies' settings
// replace the key's own, the largest of each winning; a policy without the partition changes
// nothing, and with per_api each API's limit carries them.
func TestApplyThrottle(t *testing.T) {
	key := apidef.SessionState{ThrottleInterval: 9, ThrottleRetryLimit: 9}
	for _, tc := range []struct {
		name     string
		policies []*apidef.Policy
		interval float64
		retries  int
	}{
		{"one policy replaces the key's", []*apidef.Policy{{ID: "a", Rate: 1, Per: 1, ThrottleInterval: 2, ThrottleRetryLimit: 3}}, 2, 3},
		{"the largest of each wins", []*apidef.Policy{
			{ID: "a", Rate: 1, Per: 1, ThrottleInterval: 2, ThrottleRetryLimit: 1},
			{ID: "b", Rate: 1, Per: 1, ThrottleInterval: 0.5, ThrottleRetryLimit: 4},
		}, 2, 4},
		{"Tyk's -1 turns the key's off", []*apidef.Policy{{ID: "a", Rate: 1, Per: 1, ThrottleInterval: -1, ThrottleRetryLimit: -1}}, -1, -1},
		{"an ACL-only policy leaves the key's", []*apidef.Policy{
			{ID: "a", ThrottleInterval: 1, ThrottleRetryLimit: 1, Partitions: apidef.PolicyPartitions{ACL: true}}}, 9, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := applyAll(t, key, tc.policies)
			if got.ThrottleInterval != tc.interval || got.ThrottleRetryLimit != tc.retries {
				t.Errorf("throttle %v × %d, want %v × %d", got.ThrottleInterval, got.ThrottleRetryLimit, tc.interval, tc.retries)
			}
		})
	}
	set := policy.Set{"p": {ID: "p", Rate: 1, Per: 1, ThrottleInterval: 2, ThrottleRetryLimit: 3,
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api"}},
		Partitions:   apidef.PolicyPartitions{RateLimit: true, ACL: true, PerAPI: true}}}
	got, err := set.Apply(&apidef.SessionState{ApplyPolicies: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	if lim, perAPI := got.LimitFor("api"); !perAPI || lim.ThrottleInterval != 2 || lim.ThrottleRetryLimit != 3 {
		t.Errorf("per_api limit %+v (per API %v), want the policy's throttling", lim, perAPI)
	}
	if err := policy.Check(&apidef.Policy{ID: "x", ThrottleInterval: 7200}); err == nil || !strings.Contains(err.Error(), "throttle_interval") {
		t.Errorf("Check of a two-hour throttle_interval: %v", err)
	}
}

func TestApplyAccessRights(t *testing.T) {
	limit := &apidef.APILimit{Rate: 3, Per: 1}
	set := policy.Set{
		"a": {ID: "a", AccessRights: map[string]apidef.AccessDefinition{
			"api1": {APIID: "api1", APIName: "API 1", Versions: []string{"v1", "v2"},
				AllowedURLs: []apidef.AccessSpec{{URL: "/users", Methods: []string{"GET"}}}},
			"api2": {Versions: []string{"Default"}},
		}},
		"b": {ID: "b", AccessRights: map[string]apidef.AccessDefinition{
			"api1": {APIID: "api1", Versions: []string{"v2", "v3"},
				AllowedURLs: []apidef.AccessSpec{{URL: "/orders", Methods: []string{"POST"}}}, Limit: limit},
			"api3": {APIID: "api3", Versions: []string{"Default"}},
		}},
	}
	s := &apidef.SessionState{
		ApplyPolicies: []string{"a", "b"},
		AccessRights:  map[string]apidef.AccessDefinition{"own": {APIID: "own"}},
	}
	got, err := set.Apply(s)
	if err != nil {
		t.Fatal(err)
	}
	var apis []string
	for k := range got.AccessRights {
		apis = append(apis, k)
	}
	sort.Strings(apis)
	if want := []string{"api1", "api2", "api3"}; !slices.Equal(apis, want) {
		t.Errorf("access rights for %q, want %q", apis, want)
	}
	api1 := got.AccessRights["api1"]
	if want := []string{"v1", "v2", "v3"}; !slices.Equal(api1.Versions, want) {
		t.Errorf("api1 versions = %q, want the union %q", api1.Versions, want)
	}
	wantURLs := []apidef.AccessSpec{{URL: "/users", Methods: []string{"GET"}}, {URL: "/orders", Methods: []string{"POST"}}}
	if !reflect.DeepEqual(api1.AllowedURLs, wantURLs) {
		t.Errorf("api1 allowed_urls = %+v, want %+v", api1.AllowedURLs, wantURLs)
	}
	if api1.Limit == nil || *api1.Limit != *limit {
		t.Errorf("api1 limit = %+v, want %+v (the first non-zero)", api1.Limit, limit)
	}
	if api1.APIName != "API 1" {
		t.Errorf("api1 name = %q, want %q", api1.APIName, "API 1")
	}
	if got.AccessRights["api2"].APIID != "api2" {
		t.Errorf("api2 APIID = %q, want it filled from the map key", got.AccessRights["api2"].APIID)
	}
	// The policies are unchanged by the merge.
	if v := set["a"].AccessRights["api1"].Versions; !slices.Equal(v, []string{"v1", "v2"}) {
		t.Errorf("policy a api1 versions changed to %q", v)
	}
	if u := set["a"].AccessRights["api1"].AllowedURLs; len(u) != 1 {
		t.Errorf("policy a api1 allowed_urls changed to %+v", u)
	}
	if set["a"].AccessRights["api2"].APIID != "" {
		t.Errorf("policy a api2 APIID changed to %q", set["a"].AccessRights["api2"].APIID)
	}
}

func TestApplyAccessRightsVersionsDeduplicated(t *testing.T) {
	set := policy.Set{
		"a": {ID: "a", AccessRights: map[string]apidef.AccessDefinition{"api": {Versions: []string{"v1"}}}},
		"b": {ID: "b", AccessRights: map[string]apidef.AccessDefinition{"api": {Versions: []string{"v1", "v2"}}}},
		"c": {ID: "c", AccessRights: map[string]apidef.AccessDefinition{"api": {Versions: []string{"v2", "v1"}}}},
	}
	got, err := set.Apply(&apidef.SessionState{ApplyPolicies: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.AccessRights["api"].Versions; !slices.Equal(v, []string{"v1", "v2"}) {
		t.Errorf("versions = %q, want [v1 v2]", v)
	}
}

func TestApplyInactive(t *testing.T) {
	tests := []struct {
		name     string
		policies []string
		session  bool
		want     bool
	}{
		{name: "active policies", policies: []string{"on"}, want: false},
		{name: "one inactive policy", policies: []string{"on", "off"}, want: true},
		{name: "inactive session stays inactive", policies: []string{"on"}, session: true, want: true},
	}
	set := policy.Set{
		"on":  {ID: "on", Active: true},
		"off": {ID: "off", Active: true, IsInactive: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &apidef.SessionState{ApplyPolicies: tc.policies, IsInactive: tc.session}
			got, err := set.Apply(s)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsInactive != tc.want {
				t.Errorf("IsInactive = %v, want %v", got.IsInactive, tc.want)
			}
			if s.IsInactive != tc.session {
				t.Errorf("original IsInactive changed to %v", s.IsInactive)
			}
		})
	}
}

func TestApplyTagsAndMeta(t *testing.T) {
	set := policy.Set{
		"a": {ID: "a", Tags: []string{"gold", "eu"}, MetaData: map[string]interface{}{"tier": "gold", "region": "eu"}},
		"b": {ID: "b", Tags: []string{"eu", "beta"}, MetaData: map[string]interface{}{"tier": "silver", "beta": true}},
	}
	tests := []struct {
		name     string
		session  apidef.SessionState
		wantTags []string
		wantMeta map[string]interface{}
	}{
		{
			name:     "merged into the session's own",
			session:  apidef.SessionState{Tags: []string{"own", "eu"}, MetaData: map[string]interface{}{"tier": "own", "user": "alice"}},
			wantTags: []string{"own", "eu", "gold", "beta"},
			wantMeta: map[string]interface{}{"tier": "own", "user": "alice", "region": "eu", "beta": true},
		},
		{
			name:     "session without tags or meta",
			session:  apidef.SessionState{},
			wantTags: []string{"gold", "eu", "beta"},
			wantMeta: map[string]interface{}{"tier": "gold", "region": "eu", "beta": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.session
			s.ApplyPolicies = []string{"a", "b"}
			got, err := set.Apply(&s)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Tags, tc.wantTags) {
				t.Errorf("Tags = %q, want %q", got.Tags, tc.wantTags)
			}
			if !reflect.DeepEqual(got.MetaData, tc.wantMeta) {
				t.Errorf("MetaData = %v, want %v", got.MetaData, tc.wantMeta)
			}
		})
	}
	if !slices.Equal(set["a"].Tags, []string{"gold", "eu"}) || len(set["a"].MetaData) != 2 {
		t.Errorf("policy a changed: tags %q meta %v", set["a"].Tags, set["a"].MetaData)
	}
}

func TestApplyDoesNotModifyOriginal(t *testing.T) {
	set := policy.Set{
		"a": {ID: "a", Rate: 50, Per: 1, QuotaMax: 500, QuotaRenewalRate: 60, IsInactive: true,
			Tags: []string{"p"}, MetaData: map[string]interface{}{"p": "v"},
			AccessRights: map[string]apidef.AccessDefinition{"api": {Versions: []string{"v2"}}}},
	}
	mk := func() *apidef.SessionState {
		tags := make([]string, 1, 10) // spare capacity: an append must not write into it
		tags[0] = "own"
		return &apidef.SessionState{
			Rate: 1, Per: 1, QuotaMax: 5, QuotaRenewalRate: 1,
			ApplyPolicies: []string{"a"},
			Tags:          tags,
			MetaData:      map[string]interface{}{"own": "x"},
			AccessRights:  map[string]apidef.AccessDefinition{"api": {Versions: []string{"v1"}}},
			KeyID:         "key",
		}
	}
	s := mk()
	want := mk()
	got, err := set.Apply(s)
	if err != nil {
		t.Fatal(err)
	}
	if got == s {
		t.Fatal("Apply returned the original session")
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Apply modified the original session:\n got %+v\nwant %+v", s, want)
	}
	if full := s.Tags[:cap(s.Tags)]; full[1] != "" {
		t.Errorf("Apply wrote %q into the spare capacity of the original tags", full[1])
	}
	if got.KeyID != "key" {
		t.Errorf("KeyID = %q, want it kept", got.KeyID)
	}
	// Changing the result changes neither the original nor the policy.
	got.MetaData["new"] = 1
	got.Tags[0] = "changed"
	got.ApplyPolicies[0] = "changed"
	ar := got.AccessRights["api"]
	ar.Versions[0] = "changed"
	if _, ok := s.MetaData["new"]; ok || s.Tags[0] != "own" || s.ApplyPolicies[0] != "a" {
		t.Errorf("changing the result changed the original: %+v", s)
	}
	if set["a"].AccessRights["api"].Versions[0] != "v2" {
		t.Errorf("changing the result changed the policy: %q", set["a"].AccessRights["api"].Versions)
	}
}

// TestApplyResultDoesNotAliasPolicy: the policy set is shared by every request of a snapshot,
// and the session Apply returns is handed to plugins (sdk.GetSession), which may change it.
// Changing the result must not reach the shared policy.
func TestApplyResultDoesNotAliasPolicy(t *testing.T) {
	mkSet := func() policy.Set {
		return policy.Set{"p": {
			ID: "p",
			AccessRights: map[string]apidef.AccessDefinition{"api": {
				Versions:    []string{"v1"},
				AllowedURLs: []apidef.AccessSpec{{URL: "/u", Methods: []string{"GET"}}},
				Limit:       &apidef.APILimit{Rate: 1, Per: 1},
			}},
			MetaData: map[string]interface{}{"nested": map[string]interface{}{"k": "v"}},
		}}
	}
	tests := []struct {
		name   string
		mutate func(s *apidef.SessionState)
		check  func(p *apidef.Policy) (got, want any)
	}{
		{
			name:   "access right limit",
			mutate: func(s *apidef.SessionState) { s.AccessRights["api"].Limit.Rate = 1000 },
			check:  func(p *apidef.Policy) (any, any) { return p.AccessRights["api"].Limit.Rate, 1.0 },
		},
		{
			name:   "allowed url methods",
			mutate: func(s *apidef.SessionState) { s.AccessRights["api"].AllowedURLs[0].Methods[0] = "DELETE" },
			check:  func(p *apidef.Policy) (any, any) { return p.AccessRights["api"].AllowedURLs[0].Methods[0], "GET" },
		},
		{
			name:   "allowed url",
			mutate: func(s *apidef.SessionState) { s.AccessRights["api"].AllowedURLs[0].URL = "/other" },
			check:  func(p *apidef.Policy) (any, any) { return p.AccessRights["api"].AllowedURLs[0].URL, "/u" },
		},
		{
			name:   "versions",
			mutate: func(s *apidef.SessionState) { s.AccessRights["api"].Versions[0] = "v9" },
			check:  func(p *apidef.Policy) (any, any) { return p.AccessRights["api"].Versions[0], "v1" },
		},
		{
			name:   "nested meta data",
			mutate: func(s *apidef.SessionState) { s.MetaData["nested"].(map[string]interface{})["k"] = "changed" },
			check: func(p *apidef.Policy) (any, any) {
				return p.MetaData["nested"].(map[string]interface{})["k"], "v"
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := mkSet()
			got, err := set.Apply(&apidef.SessionState{ApplyPolicies: []string{"p"}})
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(got)
			if g, w := tc.check(set["p"]); g != w {
				t.Errorf("changing the applied session changed the shared policy: got %v, want %v", g, w)
			}
		})
	}
}

// TestUses: what was computed for a session under one set holds under another exactly when it
// holds the same policy objects (or the same absence) under every id the session names, the
// older apply_policy_id included; policies it does not name do not matter.
func TestUses(t *testing.T) {
	p, q := &apidef.Policy{ID: "p", Rate: 1, Per: 1}, &apidef.Policy{ID: "q", Rate: 2, Per: 1}
	a := policy.Set{"p": p, "q": q, "other": {ID: "other"}}
	s := &apidef.SessionState{ApplyPolicyID: "q", ApplyPolicies: []string{"p", "gone"}}
	u := a.Uses(s)
	if len(u) != 3 {
		t.Fatalf("Uses holds %d policies, want the 3 the session names", len(u))
	}
	equalP := *p
	for _, tc := range []struct {
		name string
		set  policy.Set
		want bool
	}{
		{"the same set", a, true},
		{"another set, the same objects, without the policy not named", policy.Set{"p": p, "q": q}, true},
		{"an equal copy of a named policy", policy.Set{"p": &equalP, "q": q}, false},
		{"a named policy gone", policy.Set{"p": p}, false},
		{"apply_policy_id's policy gone", policy.Set{"p": p, "other": a["other"]}, false},
		{"a policy missing before now there", policy.Set{"p": p, "q": q, "gone": {ID: "gone"}}, false},
		{"an empty set", policy.Set{}, false},
		{"nil", nil, false},
	} {
		if got := u.HeldBy(tc.set); got != tc.want {
			t.Errorf("%s: HeldBy = %t, want %t", tc.name, got, tc.want)
		}
	}
	if !(policy.Set{}).Uses(&apidef.SessionState{ApplyPolicies: []string{"x"}}).HeldBy(nil) {
		t.Error("a policy missing from both sets: not held alike")
	}
}

// TestApplyEndpointLimits: per-endpoint rate limits go with the rate limit partition, as in Tyk:
// the policies giving it are merged per method and path, the more permissive limit winning,
// and replace the key's own; the session's rights never share them with a policy or the key.
func TestApplyEndpointLimits(t *testing.T) {
	lim := func(path string, ms ...apidef.EndpointMethodLimit) apidef.EndpointLimit {
		return apidef.EndpointLimit{Path: path, Methods: ms}
	}
	m := func(name string, rate, per float64) apidef.EndpointMethodLimit {
		return apidef.EndpointMethodLimit{Name: name, Limit: apidef.RateLimit{Rate: rate, Per: per}}
	}
	pol := func(id string, parts apidef.PolicyPartitions, eps ...apidef.EndpointLimit) *apidef.Policy {
		return &apidef.Policy{ID: id, Partitions: parts, AccessRights: map[string]apidef.AccessDefinition{
			"api": {APIID: "api", Versions: []string{"Default"}, Endpoints: eps}}}
	}
	all := apidef.PolicyPartitions{}
	own := apidef.SessionState{AccessRights: map[string]apidef.AccessDefinition{
		"api": {APIID: "api", Versions: []string{"Default"}, Endpoints: []apidef.EndpointLimit{lim("/own", m("GET", 1, 1))}}}}
	tests := []struct {
		name     string
		key      apidef.SessionState
		policies []*apidef.Policy
		want     []apidef.EndpointLimit
	}{
		{"one policy, its order kept", apidef.SessionState{},
			[]*apidef.Policy{pol("p", all, lim("/z", m("GET", 1, 1)), lim("/a", m("GET", 2, 1)))},
			[]apidef.EndpointLimit{lim("/z", m("GET", 1, 1)), lim("/a", m("GET", 2, 1))}},
		{"merged, the more permissive winning, sorted", apidef.SessionState{},
			[]*apidef.Policy{
				pol("p", all, lim("/x", m("POST", 1, 60), m("GET", 10, 60))),
				pol("q", all, lim("/y", m("GET", 1, 1)), lim("/x", m("get", 5, 1))),
			},
			[]apidef.EndpointLimit{lim("/x", m("GET", 5, 1), m("POST", 1, 60)), lim("/y", m("GET", 1, 1))}},
		{"equal intervals: the higher rate", apidef.SessionState{},
			[]*apidef.Policy{pol("p", all, lim("/x", m("GET", 5, 30))), pol("q", all, lim("/x", m("GET", 10, 60)))},
			[]apidef.EndpointLimit{lim("/x", m("GET", 10, 60))}},
		{"a method without a rate is left out", apidef.SessionState{},
			[]*apidef.Policy{pol("p", all, lim("/x", m("GET", 0, 0), m("POST", 2, 1)), lim("/y", m("GET", -1, 1))), pol("q", all, lim("/x", m("GET", 1000, 1)))},
			[]apidef.EndpointLimit{lim("/x", m("GET", 1000, 1), m("POST", 2, 1))}},
		{"one policy's method without a rate is left out too", apidef.SessionState{},
			[]*apidef.Policy{pol("p", all, lim("/x", m("GET", 0, 0)), lim("/y", m("GET", 3, 1)))},
			[]apidef.EndpointLimit{lim("/y", m("GET", 3, 1))}},
		{"extreme rates compare as rates", apidef.SessionState{},
			[]*apidef.Policy{pol("p", all, lim("/x", m("GET", 0.001, 3.15e9))), pol("q", all, lim("/x", m("GET", 10, 1))), pol("r", all, lim("/x", m("GET", 1e-9, 60)))},
			[]apidef.EndpointLimit{lim("/x", m("GET", 10, 1))}},
		{"only the rate limit partition gives them", apidef.SessionState{},
			[]*apidef.Policy{
				pol("acl", apidef.PolicyPartitions{ACL: true}, lim("/acl", m("GET", 1, 1))),
				pol("rate", apidef.PolicyPartitions{RateLimit: true}, lim("/rate", m("GET", 2, 1))),
			},
			[]apidef.EndpointLimit{lim("/rate", m("GET", 2, 1))}},
		{"a policy's rights without the partition: none, the key's dropped", own,
			[]*apidef.Policy{pol("acl", apidef.PolicyPartitions{ACL: true})}, nil},
		{"the key's rights, no policy giving the rate limit: the key's", own,
			[]*apidef.Policy{pol("quota", apidef.PolicyPartitions{Quota: true}, lim("/q", m("GET", 1, 1)))},
			[]apidef.EndpointLimit{lim("/own", m("GET", 1, 1))}},
		{"the key's rights, a policy giving the rate limit: the policy's", own,
			[]*apidef.Policy{pol("rate", apidef.PolicyPartitions{RateLimit: true}, lim("/rate", m("GET", 2, 1)))},
			[]apidef.EndpointLimit{lim("/rate", m("GET", 2, 1))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key.Clone()
			set := policy.Set{}
			for _, p := range tc.policies {
				set[p.ID] = p
				key.ApplyPolicies = append(key.ApplyPolicies, p.ID)
			}
			before := key.Clone()
			got, err := set.Effective(key)
			if err != nil {
				t.Fatal(err)
			}
			if eps := got.AccessRights["api"].Endpoints; !reflect.DeepEqual(eps, tc.want) {
				t.Errorf("endpoints = %+v, want %+v", eps, tc.want)
			}
			if !reflect.DeepEqual(key, before) {
				t.Errorf("the key changed: %+v, was %+v", key, before)
			}
			// Nothing in the result is a policy's: changing it changes no policy.
			for _, e := range got.AccessRights["api"].Endpoints {
				for i := range e.Methods {
					e.Methods[i].Limit.Rate = -42
				}
			}
			for _, p := range tc.policies {
				for _, e := range p.AccessRights["api"].Endpoints {
					for _, mm := range e.Methods {
						if mm.Limit.Rate == -42 {
							t.Errorf("policy %s shares its endpoint limits with the session", p.ID)
						}
					}
				}
			}
		})
	}
}

// TestCheckPatterns: a policy's endpoint limit whose path does not compile is refused, naming it.
func TestCheckPatterns(t *testing.T) {
	p := &apidef.Policy{ID: "p", AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Endpoints: []apidef.EndpointLimit{
		{Path: "/ok", Methods: []apidef.EndpointMethodLimit{{Name: "GET", Limit: apidef.RateLimit{Rate: 1, Per: 1}}}},
		{Path: "/bad/(", Methods: []apidef.EndpointMethodLimit{{Name: "GET", Limit: apidef.RateLimit{Rate: 1, Per: 1}}}},
	}}}}
	if err := policy.Check(p); err == nil || !strings.Contains(err.Error(), `access_rights["api"].endpoints[1]: endpoint path "/bad/("`) {
		t.Errorf("Check() = %v, want the broken path named", err)
	}
}
