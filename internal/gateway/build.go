package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/middleware/cache"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/httpsig"
	"github.com/gatehouse/gatehouse/internal/middleware/mock"
	"github.com/gatehouse/gatehouse/internal/middleware/mtls"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/observe"
	"github.com/gatehouse/gatehouse/internal/observe/accesslog"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/router"
	"github.com/gatehouse/gatehouse/internal/strpack"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// snapshot is the serving state built by one load: immutable once stored.
type snapshot struct {
	router   *router.Router[*apiRuntime]
	apis     map[string]*apiRuntime
	problems []problem
	// hookFailures are plugin hooks that could not be loaded; their APIs fail closed.
	hookFailures []hookFailure
	// issues are APIs whose plugin bundle is not available or whose source plugin is being
	// built.
	issues   []apiIssue
	inactive []string // ids of definitions with active: false
	policies policy.Set
	// deps identifies what compiled APIs depend on besides their definition (reuse.go).
	deps [32]byte
	// shared is what the fleet shares through Redis (nothing with the memory store), and
	// shadowedPolicies the ids of stored policies the policies file overrides.
	shared           sharedState
	shadowedPolicies []string
	// filePolicies are the policies file's valid policies, and badPolicies its policies that
	// are not loaded, and why; both decoded from the file whose content has policyFileSum, and
	// kept for the next reload while the file holds the same (Gateway.filePolicies).
	filePolicies  policy.Set
	badPolicies   map[string]error
	policyFileSum [32]byte
	// loopNames are the APIs by looping name (lower case), for tyk:// targets: made when a
	// request first loops by name (loopTarget).
	loopNamesOnce sync.Once
	loopNames     map[string]*apiRuntime
	// certHosts are the TLS server names that ask for client certificates: made at the first
	// handshake that looks (wantsClientCert).
	certHostsOnce sync.Once
	certHosts     clientCertHosts
	// bundles are the names of the bundles the build asked the bundle store for: what the
	// store keeps remembering after the reload (bundle.Store.Retain).
	bundles map[string]bool
}

// problem is a definition that could not be served, and why.
type problem struct {
	APIID  string
	File   string
	Reason string
}

func (p problem) key() string {
	if p.APIID != "" {
		return "api:" + p.APIID
	}
	return "file:" + filepath.Base(p.File)
}

func (p problem) String() string {
	if p.File != "" {
		return fmt.Sprintf("%s: %s", filepath.Base(p.File), p.Reason)
	}
	return p.Reason
}

// candidate is a definition that passed its own checks and waits for routing.
type candidate struct {
	rt      *apiRuntime
	file    string
	serving bool // it served in the previous snapshot
	order   int
}

// filePolicies returns the policies file's valid policies and the broken ones (a policy that
// fails its checks is not loaded: a key naming it is refused, as for a policy that does not
// exist, rather than served with what the broken part would give), and the SHA-256 of the
// file's content. While the content is what prev was built from, prev's are returned as they
// are: with thousands of policies, decoding and checking them again was most of a reload that
// changed nothing, and keeping the same policy objects keeps what keys derived from them valid.
func (g *Gateway) filePolicies(prev *snapshot) (policy.Set, map[string]error, [32]byte, error) {
	data, err := policy.ReadFile(g.cfg.PolicyFile())
	if err != nil {
		return nil, nil, [32]byte{}, err
	}
	sum := sha256.Sum256(data)
	if prev != nil && prev.filePolicies != nil && prev.policyFileSum == sum {
		return prev.filePolicies, prev.badPolicies, sum, nil
	}
	set := policy.Set{}
	if data != nil {
		if set, err = policy.Parse(data); err != nil {
			return nil, nil, sum, err
		}
	}
	valid, bad := set.Valid()
	return valid, bad, sum, nil
}

