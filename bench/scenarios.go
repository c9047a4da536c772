package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// goal is what a scenario should show (the goals; reported, never enforced).
type goal struct {
	// Against is "bare" (gatehouse's req/s over the bare proxy's), "keyless" (over gatehouse's
	// keyless req/s), "off" (a -metrics or -otel scenario's ratio to bare over that of its
	// sibling without metrics or tracing) or "errors" (no failed request or reload).
	Against string
	Min     float64
}

func (g goal) String() string {
	switch g.Against {
	case "errors":
		return "0 errors"
	case "keyless":
		return fmt.Sprintf("≥%.2f×keyless", g.Min)
	case "off":
		return fmt.Sprintf("≥%.2f×off", g.Min)
	}
	return fmt.Sprintf("≥%.2f", g.Min)
}

// scenario is one gateway configuration under load. Each gets a gatehouse process of its own,
// so that what one stores (10,000 APIs, 100,000 keys) cannot slow another's measurement, and
// its peak RSS is its own.
type scenario struct {
	name, desc string
	goal       goal
	// pinnedGoal, when not 0, replaces goal under --pinned: issue 15's minimum ratio to the bare
	// proxy without a buffer pool, each proxy alone on one core.
	pinnedGoal float64
	keyed      bool     // the API requires a key; requests carry one in Authorization
	hooks      []string // the benchmark plugin's hooks on the API: pre, post, response
	apis       int      // APIs loaded (0 for one); requests go to the one in the middle
	keys       int      // keys stored when keyed (0 for one); requests carry the one in the middle
	metaFields int      // fields of 1 KiB in the key's meta_data
	reloads    bool     // reload continuously during gatehouse's runs
	redis      bool     // gatehouse stores on a redis-server of the scenario's own
	// metrics serves Prometheus metrics (prometheus.enabled); the other scenarios turn them
	// off, so that they measure the gateway alone. off names the sibling without metrics.
	metrics bool
	off     string
	// otel turns OpenTelemetry tracing on, every request sampled, the spans exported to an
	// OTLP/HTTP sink in the bench process that reads and drops them.
	otel bool
	// oasValidate makes the API a Tyk OAS one (Tyk's pair of files) whose operation validates
	// the JSON body (validateRequest): requests POST a valid body.
	oasValidate bool
	// jwt makes the API a JWT one (enable_jwt, HMAC, the secret in jwt_source) whose default
	// policy grants it with a rate limit and quota that never trip: requests carry one valid
	// HS256 token, so one identity and one session, created by the first request.
	jwt bool
	// transforms puts header transforms on the keyless API: global_headers (one a context
	// variable), global_headers_remove (a header the requests carry), a transform_headers
	// entry for the request path and global_response_headers.
	transforms bool
	// bodyTransform puts a JSON request body transform (extended_paths.transform) on the
	// keyless API's path: requests POST oasBody, which the template rewrites.
	bodyTransform bool
	scriptFile    string // the wrk script written for the run, when script() has one
	// env is the gatehouse process's extra environment (GOGC, GOMEMLIMIT: the GC scenarios).
	env []string
}

const (
	manyAPIs = 10000
	manyKeys = 100000
)

