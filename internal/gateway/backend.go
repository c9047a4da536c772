package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/fleet"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/router"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// The Gateway implements the Gateway API's view of it.
var _ admin.Backend = (*Gateway)(nil)

// Health reports what serves and what does not: every definition that could not be served and
// why, the store, the Gateway API itself and the last reload.
func (g *Gateway) Health(ctx context.Context) admin.Health {
	now := g.now().UTC().Format(time.RFC3339)
	h := admin.Health{
		Status:      admin.StatusPass,
		Version:     g.version,
		Description: "Gatehouse API gateway",
		Details:     map[string]admin.Detail{},
	}
	// report adds a warning; public marks an output that names no path, URL, address, file or
	// internal id, which /hello shows without the secret too (admin.PublicHealth).
	report := func(key, kind, out string, public bool) {
		for k := key; ; k += "'" {
			if _, taken := h.Details[k]; !taken {
				h.Details[k] = admin.Detail{Status: admin.StatusWarn, ComponentType: kind, Output: out, Time: now, Public: public}
				break
			}
		}
		if h.Status == admin.StatusPass {
			h.Status = admin.StatusWarn
		}
	}
	warn := func(key, kind, out string) { report(key, kind, out, false) }
	snap := g.snap.Load()
	for _, p := range snap.problems {
		warn(p.key(), "api", p.String())
	}
	for _, f := range snap.hookFailures {
		warn(f.key(), "plugin", f.String())
	}
	for _, b := range snap.issues {
		warn(b.kind+":"+b.apiID, b.kind, b.String())
	}
	for id, err := range snap.badPolicies {
		warn("policy:"+id, "policy", fmt.Sprintf("policy %q in %s is not loaded, and keys naming it are refused: %v", id, filepath.Base(g.cfg.PolicyFile()), err))
	}
	for _, id := range snap.inactive {
		h.Details["api:"+id] = admin.Detail{Status: admin.StatusPass, ComponentType: "api", Output: "not served: the definition sets active to false", Time: now}
	}
	store, down := g.storeHealth(ctx, snap, now, report)
	for k, d := range store {
		h.Details[k] = d
	}
	if down && h.Status == admin.StatusPass {
		h.Status = admin.StatusWarn
	}
	// The Redis servers of their own blocks (the store's is above): public as /hello is, so
	// whether they answer, never where they are or the raw error.
	for _, r := range g.redisServers() {
		if r.block == "storage" {
			continue
		}
		if rtt, err := r.p.Probe(ctx); err != nil {
			report(r.helloKey, "datastore", r.name+" does not answer (the log says why): "+r.effect, true)
		} else {
			h.Details[r.helloKey] = admin.Detail{Status: admin.StatusPass, ComponentType: "datastore", Time: now, Public: true,
				Output: fmt.Sprintf("%s answers: round trip %v", r.name, rtt.Round(time.Microsecond))}
		}
	}
	g.mu.Lock()
	reloadErr, adminProblem := g.lastReloadErr, g.adminProblem
	g.mu.Unlock()
	if reloadErr != nil {
		warn("reload", "system", "the last reload failed and the previous configuration keeps serving: "+reloadErr.Error())
	}
	if d := g.reloads.running(time.Now()); d >= stuckReload {
		report("reload_running", "system", fmt.Sprintf("a reload has run for %v and has not ended (a definition or file that does not finish reading, a store that hangs, or with fail_on_plugin_load_error a plugin whose init does not return): the configuration before it keeps serving, and no later reload can run; restart the gateway", d.Round(time.Second)), true)
	}
	if adminProblem != "" {
		report("gateway_api", "system", adminProblem, true) // why the secret is unusable: no secret, no path
	}
	g.certHealth(warn)
	return h
}

// Ready reports whether the gateway should be sent traffic (/ready), with Tyk's reasons when
// not: it is stopping, its Redis does not answer (keyed requests would fail), or it has never
// read the definitions the fleet shares in Redis (it would answer 404 for their APIs), or its
// first APIs still wait for their plugins (a bundle download, a plugin build: they would answer
// 503). Otherwise it is ready, whatever /hello warns of: an API that does not load fails on every
// gateway alike, and taking them all out of service would not serve it.
func (g *Gateway) Ready(ctx context.Context) (admin.Health, string) {
	if g.stopping.Load() {
		return admin.Health{}, "Gateway is shutting down"
	}
	if p, ok := g.store.(storage.Prober); ok {
		if _, err := p.Probe(ctx); err != nil {
			return admin.Health{}, "Redis connection not available"
		}
	}
	if g.shared != nil && !g.snap.Load().shared.loaded || !g.settled.Load() {
		return admin.Health{}, "A successful API reload did not happen"
	}
	h := g.Health(ctx)
	h.Description += ", ready"
	return h, ""
}