// build loads every definition and policy and compiles a new snapshot. It fails only when
// nothing can be loaded (app_path or the policies file unreadable); a definition that fails on
// its own becomes a problem and the rest load.
func (g *Gateway) build(prev *snapshot) (*snapshot, error) {
	g.opens.begin(time.Now())
	entries, err := g.apis.LoadMemo(g.defs)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		_ = g.transports.refresh(false) // problems are logged; the last good files stay
		if h := g.systemEvents.Load(); h != nil && h.FilesChanged() {
			g.setSystemEvents()
		}
		if wh := g.monitorHook.Load(); wh != nil && wh.FileChanged() {
			g.setMonitor()
		}
	}
	shared, sharedEntries := g.loadShared(prev)
	// Built-in definitions first, then files, then what the fleet shares: on the same api_id
	// the first wins, and the others are reported.
	entries = append(append(append([]apistore.Entry(nil), g.extra...), entries...), sharedEntries...)
	filePols, badPolicies, fileSum, err := g.filePolicies(prev)
	if err != nil {
		return nil, err
	}
	pols, shadowed := mergePolicies(filePols, shared.policies)
	snap := &snapshot{apis: map[string]*apiRuntime{}, policies: pols, shared: shared, shadowedPolicies: shadowed,
		filePolicies: filePols, policyFileSum: fileSum, badPolicies: badPolicies}
	snap.deps = g.dependencies(fileSum, shared.policySum)
	if prev != nil && prev.deps == snap.deps {
		// The same policies: the APIs compiled now share the set with those reused, so that
		// what keys derived from it (auth.AdoptStored) stays valid on all of them.
		pols = prev.policies
		snap.policies = pols
	}
	defined, repeated := apistore.FileIDs(entries)
	var cands []candidate
	bundles := g.newBundleMemo()
	for i, e := range entries {
		if id := e.Head.APIID; e.Err == nil && id != "" {
			if file := defined[id]; strings.HasPrefix(e.File, apistore.SharedPrefix) && file != "" {
				snap.problems = append(snap.problems, problem{APIID: id, File: e.File,
					Reason: fmt.Sprintf("the definition of %q stored in Redis is not served on this gateway: %s in its app_path has the same api_id, and files win", id, filepath.Base(file))})
				continue
			}
			if err := repeated[id]; err != nil {
				snap.problems = append(snap.problems, problem{APIID: id, File: e.File, Reason: err.Error()})
				continue
			}
		}
		sum := entrySum(e)
		full, err := g.recheck(prev, e, sum)
		if err != nil {
			snap.problems = append(snap.problems, problem{APIID: e.Head.APIID, File: e.File, Reason: err.Error()})
			continue
		}
		// The head is enough to route the API and to reuse its compiled form: a definition is
		// decoded (e.Def) only to be compiled.
		def := e.Head
		if !def.Active {
			snap.inactive = append(snap.inactive, def.APIID)
			continue
		}
		if reserved := g.reservedPath(def.ListenPath); reserved != "" {
			snap.problems = append(snap.problems, problem{APIID: def.APIID, File: e.File,
				Reason: fmt.Sprintf("listen path %q would be shadowed by %s on the same listener; choose another listen path or give the Gateway API its own control_api_port", def.ListenPath, reserved)})
			continue
		}
		rt, reused := g.reusable(prev, snap, def.APIID, sum)
		if !reused {
			if full == nil {
				if full = e.Def(); full == nil {
					snap.problems = append(snap.problems, problem{APIID: def.APIID, File: e.File, Reason: errNotDecoded.Error()})
					continue
				}
			}
			var issue *apiIssue
			rt, issue, err = g.compileWithBundles(full, e.OAS, pols, snap.deps, prev, bundles)
			if issue != nil {
				snap.issues = append(snap.issues, *issue)
			}
			if err != nil {
				snap.problems = append(snap.problems, problem{APIID: def.APIID, File: e.File, Reason: err.Error()})
				continue
			}
			if issue != nil && issue.kept {
				// rt is the previous snapshot's, still serving: it is copied, not changed.
				kept := *rt
				rt = &kept
				rt.loops.rt = rt
			}
			rt.rawSum, rt.loopPort = sum, g.loopPort()
			// A reused API is one whose definition is unchanged: there is nothing new to note.
			g.logIgnoredFields(prev, rt, full, e)
			g.logTrafficNotes(prev, rt, full)
			g.logInsecureUpstream(prev, rt, full)
		}
		// Only an API that held this very route keeps it: one that edits its file to take
		// another's listen path is the newcomer there.
		old, serving := prevAPI(prev, def.APIID)
		serving = serving && router.SameRoute(old.domain, old.listenPath, def.Domain, def.ListenPath)
		cands = append(cands, candidate{rt: rt, file: e.File, serving: serving, order: i})
	}

	// APIs that were serving keep their listen path when a new definition claims it too, so a
	// conflicting addition never takes down what works.
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].serving != cands[j].serving {
			return cands[i].serving
		}
		return cands[i].order < cands[j].order
	})
	// Internal APIs are not routed: only a loop reaches them.
	routes := make([]router.Route[*apiRuntime], 0, len(cands))
	routed := make([]int, 0, len(cands)) // the candidate of each route
	for i, c := range cands {
		if c.rt.internal {
			continue
		}
		routes = append(routes, router.Route[*apiRuntime]{Domain: c.rt.domain, ListenPath: c.rt.listenPath, Value: c.rt})
		routed = append(routed, i)
	}
	rtr, conflicts := router.New(routes)
	conflicted := map[int]bool{}
	for _, cf := range conflicts {
		conflicted[routed[cf.Index]] = true
		loser, winner := cands[routed[cf.Index]], cands[routed[cf.Existing]]
		snap.problems = append(snap.problems, problem{APIID: loser.rt.id, File: loser.file,
			Reason: fmt.Sprintf("listen path %q%s is already served by API %q; this definition is not served",
				loser.rt.listenPath, domainNote(loser.rt.domain), winner.rt.id)})
	}
	for i, c := range cands {
		if !conflicted[i] {
			snap.apis[c.rt.id] = c.rt
			snap.hookFailures = append(snap.hookFailures, c.rt.hooks.failures...)
		}
	}
	snap.router = rtr
	snap.bundles = make(map[string]bool, len(bundles.got))
	for name := range bundles.got {
		snap.bundles[name] = true
	}
	g.logProblems(prev, snap)
	g.logHookFailures(prev, snap)
	if g.cfg.FailOnPluginLoadError && len(snap.hookFailures) > 0 {
		errs := make([]error, len(snap.hookFailures))
		for i, f := range snap.hookFailures {
			errs[i] = errors.New(f.String())
		}
		return nil, fmt.Errorf("fail_on_plugin_load_error is set and plugins could not be loaded: %w", errors.Join(errs...))
	}
	return snap, nil
}

