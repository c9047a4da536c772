package gateway

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
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

// APIs returns the definitions stored in app_path that decode.
func (g *Gateway) APIs() ([]*apidef.APIDefinition, error) {
	entries, err := g.apis.Load()
	if err != nil {
		return nil, err
	}
	var defs []*apidef.APIDefinition
	for _, e := range entries {
		if e.Def != nil {
			defs = append(defs, e.Def)
		}
	}
	sort.SliceStable(defs, func(i, j int) bool { return defs[i].APIID < defs[j].APIID })
	return defs, nil
}

// API returns the stored definition with the given id.
func (g *Gateway) API(id string) (*apidef.APIDefinition, error) {
	defs, err := g.APIs()
	if err != nil {
		return nil, err
	}
	for _, d := range defs {
		if d.APIID == id {
			return d, nil
		}
	}
	return nil, apistore.ErrNotFound
}

// SaveAPI checks a definition as a reload would and stores it in app_path. Like Tyk, it does not
// reload: the definition serves after the next reload.
func (g *Gateway) SaveAPI(def *apidef.APIDefinition, raw []byte, create bool) error {
	entry := apistore.Entry{Raw: raw, Def: def}
	if _, err := g.check(entry); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	if _, err := g.compile(def, g.snap.Load().policies); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrInvalid, err)
	}
	stored, err := g.APIs()
	if err != nil {
		return err
	}
	for _, d := range stored {
		if d.APIID == def.APIID {
			if create {
				return fmt.Errorf("%w: an API with api_id %q exists; use PUT /tyk/apis/%s to change it", admin.ErrConflict, def.APIID, def.APIID)
			}
			continue
		}
		if sameRoute(d, def) {
			return fmt.Errorf("%w: listen path %q%s is already used by API %q", admin.ErrConflict, def.Proxy.ListenPath, domainNote(def.Domain), d.APIID)
		}
	}
	for _, e := range g.extra {
		if e.Def != nil && (e.Def.APIID == def.APIID || sameRoute(e.Def, def)) {
			return fmt.Errorf("%w: the built-in API %q uses this id or listen path", admin.ErrConflict, e.Def.APIID)
		}
	}
	_, err = g.apis.Save(def.APIID, raw)
	return err
}

func sameRoute(a, b *apidef.APIDefinition) bool {
	return a.Active && strings.EqualFold(a.Domain, b.Domain) && normListen(a.Proxy.ListenPath) == normListen(b.Proxy.ListenPath)
}

func normListen(p string) string {
	if len(p) > 1 {
		return strings.TrimRight(p, "/")
	}
	return p
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
