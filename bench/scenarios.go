package main

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// env is what scenarios build their definitions from.
type env struct {
	upstream string // the upstream's URL
	plugin   string // the benchmark plugin's .so file
}

// goal is what a scenario should show (the goals; reported, never enforced).
type goal struct {
	// Against is "bare" (gatehouse's req/s over the bare proxy's), "keyless" (over gatehouse's
	// keyless req/s) or "errors" (no failed request or reload).
	Against string
	Min     float64
}

func (g goal) String() string {
	switch g.Against {
	case "errors":
		return "0 errors"
	case "keyless":
		return fmt.Sprintf("≥%.2f×keyless", g.Min)
	}
	return fmt.Sprintf("≥%.2f", g.Min)
}

// scenario is one gateway configuration under load. Each gets a gatehouse process of its own,
// so that what one stores (10,000 APIs, 100,000 keys) cannot slow another's measurement, and
// its peak RSS is its own.
type scenario struct {
	name, desc string
	goal       goal
	plugin     bool // needs the benchmark plugin
	apis       func(e env) []*apidef.APIDefinition
	path       string // request path, the same through the bare proxy
	key        string // the key requests carry in Authorization, "" for none
	storeKeys  int    // keys stored through the Gateway API before the run, key among them
	reloads    bool   // reload continuously during gatehouse's runs
	// wantSaw is the X-Bench-* request headers the upstream must receive (request hooks ran);
	// wantRespHook says the response hook's header must reach the client.
	wantSaw      string
	wantRespHook bool
}

// header is the request header wrk sends ("" for none).
func (s *scenario) header() string {
	if s.key == "" {
		return ""
	}
	return "Authorization: " + s.key
}

const (
	benchAPIID = "bench"
	benchPath  = "/bench/"
	manyAPIs   = 10000
	manyKeys   = 100000
)

// scenarios lists every scenario, in report order.
func scenarios() []*scenario {
	return []*scenario{
		{
			name: "keyless", desc: "one keyless API",
			goal: goal{"bare", 0.90}, path: benchPath,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{benchAPI(benchAPIID, benchPath, e.upstream)}
			},
		},
		{
			name: "keyed", desc: "one API with auth token, key rate limit and quota that never trip",
			goal: goal{"bare", 0.85}, path: benchPath, key: "bench-key-keyed", storeKeys: 1,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{keyed(benchAPI(benchAPIID, benchPath, e.upstream))}
			},
		},
		{
			name: "plugin-pre", desc: "keyless API, Go plugin at pre",
			goal: goal{"bare", 0.80}, plugin: true, path: benchPath, wantSaw: "X-Bench-Pre",
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{withHooks(benchAPI(benchAPIID, benchPath, e.upstream), e.plugin, "pre")}
			},
		},
		{
			name: "plugin-post", desc: "keyless API, Go plugin at post",
			goal: goal{"bare", 0.80}, plugin: true, path: benchPath, wantSaw: "X-Bench-Post",
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{withHooks(benchAPI(benchAPIID, benchPath, e.upstream), e.plugin, "post")}
			},
		},
		{
			name: "plugin-response", desc: "keyless API, Go plugin at response",
			goal: goal{"bare", 0.80}, plugin: true, path: benchPath, wantRespHook: true,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{withHooks(benchAPI(benchAPIID, benchPath, e.upstream), e.plugin, "response")}
			},
		},
		{
			name: "all-hooks", desc: "keyed API with Go plugins at pre, post and response",
			goal: goal{"bare", 0.80}, plugin: true, path: benchPath, key: "bench-key-hooks", storeKeys: 1,
			wantSaw: "X-Bench-Post,X-Bench-Pre", wantRespHook: true,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{withHooks(keyed(benchAPI(benchAPIID, benchPath, e.upstream)), e.plugin, "pre", "post", "response")}
			},
		},
		{
			name: "apis-10000", desc: "10,000 keyless APIs loaded, requests to one of them",
			goal: goal{"keyless", 0.95}, path: manyAPIPath(manyAPIs / 2),
			apis: func(e env) []*apidef.APIDefinition {
				defs := make([]*apidef.APIDefinition, manyAPIs)
				for i := range defs {
					defs[i] = benchAPI(fmt.Sprintf("api-%05d", i), manyAPIPath(i), e.upstream)
				}
				return defs
			},
		},
		{
			name: "keys-100000", desc: "keyed API with 100,000 keys stored, requests with one of them",
			goal: goal{"bare", 0.85}, path: benchPath, key: manyKey(manyKeys / 2), storeKeys: manyKeys,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{keyed(benchAPI(benchAPIID, benchPath, e.upstream))}
			},
		},
		{
			name: "reloads", desc: "keyless traffic while GET /tyk/reload?block=true runs back to back",
			goal: goal{"errors", 0}, path: benchPath, reloads: true,
			apis: func(e env) []*apidef.APIDefinition {
				return []*apidef.APIDefinition{benchAPI(benchAPIID, benchPath, e.upstream)}
			},
		},
	}
}