// scenarios lists every scenario, in report order.
func scenarios() []*scenario {
	return []*scenario{
		{name: "keyless", desc: "one keyless API", goal: goal{"bare", 0.90}, pinnedGoal: 1.10},
		{name: "keyless-metrics", desc: "keyless, with Prometheus metrics on (judged against keyless)",
			goal: goal{"off", 0.98}, metrics: true, off: "keyless"},
		{name: "keyless-otel", desc: "keyless, with OpenTelemetry tracing on, every request sampled, spans to a local OTLP/HTTP sink (judged against keyless)",
			goal: goal{"off", 0.90}, otel: true, off: "keyless"},
		{name: "keyless-gogc200", desc: "keyless, gatehouse with GOGC=200 (judged against keyless)",
			goal: goal{"keyless", 0.98}, env: []string{"GOGC=200"}},
		{name: "keyless-gogc400", desc: "keyless, gatehouse with GOGC=400 (judged against keyless)",
			goal: goal{"keyless", 0.98}, env: []string{"GOGC=400"}},
		{name: "keyless-memlimit", desc: "keyless, gatehouse with GOGC=400 and GOMEMLIMIT=40MiB (judged against keyless)",
			goal: goal{"keyless", 0.98}, env: []string{"GOGC=400", "GOMEMLIMIT=40MiB"}},
		{name: "keyed", desc: "one API with auth token, key rate limit and quota that never trip",
			goal: goal{"bare", 0.85}, pinnedGoal: 1.00, keyed: true},
		{name: "keyless-redis", desc: "one keyless API, gatehouse on Redis",
			goal: goal{"bare", 1.00}, redis: true},
		{name: "keyed-redis", desc: "one API with auth token, key rate limit and quota that never trip, gatehouse on Redis",
			goal: goal{"bare", 0.80}, keyed: true, redis: true},
		{name: "plugin-pre", desc: "keyless API, Go plugin at pre",
			goal: goal{"bare", 0.80}, hooks: []string{"pre"}},
		{name: "plugin-post", desc: "keyless API, Go plugin at post",
			goal: goal{"bare", 0.80}, pinnedGoal: 1.00, hooks: []string{"post"}},
		{name: "plugin-post-metrics", desc: "plugin-post, with Prometheus metrics on (judged against plugin-post)",
			goal: goal{"off", 0.98}, hooks: []string{"post"}, metrics: true, off: "plugin-post"},
		{name: "plugin-response", desc: "keyless API, Go plugin at response",
			goal: goal{"bare", 0.80}, hooks: []string{"response"}},
		{name: "all-hooks", desc: "keyed API with Go plugins at pre, post and response",
			goal: goal{"bare", 0.80}, pinnedGoal: 0.95, keyed: true, hooks: []string{"pre", "post", "response"}},
		{name: "apis-10000", desc: "10,000 keyless APIs loaded, requests to one of them",
			goal: goal{"keyless", 0.95}, apis: manyAPIs},
		{name: "apis-10000-gogc100", desc: "apis-10000, gatehouse with GOGC=100 (judged against keyless): Go's default pacing, without the room gatehouse gives a large live heap",
			goal: goal{"keyless", 0.95}, apis: manyAPIs, env: []string{"GOGC=100"}},
		{name: "keys-100000", desc: "keyed API with 100,000 keys stored, requests with one of them",
			goal: goal{"bare", 0.85}, keyed: true, keys: manyKeys},
		{name: "keyed-large", desc: "keyed API, the key carrying 1 MiB of meta_data (1,000 fields of 1 KiB)",
			goal: goal{"bare", 0.85}, keyed: true, metaFields: 1000},
		{name: "oas-validate", desc: "keyless Tyk OAS API, validateRequest on a POSTed JSON body of 200 bytes",
			goal: goal{"bare", 0.70}, oasValidate: true},
		{name: "jwt", desc: "one JWT API (HMAC), one HS256 token, its policy's rate limit and quota never trip",
			goal: goal{"bare", 0.85}, jwt: true},
		{name: "transforms", desc: "keyless API with global request headers (one a context variable), a removal, an endpoint's transform_headers and response headers",
			goal: goal{"bare", 0.85}, transforms: true},
		{name: "body-transform", desc: "keyless API, the POSTed JSON body of 200 bytes rewritten by a transform template",
			goal: goal{"bare", 0.85}, bodyTransform: true},
		{name: "reloads", desc: "keyless traffic while GET /tyk/reload?block=true runs back to back",
			goal: goal{"errors", 0}, reloads: true},
		{name: "reloads-10000", desc: "10,000 keyless APIs, traffic to one while GET /tyk/reload?block=true runs back to back, another API's file changed before each",
			goal: goal{"errors", 0}, apis: manyAPIs, reloads: true},
	}
}

// storage is the store its gatehouse runs on: "memory" or "redis".
func (s *scenario) storage() string {
	if s.redis {
		return "redis"
	}
	return "memory"
}

// definitions returns the scenario's APIs, proxying to upstream, with the plugin so at its hooks.
func (s *scenario) definitions(upstream, so string) []*apidef.APIDefinition {
	api := func(id, listenPath string) *apidef.APIDefinition {
		def := benchkit.API(id, listenPath, upstream)
		if s.keyed {
			benchkit.Keyed(def)
		}
		return benchkit.WithHooks(def, so, s.hooks...)
	}
	if s.apis <= 1 {
		def := api(benchkit.APIID, benchkit.ListenPath)
		def.IsOAS = s.oasValidate
		if s.jwt {
			jwtAPI(def)
		}
		if s.transforms {
			transformsAPI(def)
		}
		if s.bodyTransform {
			bodyTransformAPI(def)
		}
		return []*apidef.APIDefinition{def}
	}
	defs := make([]*apidef.APIDefinition, s.apis)
	for i := range defs {
		defs[i] = api(manyAPIID(i), "/"+manyAPIID(i)+"/")
	}
	return defs
}