func domainNote(d string) string {
	if d == "" {
		return ""
	}
	return " on domain " + d
}

func prevAPI(prev *snapshot, id string) (*apiRuntime, bool) {
	if prev == nil {
		return nil, false
	}
	rt, ok := prev.apis[id]
	return rt, ok
}

// check returns the definition of an entry if it can be served at all.
func (g *Gateway) check(e apistore.Entry) (*apidef.APIDefinition, error) {
	if e.Err != nil {
		return nil, e.Err
	}
	def := e.Def()
	if def == nil {
		return nil, errNotDecoded
	}
	if err := def.Validate(); err != nil {
		return nil, fmt.Errorf("invalid definition: %s", oneLine(err))
	}
	if !def.CustomMiddlewareBundleDisabled {
		for _, name := range bundle.Names(def.CustomMiddlewareBundle) {
			if err := bundle.CheckBundleName(name); err != nil {
				return nil, fmt.Errorf("custom_middleware_bundle: %w", err)
			}
		}
	}
	if def.IsOAS && e.OAS == nil {
		why := e.OASErr
		if why == nil {
			why = errors.New("there is no OAS document beside it")
		}
		return nil, fmt.Errorf("refused: it sets is_oas but %v; the document may switch on what the Classic definition cannot express (request validation, mock responses), so it is not served without it", why)
	}
	u := def.Unsupported()
	u = append(u, e.OASUnsupported()...)
	if len(u) > 0 {
		sort.Strings(u)
		return nil, fmt.Errorf("refused: it enables what Gatehouse does not implement, and serving it without them could let in requests it should refuse: %s", strings.Join(atMost(u, maxLoggedFields), "; "))
	}
	if e.OAS != nil {
		// For a lone document and for Tyk's pair alike: the pair's Classic file, made from
		// the document, has no entry for such an operation either.
		if u := e.OAS.Unanchored(); len(u) > 0 {
			return nil, fmt.Errorf("refused: %s; it would guard nothing (Tyk ignores it without a word), and guards never fail open here: give that operationId to an operation in paths, or set enabled to false or remove the entry", strings.Join(atMost(u, maxLoggedFields), "; "))
		}
	}
	if err := g.checkLoop(def); err != nil {
		return nil, err
	}
	return def, nil
}

// checkLoop refuses a definition that targets this gateway's own listener: the one check whose
// answer depends on the gateway's state (the port it listens on) besides the definition.
func (g *Gateway) checkLoop(def *apidef.APIDefinition) error {
	if why := g.selfTarget(def); why != "" {
		return fmt.Errorf("refused: a loop: %s", why)
	}
	return nil
}

// oneLine joins the lines of a joined error.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// logProblems logs each problem once: when it first appears, not on every reload.
func (g *Gateway) logProblems(prev *snapshot, snap *snapshot) {
	old := map[string]bool{}
	if prev != nil {
		for _, p := range prev.problems {
			old[p.key()+p.Reason] = true
		}
	}
	for _, p := range snap.problems {
		if !old[p.key()+p.Reason] {
			g.log.Error("API definition not loaded", "api_id", p.APIID, "file", p.File, "reason", p.Reason)
		}
	}
	for id, err := range snap.badPolicies {
		if prev == nil || prev.badPolicies[id] == nil || prev.badPolicies[id].Error() != err.Error() {
			g.log.Error("policy not loaded; keys naming it are refused", "policy_id", id, "file", g.cfg.PolicyFile(), "reason", err.Error())
		}
	}
}

// logIgnoredFields notes, once per new or changed definition, the fields it sets that
// Gatehouse ignores. They cannot change who gets in or what reaches the upstream: anything that
// could is refused by Unsupported instead.
func (g *Gateway) logIgnoredFields(prev *snapshot, rt *apiRuntime, def *apidef.APIDefinition, e apistore.Entry) {
	if old, ok := prevAPI(prev, rt.id); ok && old.rawSum == rt.rawSum {
		return
	}
	if e.OAS != nil && e.OASFile != "" {
		g.warnPairLooser(rt.id, def, e)
	}
	// Finding the ignored fields walks the whole definition again: a third of a start's CPU
	// with 10,000 APIs, not spent for lines that are not written.
	if !g.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	// The Classic form of a lone OAS document is generated, so what its author wrote is the
	// document's extension; Tyk's pair of files has both, the Classic file and the document.
	var ignored, inert []string
	if e.OAS == nil || e.OASFile != "" {
		ignored = apidef.IgnoredFields(e.Raw)
	}
	if e.OAS != nil {
		docIgnored, docInert := e.OAS.Findings(def)
		ignored, inert = append(ignored, docIgnored...), docInert
	} else {
		inert = def.Inert()
	}
	if len(ignored) > 0 {
		g.log.Info("API definition sets fields Gatehouse ignores", "api_id", rt.id, "fields", strings.Join(atMost(ignored, maxLoggedFields), ","))
	}
	for _, f := range atMost(inert, maxLoggedFields) {
		g.log.Info("API definition sets a field that has no effect", "api_id", rt.id, "field", f)
	}
}