// Stopping marks the gateway as stopping: /ready answers 503 from then on, while it serves on.
func (g *Gateway) Stopping() { g.stopping.Store(true) }

func (g *Gateway) storeName() string {
	if g.cfg.Storage.Type == "" {
		return "memory"
	}
	return g.cfg.Storage.Type
}

// APIs returns the definitions stored in app_path that decode, as stored (fields Gatehouse does
// not read included), then with Redis those the fleet shares that no file here overrides.
func (g *Gateway) APIs(ctx context.Context) ([]json.RawMessage, error) {
	entries, err := g.storedAPIs(ctx)
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range entries {
		if e.Err == nil {
			out = append(out, json.RawMessage(e.Raw))
		}
	}
	return out, nil
}

// storedAPIs returns the files' definitions, then the shared ones whose api_id no file takes.
func (g *Gateway) storedAPIs(ctx context.Context) ([]apistore.Entry, error) {
	files, err := g.apis.LoadMemo(g.defs) // only read: the memo's entries may be shared
	if err != nil || g.shared == nil {
		return files, err
	}
	shared, err := g.shared.Load(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range shared {
		if e.Err != nil {
			continue
		}
		if _, inFile := apistore.Find(files, e.Head.APIID); !inFile {
			files = append(files, e)
		}
	}
	return files, nil
}

// API returns the stored definition with the given id, as stored.
func (g *Gateway) API(ctx context.Context, id string) (json.RawMessage, error) {
	entries, err := g.storedAPIs(ctx)
	if err != nil {
		return nil, err
	}
	e, ok, err := apistore.FindOne(entries, id)
	if err != nil {
		return nil, storeRefusal(err)
	}
	if !ok {
		e, ok = apistore.Find(entries, id) // one stored in Redis
	}
	if ok {
		return json.RawMessage(e.Raw), nil
	}
	return nil, apistore.ErrNotFound
}

// SaveAPI checks a definition as a reload would (without loading its plugins) and stores it:
// in app_path, or with Redis in Redis for the whole fleet. A new one when create is set, else
// over the stored one with its id, which must exist (apistore.ErrNotFound). Like Tyk, it does
// not reload: the definition serves after the next reload (/tyk/reload/group for a fleet).
func (g *Gateway) SaveAPI(ctx context.Context, def *apidef.APIDefinition, raw []byte, create bool) error {
	entry := apistore.NewEntry("", raw, def)
	if _, err := g.check(entry); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if _, err := g.compileWith(def, nil, g.snap.Load().policies, nil); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if reserved := g.reservedPath(def.Proxy.ListenPath); reserved != "" {
		return fmt.Errorf("%w: listen path %q would be shadowed by %s", admin.ErrConflict, def.Proxy.ListenPath, reserved)
	}
	if g.shared != nil {
		return g.saveShared(ctx, def, raw, create, func(e apistore.Entry) error {
			if isOAS(e) {
				return errClassicOverOAS
			}
			return nil
		}, "/tyk/apis/")
	}
	_, err := g.apis.SaveChecked(def.APIID, raw, func(stored []apistore.Entry) error {
		// Under the store's lock: a definition deleted meanwhile is not written back.
		e, exists := apistore.Find(stored, def.APIID)
		if !create && !exists {
			return apistore.ErrNotFound
		}
		if exists && isOAS(e) {
			return errClassicOverOAS
		}
		return routeConflict(def, create, append(append([]apistore.Entry(nil), g.extra...), stored...), nil)
	})
	return storeRefusal(err)
}

// storeRefusal marks app_path's refusals of a new API for the Gateway API (a 400 with the
// reason): an api_id whose file the loader would read as another API's document, and a file
// that is not the API's own (another API's definition or document, or one that does not load).
func storeRefusal(err error) error {
	switch {
	case errors.Is(err, apistore.ErrCompanionID):
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	case errors.Is(err, apistore.ErrFileTaken), errors.Is(err, apistore.ErrRepeatedID):
		return fmt.Errorf("%w: %s", admin.ErrConflict, err)
	}
	return err
}

// sharedLock is taken across the fleet (storage.LockShared) while a definition is checked
// against the stored ones (listen paths, ids) and written, so that two gateways, or two
// requests, storing APIs with one listen path at once do not both pass the check.
const (
	sharedLock    = "gatehouse-lock:shared-apis"
	sharedLockTTL = 10 * time.Second
)

// lockShared takes sharedLock.
func (g *Gateway) lockShared(ctx context.Context) (func(), error) {
	return storage.LockShared(ctx, g.store, &g.sharedMu, sharedLock, sharedLockTTL, "storing an API definition")
}

// saveShared stores a definition in Redis for the whole fleet: raw, a Classic definition or a Tyk
// OAS document, whose Classic form is def. A definition in this gateway's app_path is its own
// and cannot be changed from here: other gateways would not see the change. otherFormat refuses
// a stored definition of the other format under the id (nil when it is of raw's), and endpoint
// is the Gateway API path that changes raw's format ("/tyk/apis/", "/tyk/apis/oas/").
func (g *Gateway) saveShared(ctx context.Context, def *apidef.APIDefinition, raw []byte, create bool, otherFormat func(apistore.Entry) error, endpoint string) error {
	release, err := g.lockShared(ctx)
	if err != nil {
		return err
	}
	defer release()
	entries, err := g.storedAPIs(ctx)
	if err != nil {
		return err
	}
	if e, ok := apistore.Find(entries, def.APIID); ok && !strings.HasPrefix(e.File, apistore.SharedPrefix) {
		return fileOwned(def.APIID, e.File)
	} else if ok {
		if err := otherFormat(e); err != nil {
			return err
		}
	}
	if err := g.fleetConflict(ctx, def, create, entries); err != nil {
		return err
	}
	err = g.shared.Save(ctx, def.APIID, raw, create)
	if errors.Is(err, apistore.ErrExists) {
		return fmt.Errorf("%w: an API with api_id %q exists; use PUT %s%s to change it", admin.ErrConflict, def.APIID, endpoint, def.APIID)
	}
	if err == nil {
		g.noteStored(ctx, deletedAPI, def.APIID)
	}
	return err
}

// errClassicOverOAS is Tyk's answer to a Classic definition sent over an OAS API: writing it
// would leave the OAS document stale (or overwrite it with a Classic file).
var errClassicOverOAS = fmt.Errorf("%w: %w", admin.ErrInvalid, admin.ErrOASAPI)

// isOAS reports whether a stored definition is a Tyk OAS API.
func isOAS(e apistore.Entry) bool {
	return e.OAS != nil || e.OASFile != "" || (e.Err == nil && e.Head.IsOAS)
}

// fileOwned is the error for a change, through the Gateway API of a gateway on Redis, to a
// definition that comes from this gateway's app_path.
func fileOwned(id, file string) error {
	return fmt.Errorf("%w: API %q is defined by %s in this gateway's app_path, which the other gateways "+
		"do not see; change the file on every gateway, or delete it and POST the definition to share "+
		"it through Redis", admin.ErrConflict, id, filepath.Base(file))
}

// fleetConflict is routeConflict for a definition about to be shared through Redis, given the
// stored ones (storedAPIs). Segmented gateways (db_app_conf_options) serve only the shared
// definitions tagged for them, so two shared definitions may take the same listen path when no
// gateway serves both: the same API for two regions, each with its own upstream. The gateways
// are this one and those the fleet's announcements list (with a node secret); one that is not
// segmented serves every definition; only gateways heard from within fleet.StaleAfter count. A
// gateway that joins later and would serve both serves the one it had first, or the first by
// api_id, and reports the other. This gateway's own definitions (built-in, app_path) clash with
// a new one it would serve, whatever their tags.
func (g *Gateway) fleetConflict(ctx context.Context, def *apidef.APIDefinition, create bool, stored []apistore.Entry) error {
	mine := apistore.HeadOf(def).Tags()
	servers := [][]string{g.cfg.Segment()}
	if g.fleet != nil {
		nodes, _, _, err := g.fleet.Nodes(ctx, g.store)
		if err != nil {
			return fmt.Errorf("reading which tags the fleet's gateways serve: %w", err)
		}
		for _, n := range nodes {
			// Live ones: a gateway stopped (or restarted, under a new id) is not heard from
			// again, and its old segment must not hold up the new layout. One that comes back
			// reports a clash, if any, at its reload.
			if g.now().Sub(time.UnixMilli(n.Time)) <= fleet.StaleAfter {
				servers = append(servers, n.Tags)
			}
		}
	}
	serves := func(segment, tags []string) bool { return segment == nil || tagged(tags, segment) }
	servedHere := serves(g.cfg.Segment(), mine)
	return routeConflict(def, create, append(append([]apistore.Entry(nil), g.extra...), stored...), func(e apistore.Entry) (bool, string) {
		if !strings.HasPrefix(e.File, apistore.SharedPrefix) {
			return !servedHere, ""
		}
		for _, s := range servers {
			if serves(s, mine) && serves(s, e.Head.Tags()) {
				if s == nil {
					return false, " (a gateway of the fleet that is not segmented would serve both)"
				}
				return false, fmt.Sprintf(" (a gateway of the fleet segmented on tags %s would serve both)", strings.Join(s, ", "))
			}
		}
		return true, ""
	})
}

// routeConflict reports whether def clashes with another definition: the same id (on create),
// or the same listen path and domain as decided by the router itself. apart, when not nil, names
// the definitions no gateway serves together with def (they take no listen path from it), and
// for the others says where they would meet, to add to the error.
func routeConflict(def *apidef.APIDefinition, create bool, others []apistore.Entry, apart func(apistore.Entry) (bool, string)) error {
	var routes []router.Route[string]
	where := map[string]string{}
	for _, e := range others {
		if e.Err != nil {
			continue
		}
		if e.Head.APIID == def.APIID {
			if create {
				endpoint := "/tyk/apis/" // where the stored one's format is changed
				if isOAS(e) {
					endpoint = "/tyk/apis/oas/"
				}
				return fmt.Errorf("%w: an API with api_id %q exists; use PUT %s%s to change it", admin.ErrConflict, def.APIID, endpoint, def.APIID)
			}
			continue
		}
		if !e.Head.Active || e.Head.Internal {
			continue
		}
		if apart != nil {
			separate, note := apart(e)
			if separate {
				continue
			}
			where[e.Head.APIID] = note
		}
		routes = append(routes, router.Route[string]{Domain: e.Head.Domain, ListenPath: e.Head.ListenPath, Value: e.Head.APIID})
	}
	if def.Internal {
		return nil // not routed: it takes no listen path from anyone
	}
	routes = append(routes, router.Route[string]{Domain: def.Domain, ListenPath: def.Proxy.ListenPath, Value: def.APIID})
	_, conflicts := router.New(routes)
	for _, c := range conflicts {
		if c.Index == len(routes)-1 {
			other := routes[c.Existing].Value
			return fmt.Errorf("%w: listen path %q%s is already used by API %q%s", admin.ErrConflict, def.Proxy.ListenPath, domainNote(def.Domain), other, where[other])
		}
	}
	return nil
}

// DeleteAPI removes a stored definition; it stops serving at the next reload.
func (g *Gateway) DeleteAPI(ctx context.Context, id string) error {
	if g.shared == nil {
		return storeRefusal(g.apis.Delete(id))
	}
	file, err := g.apis.FileFor(id)
	if err != nil {
		return err
	}
	if file != "" {
		return fileOwned(id, file)
	}
	// Noted first, so that a gateway writing back what Redis lost meanwhile skips it.
	g.noteDeleted(ctx, deletedAPI, id)
	if err := g.shared.Delete(ctx, id); err != nil {
		if _, served := g.snap.Load().apis[id]; !errors.Is(err, apistore.ErrNotFound) || !served {
			g.noteStored(ctx, deletedAPI, id) // not deleted, and nothing to keep from coming back
		}
		// Not in Redis though this gateway serves it: Redis lost it; the note keeps it from
		// being written back.
		return err
	}
	return nil
}

// Policies returns the policies: the policies file's and, with Redis, those the fleet shares,
// as they are now (what serves is what the last reload read).
func (g *Gateway) Policies(ctx context.Context) ([]json.RawMessage, error) {
	file, err := policy.Load(g.cfg.PolicyFile())
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, id := range slices.Sorted(maps.Keys(file)) {
		raw, err := json.Marshal(file[id])
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	if g.shared == nil {
		return out, nil
	}
	docs, err := g.store.Documents(ctx, sharedPoliciesSet)
	if err != nil {
		return nil, fmt.Errorf("reading the shared policies: %w", err)
	}
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		if _, inFile := file[id]; !inFile {
			out = append(out, json.RawMessage(docs[id]))
		}
	}
	return out, nil
}

// errPoliciesFromFile says why a gateway on the memory store cannot change policies.
var errPoliciesFromFile = fmt.Errorf("%w: this gateway reads its policies from policies.policy_record_name; "+
	"edit that file and reload, or use storage.type \"redis\" to share policies changed through "+
	"this API between gateways", admin.ErrReadOnly)

// SavePolicy stores a policy in Redis for the fleet. Like a definition, it applies after the
// next reload.
func (g *Gateway) SavePolicy(ctx context.Context, p *apidef.Policy, raw []byte, create bool) error {
	if g.shared == nil {
		return errPoliciesFromFile
	}
	if file, _ := policy.Load(g.cfg.PolicyFile()); file[p.ID] != nil {
		return policyFileOwned(p.ID)
	}
	mode := storage.Update
	if create {
		mode = storage.Create
	}
	err := g.store.PutDocument(ctx, sharedPoliciesSet, p.ID, raw, mode)
	switch {
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("%w: a policy with id %q exists; use PUT /tyk/policies/%s to change it", admin.ErrConflict, p.ID, p.ID)
	case errors.Is(err, storage.ErrNotFound):
		return apistore.ErrNotFound
	case err == nil:
		g.noteStored(ctx, deletedPolicy, p.ID)
	}
	return err
}

// DeletePolicy removes a policy the fleet shares.
func (g *Gateway) DeletePolicy(ctx context.Context, id string) error {
	if g.shared == nil {
		return errPoliciesFromFile
	}
	if file, _ := policy.Load(g.cfg.PolicyFile()); file[id] != nil {
		return policyFileOwned(id)
	}
	g.noteDeleted(ctx, deletedPolicy, id) // first, as for a definition (DeleteAPI)
	ok, err := g.store.DeleteDocument(ctx, sharedPoliciesSet, id)
	if err != nil || !ok {
		if _, served := g.snap.Load().policies[id]; err != nil || !served {
			g.noteStored(ctx, deletedPolicy, id)
		}
		if err != nil {
			return err
		}
		return apistore.ErrNotFound
	}
	return nil
}

func policyFileOwned(id string) error {
	return fmt.Errorf("%w: policy %q comes from this gateway's policies file, which the other gateways "+
		"do not see; change the file, or remove the policy from it and POST it to share it through Redis", admin.ErrConflict, id)
}

// PolicyExists reports whether the current snapshot holds the policy.
func (g *Gateway) PolicyExists(id string) bool {
	_, ok := g.snap.Load().policies[id]
	return ok
}

// PolicyAPIs returns the APIs the current snapshot's policies ids give access to.
func (g *Gateway) PolicyAPIs(ids []string) []string {
	pols := g.snap.Load().policies
	var out []string
	for _, id := range ids {
		if p := pols[id]; p != nil {
			for apiID := range p.AccessRights {
				out = append(out, apiID)
			}
		}
	}
	return out
}

// ApplyPolicies returns the session as the current snapshot's policies make it.
func (g *Gateway) ApplyPolicies(sess *apidef.SessionState) (*apidef.SessionState, error) {
	return g.snap.Load().policies.Apply(sess)
}

// KeyExpiry returns when a key created now naming the current snapshot's policies ids expires.
func (g *Gateway) KeyExpiry(ids []string, now time.Time) int64 {
	return g.snap.Load().policies.KeyExpiry(ids, now)
}

// SessionLifetime returns the longest session_lifetime of the given APIs in the current snapshot.
func (g *Gateway) SessionLifetime(apiIDs []string) time.Duration {
	snap := g.snap.Load()
	var longest int64
	for _, id := range apiIDs {
		if rt, ok := snap.apis[id]; ok && rt.sessionLifetime > longest {
			longest = rt.sessionLifetime
		}
	}
	return time.Duration(longest) * time.Second
}

// redisServer is one of the Redis servers the gateway uses.
type redisServer struct {
	// block is the block of tyk.conf that configures it, helloKey its entry in /hello, name
	// what messages call it and effect what its silence does to the traffic.
	block, helloKey, name, effect string
	p                             storage.Prober
}

// redisServers are the Redis servers the gateway uses: the store's (when it is Redis), then
// the analytics records' and the response cache's when they have their own.
func (g *Gateway) redisServers() []redisServer {
	var out []redisServer
	if p, ok := g.store.(storage.Prober); ok {
		out = append(out, redisServer{"storage", "redis", "Redis", g.storeDownEffect(), p})
	}
	if g.analyticsStore != nil {
		out = append(out, redisServer{"analytics_storage", "analytics_redis", "the analytics Redis (analytics_storage)",
			"analytics records are dropped and counted, requests are served as ever", g.analyticsStore})
	}
	if g.cacheStore != nil {
		out = append(out, redisServer{"cache_storage", "cache_redis", "the response cache's Redis (cache_storage)",
			"requests to cached APIs go to their upstreams and nothing is cached", g.cacheStore})
	}
	return out
}

// storeDownEffect says what the store's Redis not answering does to the traffic.
func (g *Gateway) storeDownEffect() string {
	if g.fallbackLimits != nil {
		return "keys this gateway has seen are served from its memory, with limits counted on it alone " +
			"(storage.fallback_to_cached_sessions); other keyed requests fail closed with 503"
	}
	return "keyed requests fail closed with 503"
}