// changeOne names the API whose file is changed before each reload of a reloads scenario with
// several APIs: the first, not the one the requests go to. "" for none.
func (s *scenario) changeOne() string {
	if !s.reloads || s.apis <= 1 {
		return ""
	}
	return manyAPIID(0)
}

// oasBody is what the oas-validate scenario POSTs: valid against oasDocument's schema.
const oasBody = `{"name":"Rex","age":3,"tags":["good","dog"],"owner":{"id":42,"email":"owner@example.test"},"vaccinated":true,"weight":12.5,"notes":"likes long walks"}`

// files returns the files to write beside the definitions: the OAS document of an oas-validate
// scenario's API (`<id>-oas.json`, as Tyk's Gateway API writes it).
func (s *scenario) files(upstream string) map[string][]byte {
	if !s.oasValidate {
		return nil
	}
	doc := `{"openapi": "3.0.3", "info": {"title": "bench", "version": "1"},
  "paths": {"/": {"post": {"operationId": "create",
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
    "responses": {"200": {"description": "ok"}}}}},
  "components": {"schemas": {"Pet": {"type": "object", "required": ["name", "age", "owner"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "age": {"type": "integer", "minimum": 0, "maximum": 100},
    "tags": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
    "owner": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}}},
    "vaccinated": {"type": "boolean"}, "weight": {"type": "number"}, "notes": {"type": "string", "maxLength": 500}}}}},
  "x-tyk-api-gateway": {"info": {"id": "` + benchkit.APIID + `", "name": "bench", "state": {"active": true}},
    "upstream": {"url": "` + upstream + `"}, "server": {"listenPath": {"value": "` + benchkit.ListenPath + `", "strip": true}},
    "middleware": {"operations": {"create": {"validateRequest": {"enabled": true}}}}}}`
	return map[string][]byte{benchkit.APIID + "-oas.json": []byte(doc)}
}

// script returns the wrk Lua script of the scenario's requests ("" for plain GETs).
func (s *scenario) script() string {
	if !s.oasValidate && !s.bodyTransform {
		return ""
	}
	return "wrk.method = \"POST\"\nwrk.body = '" + oasBody + "'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
}

// apiID is the API the requests go to.
func (s *scenario) apiID() string {
	if s.apis <= 1 {
		return benchkit.APIID
	}
	return manyAPIID(s.apis / 2)
}

// path is the requests' path, the same through the bare proxy.
func (s *scenario) path() string {
	if s.apis <= 1 {
		return benchkit.ListenPath
	}
	return "/" + manyAPIID(s.apis/2) + "/"
}

// keyNames returns the keys to store, none for a keyless scenario.
func (s *scenario) keyNames() []string {
	if !s.keyed {
		return nil
	}
	keys := make([]string, max(s.keys, 1))
	for i := range keys {
		keys[i] = manyKey(i)
	}
	return keys
}

// session is the stored key of a keyed scenario.
func (s *scenario) session() *apidef.SessionState {
	sess := benchkit.Session(s.apiID())
	if s.metaFields > 0 {
		sess.MetaData = benchkit.LargeMetaData(s.metaFields)
	}
	return sess
}

// header is the request header wrk sends ("" for none).
func (s *scenario) header() string {
	switch {
	case s.jwt:
		return "Authorization: Bearer " + jwtToken
	case s.transforms:
		return transformsRemoved + ": 1"
	case !s.keyed:
		return ""
	}
	return "Authorization: " + manyKey(max(s.keys, 1)/2)
}

// policies returns the policies the scenario's gatehouse loads from a file (nil for none).
func (s *scenario) policies() map[string]*apidef.Policy {
	if !s.jwt {
		return nil
	}
	sess := benchkit.Session(s.apiID()) // the keyed scenarios' limits: checked, never refusing
	return map[string]*apidef.Policy{jwtPolicy: {
		ID: jwtPolicy, Name: jwtPolicy, OrgID: sess.OrgID, Active: true,
		Rate: sess.Rate, Per: sess.Per, QuotaMax: sess.QuotaMax, QuotaRenewalRate: sess.QuotaRenewalRate,
		AccessRights: sess.AccessRights,
	}}
}