// maxLoggedFields bounds the fields or entries a log line or refusal names of one definition:
// a definition with thousands of them must not make a message of them all.
const maxLoggedFields = 50

// atMost returns the first n of list, and a last item saying how many more there are.
func atMost(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], fmt.Sprintf("and %d more", len(list)-n))
}

// warnPairLooser warns when the Classic file of Tyk's pair of files lets in what its OAS
// document would keep out: the Classic file is what serves, as in Tyk, so a document edited by
// hand (authentication, client certificates, an IP list switched on) changes nothing, and the
// Gateway API shows the document.
func (g *Gateway) warnPairLooser(id string, classic *apidef.APIDefinition, e apistore.Entry) {
	doc, err := e.OAS.Classic()
	if err != nil {
		return // the document's own problems are reported where it is checked
	}
	var looser []string
	if !doc.UseKeylessAccess && classic.UseKeylessAccess {
		looser = append(looser, "the document asks for authentication, the Classic file is keyless (use_keyless)")
	}
	if doc.UseMutualTLSAuth && !classic.UseMutualTLSAuth {
		looser = append(looser, "the document asks for client certificates, the Classic file does not (use_mutual_tls_auth)")
	}
	if doc.EnableIPWhiteListing && !classic.EnableIPWhiteListing {
		looser = append(looser, "the document allows only listed IP addresses, the Classic file does not (enable_ip_whitelisting)")
	}
	if doc.EnableIPBlacklisting && !classic.EnableIPBlacklisting {
		looser = append(looser, "the document blocks IP addresses, the Classic file does not (enable_ip_blacklisting)")
	}
	for _, l := range looser {
		g.log.Warn("the Classic file of an OAS API's pair of files serves it, as in Tyk, and lets in what its document would keep out; write the API through PUT /tyk/apis/oas/{id} to keep both in step",
			"api_id", id, "classic_file", filepath.Base(e.File), "document", filepath.Base(e.OASFile), "difference", l)
	}
}

// apiRuntime is one API compiled for serving.
type apiRuntime struct {
	// What serving, reloads and the status page read of the definition, copied out of it. With
	// thousands of APIs the decoded definitions were most of the heap the collector marks on
	// every cycle (docs/performance.md, "Per API"), so a compiled API keeps its definition
	// (full) only when a plugin can ask for it (sdk.GetDefinition).
	id, name, listenPath, domain string
	auth, upstream               string // the status page's (authKind, upstreamOf)
	sessionLifetime              int64
	// bundles names the bundles the definition asks for (custom_middleware_bundle, when not
	// disabled).
	bundles []string
	// loopPort is the proxy port the definition's loop check was made against (checkLoop):
	// a reload that reuses the API checks again only when the port is another.
	loopPort int32
	// full is the definition, for plugins (reqctx.State.API); nil when no plugin runs.
	full *apidef.APIDefinition
	// oas is the Tyk OAS document of an OAS API (nil for a Classic one): plugins read it
	// through sdk.GetOASDefinition, and OAS-only steps (request validation, mocks) compile
	// from it.
	oas *oas.Document
	// oasOps are the document's request validation and mock responses, nil when it has none.
	oasOps *oasOps
	// rare holds what few APIs have (uptime checks, a base API's version choice); nil when it
	// has none of it.
	rare *apiRare
	// events are the API's event handlers by event, nil when it has none.
	events events.Handlers
	rawSum [32]byte
	// versions are the API's versions by name (sorted), looked up with version. An API with one
	// version holds it in oneVersion, in the same allocation; byName indexes versions when
	// there are many.
	versions   []versionRuntime
	oneVersion [1]versionRuntime
	byName     map[string]int
	// single is the version of a not-versioned API.
	single *versionRuntime
	// expires is when a not-versioned API stops serving (expiration); nil: never.
	expires *apiExpiry
	// chain is held by value, and a short chain's steps in stepsBuf: fewer allocations per API
	// for the collector to mark.
	chain        chain.Chain
	stepsBuf     [4]chain.Step
	hooks        *apiHooks
	unavailable  bool     // a stand-in that answers 503: its bundle is not available
	track        *tracker // nil when the API's requests are not recorded
	stripListen  bool
	stripVersion bool   // the version is the first path segment and is removed before proxying
	via          string // the API's name in Via headers (loop.go)
	// internal APIs are not routed: only a loop reaches them (looping.go).
	internal bool
	// loops serves the requests this API loops (tyk:// targets), its upstream when
	// target_url is one; part of the compiled API's own allocation.
	loops   loopUpstream
	traffic traffic
	// needClientIP: a step needs the client address as trusted_proxies decide it (an IP list,
	// the access log's client_ip, a header using $tyk_context.remote_addr, analytics records,
	// basic auth's failure limiter, plugins: sdk.ClientIP).
	needClientIP bool
	// cache is the API's response cache (cache_options); nil when it caches nothing.
	cache *cache.Cache
	// authn are the API's credential checks beyond the key lookup; nil when it has none (one
	// pointer for all, which a keyless API's compiled form spares the collector).
	authn *apiAuthn
	// errs writes the API's error answers through error overrides (its own and tyk.conf's);
	// nil when there are none: the gateway's error templates answer.
	errs *overrideWriter
	// obs receives the API's metrics; nil when nothing observes.
	obs observe.API
	// access writes the API's access log lines; nil when access_logs is off.
	access *accesslog.Logger
	// trace starts the API's server spans; nil when tracing is off.
	trace *tracing.API
	// plugins: a plugin hook of some kind (or one that failed to load) runs on the API's
	// requests. What a plugin can reach (the request's context and state, the writers it is
	// handed) is then allocated per request and never reused (gateway.go, pluginRequest),
	// since a plugin may keep it after its hook returned, in a goroutine of its own.
	plugins bool
}