// keyNames returns the keys a scenario stores: manyKey(i) for a large set, else its key.
func (s *scenario) keyNames() []string {
	if s.storeKeys <= 1 {
		return []string{s.key}
	}
	keys := make([]string, s.storeKeys)
	for i := range keys {
		keys[i] = manyKey(i)
	}
	return keys
}

func manyAPIPath(i int) string { return fmt.Sprintf("/api-%05d/", i) }
func manyKey(i int) string     { return fmt.Sprintf("bench-key-%06d", i) }

// selectScenarios picks scenarios by name, keeping the report order.
func selectScenarios(list string) ([]*scenario, error) {
	all := scenarios()
	if strings.TrimSpace(list) == "" || list == "all" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []*scenario
	for _, s := range all {
		if want[s.name] {
			out = append(out, s)
			delete(want, s.name)
		}
	}
	if len(want) > 0 {
		var names, unknown []string
		for _, s := range all {
			names = append(names, s.name)
		}
		for n := range want {
			unknown = append(unknown, n)
		}
		return nil, fmt.Errorf("unknown scenario(s) %s; choose from %s", strings.Join(unknown, ", "), strings.Join(names, ","))
	}
	return out, nil
}

// benchAPI returns a keyless, not versioned API that strips its listen path.
func benchAPI(id, listenPath, target string) *apidef.APIDefinition {
	return &apidef.APIDefinition{
		Name:             id,
		APIID:            id,
		OrgID:            "default",
		Active:           true,
		UseKeylessAccess: true,
		Proxy:            apidef.ProxyConfig{ListenPath: listenPath, TargetURL: target, StripListenPath: true},
		VersionData: apidef.VersionData{
			NotVersioned: true,
			Versions:     map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true}},
		},
	}
}

// keyed makes def require a key in the Authorization header.
func keyed(def *apidef.APIDefinition) *apidef.APIDefinition {
	def.UseKeylessAccess = false
	def.UseStandardAuth = true
	def.Auth = apidef.AuthConfig{AuthHeaderName: "Authorization"}
	return def
}

// withHooks adds the benchmark plugin at the given hooks.
func withHooks(def *apidef.APIDefinition, so string, hooks ...string) *apidef.APIDefinition {
	def.CustomMiddleware.Driver = apidef.GoPluginDriver
	for _, h := range hooks {
		switch h {
		case "pre":
			def.CustomMiddleware.Pre = append(def.CustomMiddleware.Pre, apidef.MiddlewareDefinition{Name: "BenchPre", Path: so})
		case "post":
			def.CustomMiddleware.Post = append(def.CustomMiddleware.Post, apidef.MiddlewareDefinition{Name: "BenchPost", Path: so})
		case "response":
			def.CustomMiddleware.Response = append(def.CustomMiddleware.Response, apidef.MiddlewareDefinition{Name: "BenchResponse", Path: so})
		}
	}
	return def
}

// benchSession is the key every keyed scenario uses: access to the bench API, a rate limit and
// a quota far above what a run can reach, so they are checked on every request and never refuse.
func benchSession() *apidef.SessionState {
	return &apidef.SessionState{
		Rate:             1e6,
		Per:              1,
		QuotaMax:         1e12,
		QuotaRenewalRate: 3600,
		OrgID:            "default",
		AccessRights: map[string]apidef.AccessDefinition{
			benchAPIID: {APIID: benchAPIID, APIName: benchAPIID, Versions: []string{"Default"}},
		},
	}
}