// upstreamSaw returns the X-Bench-* request headers the upstream must list for a request
// through gatehouse to the verify path (X-Upstream-Saw), and the response headers gatehouse
// must add (name to value).
func (s *scenario) upstreamSaw() (saw string, resp map[string]string) {
	saw, respHook := benchkit.HookSigns(s.hooks)
	resp = map[string]string{}
	if respHook {
		resp["X-Bench-Response"] = "1"
	}
	if s.transforms {
		// The client's X-Bench-Removed is gone; the three added ones are there (sorted).
		saw = "X-Bench-Endpoint,X-Bench-Global,X-Bench-Request-Id"
		resp["X-Bench-Transformed"] = "1"
	}
	return saw, resp
}

// The JWT scenario's secret, policy and token.
const (
	jwtSecret   = "gatehouse-bench-hmac-secret-0123456789"
	jwtPolicy   = "bench-jwt"
	jwtIdentity = "bench-user"
)

// jwtToken is the one token of the jwt scenario: HS256 over jwtSecret, made by hand (base64url
// of the header and claims, HMAC-SHA256 over them), without expiry so that it stays valid.
var jwtToken = signHS256(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"`+jwtIdentity+`","iat":1700000000}`, jwtSecret)

// signHS256 returns the compact JWS of header and claims signed with secret.
func signHS256(header, claims, secret string) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

// jwtAPI makes def a JWT API: HMAC with jwtSecret, the token in Authorization, sessions from
// jwtPolicy.
func jwtAPI(def *apidef.APIDefinition) {
	def.UseKeylessAccess = false
	def.EnableJWT = true
	def.JWTSigningMethod = apidef.JWTHMAC
	def.JWTSource = base64.StdEncoding.EncodeToString([]byte(jwtSecret))
	def.JWTDefaultPolicies = []string{jwtPolicy}
	def.Auth = apidef.AuthConfig{AuthHeaderName: "Authorization"}
}

// transformsRemoved is the request header the transforms scenario's requests carry and its
// API removes (global_headers_remove).
const transformsRemoved = "X-Bench-Removed"

// transformsAPI puts the transforms scenario's header transforms on def's one version.
func transformsAPI(def *apidef.APIDefinition) {
	def.EnableContextVars = true
	for name, v := range def.VersionData.Versions {
		v.GlobalHeaders = map[string]string{
			"X-Bench-Global":     "1",
			"X-Bench-Request-Id": "$tyk_context.request_id",
		}
		v.GlobalHeadersRemove = []string{transformsRemoved}
		v.ExtendedPaths.TransformHeader = []apidef.HeaderInjectionMeta{{
			Path: "/", Method: "GET", AddHeaders: map[string]string{"X-Bench-Endpoint": "1"},
		}}
		v.GlobalResponseHeaders = map[string]string{"X-Bench-Transformed": "1"}
		def.VersionData.Versions[name] = v
	}
}

// bodyTemplate is the body-transform scenario's template, and bodyTransformed what it makes of
// oasBody: what the upstream must receive.
const (
	bodyTemplate    = `{"pet": {{jsonMarshal .name}}, "age": {{.age}}, "owner": {{.owner.id}}, "tags": [{{range $i, $t := .tags}}{{if $i}}, {{end}}{{jsonMarshal $t}}{{end}}]}`
	bodyTransformed = `{"pet": "Rex", "age": 3, "owner": 42, "tags": ["good", "dog"]}`
)

// bodyTransformAPI puts the body-transform scenario's request body transform on def's one
// version, for POSTs to any path.
func bodyTransformAPI(def *apidef.APIDefinition) {
	for name, v := range def.VersionData.Versions {
		v.ExtendedPaths.Transform = []apidef.TemplateMeta{{Path: "/", Method: "POST", TemplateData: apidef.TemplateData{
			Input: apidef.InputJSON, Mode: apidef.TemplateModeBlob, TemplateSource: base64.StdEncoding.EncodeToString([]byte(bodyTemplate)),
		}}}
		def.VersionData.Versions[name] = v
	}
}

func manyAPIID(i int) string { return fmt.Sprintf("api-%05d", i) }
func manyKey(i int) string   { return fmt.Sprintf("bench-key-%06d", i) }

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