// apiRare holds what few APIs have, behind one pointer: with many APIs loaded, every field of
// apiRuntime is memory the collector marks for each of them (TestAPIMemory).
type apiRare struct {
	// uptime are the checks of the API's uptime_tests.
	uptime []uptime.Check
	// vrouter chooses the version API of a base API's requests (versioning.go).
	vrouter *versionRouter
	// tlsFiles are the client certificate and pinned key files the definition names, as its
	// transports were made from them (reuse.go).
	tlsFiles []tlsFileSum
	// serverCerts are the server certificates of the definition's certificates (tls.go).
	serverCerts []*tls.Certificate
	// certs are the certificate references the compile read (the server certificates, the
	// request signing key), for reuse.go.
	certs certsRead
	// versionStrip is strip_versioning_data on the API's own versions (version_data).
	versionStrip *versionStrip
	// batch serves <listen path>/tyk/batch (enable_batch_request_support; batch.go).
	batch bool
	// sansPlugins is, for an API with plugins or bundles, the digest of what it was compiled
	// from with its plugins aside (sansPlugins): whether a later version differs in its plugins
	// alone.
	sansPlugins [32]byte
}

// versionStrip is strip_versioning_data on an API's own versions, as Tyk's
// getVersionFromRequest strips: the header or query parameter that names the version, removed
// when the request goes upstream (a loop back into the API still finds it, where Tyk keeps the
// name it read on the request), or the URL segment (stripVersion), only when it matches
// url_versioning_pattern when there is one.
type versionStrip struct {
	location, key string
	pattern       *regexp.Regexp
}

// newVersionStrip compiles def's strip_versioning_data for its own versions; nil without it,
// or for a base API, whose version router strips.
func newVersionStrip(def *apidef.APIDefinition) (*versionStrip, error) {
	vd := def.VersionDefinition
	if !vd.APIs().StripVersioningData || def.VersionData.NotVersioned || def.VersionsEnabled() {
		return nil, nil
	}
	vs := &versionStrip{location: vd.Location, key: vd.Key}
	if vs.key == "" {
		vs.key = versionKey(vs.location)
	}
	if p := vd.APIs().URLVersioningPattern; p != "" && vs.location == "url" {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("definition.url_versioning_pattern: %w", err)
		}
		vs.pattern = re
	}
	return vs, nil
}

// ownVersionStrip returns the API's strip_versioning_data on its own versions, nil without it.
func (rt *apiRuntime) ownVersionStrip() *versionStrip {
	if rt.rare == nil {
		return nil
	}
	return rt.rare.versionStrip
}

// stripsSegment reports whether a URL version segment (stripVersion: strip_path or
// strip_versioning_data) is removed when proxying: when url_versioning_pattern, if any, matches
// it.
func (rt *apiRuntime) stripsSegment(seg string) bool {
	vs := rt.ownVersionStrip()
	return vs == nil || vs.pattern == nil || vs.pattern.MatchString(seg)
}

// uptimeChecks returns the checks of the API's uptime_tests.
func (rt *apiRuntime) uptimeChecks() []uptime.Check {
	if rt.rare == nil {
		return nil
	}
	return rt.rare.uptime
}

// versionRouter returns a base API's version choice, nil for other APIs.
func (rt *apiRuntime) versionRouter() *versionRouter {
	if rt.rare == nil {
		return nil
	}
	return rt.rare.vrouter
}

// versionRuntime is one version of an API compiled for serving. It keeps only what requests
// read of the version's settings: with many APIs loaded, what every compiled API holds is what
// the collector marks on each cycle.
type versionRuntime struct {
	name  string
	lists *endpoint.Lists
	// replies are the answers of lists.Reply, compiled.
	replies []*mock.Static
	expires time.Time
	// expiresHeader is X-Tyk-Api-Expires's value for a version that expires (Tyk's): the
	// date in RFC 1123 form; "" for one that does not.
	expiresHeader string
	// sizeLimit is the version's global_size_limit, 0 when it has none or it is disabled.
	sizeLimit int64
	upstream  handler
}

