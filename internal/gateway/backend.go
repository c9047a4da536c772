package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/router"
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
	warn := func(key, kind, out string) {
		for k := key; ; k += "'" {
			if _, taken := h.Details[k]; !taken {
				h.Details[k] = admin.Detail{Status: admin.StatusWarn, ComponentType: kind, Output: out, Time: now}
				break
			}
		}
		if h.Status == admin.StatusPass {
			h.Status = admin.StatusWarn
		}
	}
	snap := g.snap.Load()
	for _, p := range snap.problems {
		warn(p.key(), "api", p.String())
	}
	for _, f := range snap.hookFailures {
		warn(f.key(), "plugin", f.String())
	}
	for _, b := range snap.bundleIssues {
		warn("bundle:"+b.apiID, "bundle", b.String())
	}
	for _, id := range snap.inactive {
		h.Details["api:"+id] = admin.Detail{Status: admin.StatusPass, ComponentType: "api", Output: "not served: the definition sets active to false", Time: now}
	}
	h.Details["store"] = admin.Detail{Status: admin.StatusPass, ComponentType: "datastore", Output: g.storeName(), Time: now}
	g.mu.Lock()
	reloadErr, adminProblem := g.lastReloadErr, g.adminProblem
	g.mu.Unlock()
	if reloadErr != nil {
		warn("reload", "system", "the last reload failed and the previous configuration keeps serving: "+reloadErr.Error())
	}
	if adminProblem != "" {
		warn("gateway_api", "system", adminProblem)
	}
	return h
}

func (g *Gateway) storeName() string {
	if g.cfg.Storage.Type == "" {
		return "memory"
	}
	return g.cfg.Storage.Type
}

// APIs returns the definitions stored in app_path that decode, as stored (fields Gatehouse does
// not read included).
func (g *Gateway) APIs() ([]json.RawMessage, error) {
	entries, err := g.apis.Load()
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, e := range entries {
		if e.Def != nil {
			out = append(out, json.RawMessage(e.Raw))
		}
	}
	return out, nil
}

// API returns the stored definition with the given id, as stored.
func (g *Gateway) API(id string) (json.RawMessage, error) {
	entries, err := g.apis.Load()
	if err != nil {
		return nil, err
	}
	if e, ok := apistore.Find(entries, id); ok {
		return json.RawMessage(e.Raw), nil
	}
	return nil, apistore.ErrNotFound
}

// SaveAPI checks a definition as a reload would (without loading its plugins) and stores it in
// app_path: a new one when create is set, else over the stored one with its id, which must
// exist (apistore.ErrNotFound). Like Tyk, it does not reload: the definition serves after the
// next reload.
func (g *Gateway) SaveAPI(def *apidef.APIDefinition, raw []byte, create bool) error {
	entry := apistore.Entry{Raw: raw, Def: def}
	if _, err := g.check(entry); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if _, err := g.compileWith(def, g.snap.Load().policies, &apiHooks{}); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if reserved := g.reservedPath(def.Proxy.ListenPath); reserved != "" {
		return fmt.Errorf("%w: listen path %q would be shadowed by %s", admin.ErrConflict, def.Proxy.ListenPath, reserved)
	}
	_, err := g.apis.SaveChecked(def.APIID, raw, func(stored []apistore.Entry) error {
		// Under the store's lock: a definition deleted meanwhile is not written back.
		if _, exists := apistore.Find(stored, def.APIID); !create && !exists {
			return apistore.ErrNotFound
		}
		return routeConflict(def, create, append(append([]apistore.Entry(nil), g.extra...), stored...))
	})
	return err
}

// routeConflict reports whether def clashes with another definition: the same id (on create),
// or the same listen path and domain as decided by the router itself.
func routeConflict(def *apidef.APIDefinition, create bool, others []apistore.Entry) error {
	var routes []router.Route[string]
	for _, e := range others {
		if e.Def == nil {
			continue
		}
		if e.Def.APIID == def.APIID {
			if create {
				return fmt.Errorf("%w: an API with api_id %q exists; use PUT /tyk/apis/%s to change it", admin.ErrConflict, def.APIID, def.APIID)
			}
			continue
		}
		if e.Def.Active {
			routes = append(routes, router.Route[string]{Domain: e.Def.Domain, ListenPath: e.Def.Proxy.ListenPath, Value: e.Def.APIID})
		}
	}
	routes = append(routes, router.Route[string]{Domain: def.Domain, ListenPath: def.Proxy.ListenPath, Value: def.APIID})
	_, conflicts := router.New(routes)
	for _, c := range conflicts {
		if c.Index == len(routes)-1 {
			return fmt.Errorf("%w: listen path %q%s is already used by API %q", admin.ErrConflict, def.Proxy.ListenPath, domainNote(def.Domain), routes[c.Existing].Value)
		}
	}
	return nil
}

// DeleteAPI removes a stored definition; it stops serving at the next reload.
func (g *Gateway) DeleteAPI(id string) error {
	return g.apis.Delete(id)
}

// PolicyExists reports whether the current snapshot holds the policy.
func (g *Gateway) PolicyExists(id string) bool {
	_, ok := g.snap.Load().policies[id]
	return ok
}

// SessionLifetime returns the longest session_lifetime of the given APIs in the current snapshot.
func (g *Gateway) SessionLifetime(apiIDs []string) time.Duration {
	snap := g.snap.Load()
	var longest int64
	for _, id := range apiIDs {
		if rt, ok := snap.apis[id]; ok && rt.def.SessionLifetime > longest {
			longest = rt.def.SessionLifetime
		}
	}
	return time.Duration(longest) * time.Second
}