// apiExpiry is a not-versioned API's expiration, and X-Tyk-Api-Expires's value for it.
type apiExpiry struct {
	at     time.Time
	header string
}

// indexVersionsOver is the number of versions from which version looks them up in a map rather
// than one by one.
const indexVersionsOver = 8

// version returns the API's version called name, nil when it has none.
func (rt *apiRuntime) version(name string) *versionRuntime {
	if rt.byName != nil {
		if i, ok := rt.byName[name]; ok {
			return &rt.versions[i]
		}
		return nil
	}
	for i := range rt.versions {
		if rt.versions[i].name == name {
			return &rt.versions[i]
		}
	}
	return nil
}

// noLists are the endpoint lists of every version that has none: shared, so never changed.
var noLists = &endpoint.Lists{}

// defaultVersionName is the version of an API that declares none.
const defaultVersionName = "Default"

// compile builds the serving form of a definition, its plugin hooks loaded.
func (g *Gateway) compile(def *apidef.APIDefinition, doc *oas.Document, pols policy.Set, pins map[string]string) (*apiRuntime, error) {
	return g.compileWith(def, doc, pols, g.loadHooks(def, pols, pins))
}

// compileWith builds the serving form of a definition with the given hooks. With nil hooks it
// checks a definition as a reload would, with no side effect: loading hooks opens plugins,
// which can never be unloaded, and builds source plugins, while a hook that cannot be loaded
// never makes a definition fail (its API fails closed instead); and taking the API's metrics
// handle makes its series, which a definition refused, or not yet served, must not have.
func (g *Gateway) compileWith(def *apidef.APIDefinition, doc *oas.Document, pols policy.Set, hooks *apiHooks) (*apiRuntime, error) {
	check := hooks == nil
	if check {
		hooks = &apiHooks{}
	}
	versions := def.VersionData.Versions
	if len(versions) == 0 {
		versions = map[string]apidef.VersionInfo{defaultVersionName: {Name: defaultVersionName}}
	}
	names := make([]string, 0, len(versions))
	for name := range versions {
		names = append(names, name)
	}
	sort.Strings(names)
	// The strings the compiled API keeps (its id, name, listen path, domain, target, Via name
	// and version names, held by its fields, its upstream's URL and its steps' closures) share
	// one allocation (the org id too, which the error renderer keeps for events), taken from a
	// shallow copy of def, so the caller's is left as it was: with
	// 10,000 APIs, each string an object of its own was a third of the objects the collector
	// marks per API (docs/performance.md, "Per API").
	cp := *def
	def = &cp
	viaHeader := viaVersion + g.viaName(def.APIID) // the upstream's Via value; rt.via its name
	packed := []*string{&def.APIID, &def.Name, &def.Proxy.ListenPath, &def.Domain, &def.Proxy.TargetURL, &def.OrgID, &viaHeader}
	for i := range names {
		packed = append(packed, &names[i])
	}
	strpack.Pack(packed...)
	rt := &apiRuntime{
		oas:          doc,
		stripListen:  def.Proxy.StripListenPath,
		stripVersion: def.VersionDefinition.Location == "url" && (def.VersionDefinition.StripPath || def.VersionDefinition.APIs().StripVersioningData),
		via:          viaHeader[len(viaVersion):],
		access:       g.access,
		trace:        g.traceAPI(def),
	}
	if !check {
		rt.obs = g.apiObs(def.APIID)
	}
	rt.hooks = hooks
	// The traffic middleware first: the upstream's response hook applies its header transforms.
	var err error
	rt.events = g.compileEvents(def)
	if hooks.env != nil && len(rt.events["AuthFailure"]) > 0 {
		hooks.env.Forbidden = g.pluginAuthFailure(rt.events, def.APIID, def.OrgID)
	}
	if rt.traffic, err = g.compileTraffic(def, rt.events); err != nil {
		return nil, err
	}
	if rt.cache, err = cache.Compile(def, g.respCache); err != nil {
		return nil, err
	}
	rt.needClientIP = rt.traffic.ip != nil || rt.access.Has(accesslog.ClientIP) || rt.traffic.headers.UsesVar("remote_addr") ||
		rt.events.Handles(requestEvents...) ||
		(g.analytics != nil && !def.DoNotTrack) || (def.UseBasicAuth && !def.UseKeylessAccess) || (rt.cache != nil && def.UseKeylessAccess) ||
		def.EnableContextVars || // $tyk_context.remote_addr in a URL rewrite or a body transform
		apidef.IsLoopTarget(def.Proxy.TargetURL) || rt.traffic.rewrites.Loops() // a looped API's IP lists
	// What the compile reads of certificates, for reuse.go.
	var read certsRead
	sign, err := g.compileRequestSigning(def, &read)
	if err != nil {
		return nil, err
	}
	if rt.errs, err = g.errorWriterFor(def); err != nil {
		return nil, err
	}
	rt.loops = loopUpstream{g: g, rt: rt}
	var api handler = &rt.loops
	if t := def.Proxy.TargetURL; apidef.IsLoopTarget(t) && !def.Proxy.EnableLoadBalancing {
		rt.loops.to, _ = apidef.SplitLoopTarget(t)
		rt.loops.toKey = apidef.LoopKey(rt.loops.to)
	} else if api, err = g.newUpstream(def, "", rt, viaHeader, sign); err != nil {
		return nil, err
	}
	if len(names) == 1 {
		rt.versions = rt.oneVersion[:]
	} else {
		rt.versions = make([]versionRuntime, len(names))
	}
	if len(names) > indexVersionsOver {
		rt.byName = make(map[string]int, len(names))
	}
	for i, name := range names {
		v := versions[name]
		vr := &rt.versions[i]
		vr.name, vr.upstream = name, api
		if v.GlobalSizeLimit > 0 && !v.GlobalSizeLimitDisabled {
			vr.sizeLimit = v.GlobalSizeLimit
		}
		if rt.byName != nil {
			rt.byName[name] = i
		}
		if vr.lists, err = endpoint.CompileVersion(&v, g.cfg.HTTPServerOptions.EnablePathSuffixMatching); err != nil {
			return nil, fmt.Errorf("version %q: %w", name, err)
		}
		for _, r := range vr.lists.Reply {
			vr.replies = append(vr.replies, mock.Classic(r.Code, r.Body, r.Headers))
		}
		if vr.lists.Empty() && len(vr.lists.Reply) == 0 {
			vr.lists = noLists
		}
		// A not-versioned API's version does not expire, as in Tyk: the API's expiration does.
		if v.Expires != "" && v.Expires != "-1" && !def.VersionData.NotVersioned {
			if vr.expires, err = time.Parse(apidef.ExpiresLayout, v.Expires); err != nil {
				return nil, fmt.Errorf("version %q: expires: %w", name, err)
			}
			vr.expiresHeader = vr.expires.Format(time.RFC1123)
		}
		if v.OverrideTarget != "" {
			if vr.upstream, err = g.newUpstream(def, v.OverrideTarget, rt, viaHeader, sign); err != nil {
				return nil, fmt.Errorf("version %q: %w", name, err)
			}
		}
	}
	if def.VersionData.NotVersioned && def.Expiration != "" && def.Expiration != "-1" {
		t, err := time.Parse(apidef.ExpiresLayout, def.Expiration)
		if err != nil {
			return nil, fmt.Errorf("expiration: %w", err)
		}
		rt.expires = &apiExpiry{at: t, header: t.Format(time.RFC1123)}
	}
	// A single version serves every request, unless the request names versions in its URL:
	// that segment must still be recognised, so it is not mistaken for part of the endpoint.
	// A base API (versions served by other APIs) reads the version itself, before its chain.
	if def.VersionData.NotVersioned || def.VersionsEnabled() || (len(rt.versions) == 1 && def.VersionDefinition.Location != "url") {
		rt.single = rt.pickSingle(def)
	}
	ad := authDefinition(def)
	var an apiAuthn
	if an.jwt, err = g.compileJWT(ad, pols); err != nil {
		return nil, err
	}
	if an.basic, err = g.compileBasicAuth(ad, pols); err != nil {
		return nil, err
	}
	if an.oauth, err = g.compileOAuth(ad, pols); err != nil {
		return nil, err
	}
	if an.mtls, err = g.compileMutualTLS(def); err != nil {
		return nil, err
	}
	if an.certAuth, err = g.compileCertAuth(ad); err != nil {
		return nil, err
	}
	if an.hmac, err = g.compileHMAC(ad, pols); err != nil {
		return nil, err
	}
	if an != (apiAuthn{}) {
		rt.authn = &an
	}
	if rt.oasOps, err = compileOASOps(doc, hooks, ignoresEndpointCase(def, doc)); err != nil {
		return nil, fmt.Errorf("the OAS document: %w", err)
	}
	// The tracker first: its detail step is one of the chain's.
	if rt.track, err = g.tracker(def, rt.hooks); err != nil {
		return nil, err
	}
	steps, err := g.steps(rt, def, ad, pols)
	if err != nil {
		return nil, err
	}
	if def.DetailedTracing && g.tracer != nil {
		steps = tracedSteps(steps)
	}
	rt.chain = *chain.New(steps, rt.forward, g.render(def.APIID, def.OrgID, rt.obs, rt.events))
	checks, err := g.compileUptime(def)
	if err != nil {
		return nil, err
	}
	vr, err := newVersionRouter(def)
	if err != nil {
		return nil, err
	}
	vs, err := newVersionStrip(def)
	if err != nil {
		return nil, err
	}
	files := g.transports.apiFiles(def)
	certs, err := g.compileServerCerts(def, &read)
	if err != nil {
		return nil, err
	}
	if len(checks) > 0 || vr != nil || vs != nil || def.EnableBatchRequestSupport || len(files) > 0 || len(read.refs) > 0 {
		rt.rare = &apiRare{uptime: checks, vrouter: vr, tlsFiles: files, serverCerts: certs, certs: read, versionStrip: vs,
			batch: def.EnableBatchRequestSupport}
	}
	rt.plugins = hooks.any()
	// A plugin may ask for the client's address (sdk.ClientIP, Tyk's request.RealIP).
	rt.needClientIP = rt.needClientIP || rt.plugins
	rt.describe(def)
	return rt, nil
}

// apiAuthn are the credential checks of an API, each nil when it has none.
type apiAuthn struct {
	// jwt is the API's JWT auth (enable_jwt).
	jwt *jwtAuth
	// basic is the API's basic auth (use_basic_auth).
	basic *basicAuth
	// oauth is the API's OAuth 2.0 server (use_oauth2).
	oauth *oauthRuntime
	// mtls is the API's client certificate check (use_mutual_tls_auth).
	mtls *mtls.Check
	// hmac is the API's request signature check (enable_signature_checking).
	hmac *httpsig.Auth
	// certAuth: the API's key is found by the client certificate (use_certificate).
	certAuth bool
}

// asksClientCert reports whether the API reads client certificates: use_mutual_tls_auth, or
// certificate auth.
func (rt *apiRuntime) asksClientCert() bool {
	return rt.authn != nil && (rt.authn.mtls != nil || rt.authn.certAuth)
}

// mutualTLS returns the API's client certificate check, nil when it has none.
func (rt *apiRuntime) mutualTLS() *mtls.Check {
	if rt.authn == nil {
		return nil
	}
	return rt.authn.mtls
}

// describe copies out of def what is read of it once rt is compiled (the fields at the top of
// apiRuntime), and keeps def itself when a plugin can ask for it.
func (rt *apiRuntime) describe(def *apidef.APIDefinition) {
	rt.id, rt.name, rt.listenPath, rt.domain = def.APIID, def.Name, def.Proxy.ListenPath, def.Domain
	rt.internal = def.Internal
	rt.auth, rt.upstream, rt.sessionLifetime = authKind(def), upstreamOf(def), def.SessionLifetime
	if !def.CustomMiddlewareBundleDisabled {
		rt.bundles = bundle.Names(def.CustomMiddlewareBundle)
	}
	if rt.plugins {
		rt.full = def
	}
}

// pickSingle chooses the version of a not-versioned API: default_version, else "Default", else
// the only one, else the first by name.
func (rt *apiRuntime) pickSingle(def *apidef.APIDefinition) *versionRuntime {
	if v := rt.version(def.VersionData.DefaultVersion); v != nil {
		return v
	}
	if v := rt.version(defaultVersionName); v != nil {
		return v
	}
	return &rt.versions[0]
}

// logHookFailures logs each plugin hook that could not be loaded, once.
func (g *Gateway) logHookFailures(prev, snap *snapshot) {
	old := map[string]bool{}
	if prev != nil {
		for _, f := range prev.hookFailures {
			old[f.String()] = true
		}
	}
	if g.obs != nil {
		g.obs.PluginsFailed(len(snap.hookFailures))
	}
	for _, f := range snap.hookFailures {
		if !old[f.String()] {
			if g.obs != nil {
				g.obs.PluginLoadFailed(loadReason(f.err))
			}
			g.log.Error("plugin hook not loaded; its API fails closed", "api_id", f.hook.APIID, "hook", f.hook.Phase,
				"symbol", f.hook.Symbol, "file", f.hook.File, "error", f.err)
		}
	}
}

// reservedPath names what a listen path would collide with on the proxy listener: the Gateway
// API's /tyk/ paths when it shares the listener (and the profiler's, when it is on), and the
// health and readiness checks when they are served there.
func (g *Gateway) reservedPath(listenPath string) string {
	lp := strings.TrimSuffix(listenPath, "/")
	health, ready := g.cfg.HealthPath(), g.cfg.ReadyPath()
	onMain := g.cfg.ControlOnMainListener() || g.cfg.SecretProblem() != ""
	switch {
	case g.cfg.ControlOnMainListener() && (lp == "/tyk" || strings.HasPrefix(lp, "/tyk/")):
		return "the Gateway API (/tyk/)"
	case g.cfg.ControlOnMainListener() && g.cfg.EnableHTTPProfiler && (lp+"/" == admin.ProfilerPath || strings.HasPrefix(lp, admin.ProfilerPath)):
		return "the profiler (" + admin.ProfilerPath + ", enable_http_profiler)"
	case onMain && lp == health:
		return "the health check (" + health + ")"
	case onMain && lp == ready:
		return "the readiness check (" + ready + ")"
	}
	return ""
}

// entrySum identifies what an entry holds, so that its ignored fields are logged again only when
// it changes: the Classic definition and, for an OAS API, the document.
func entrySum(e apistore.Entry) [32]byte {
	h := sha256.New()
	h.Write(e.Raw)
	if e.OAS != nil {
		h.Write([]byte{0})
		h.Write(e.OAS.Raw)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
