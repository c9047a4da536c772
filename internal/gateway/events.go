package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/middleware/orglimit"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// tykDefaultWebhookTemplate is the template_path Tyk's webhooks name by default: without that
// file in app_path, the built-in template (events.DefaultTemplate) is used.
const tykDefaultWebhookTemplate = "templates/default_webhook.json"

// compileEvents makes the API's event handlers (event_handlers); nil when it has none.
func (g *Gateway) compileEvents(def *apidef.APIDefinition) events.Handlers {
	return g.compileHandlers(def.APIID, def.EventHandlers, apidef.Events)
}

// compileHandlers makes the handlers of evs for the events of fired (an API's, apiID, or the
// gateway's own, apiID ""); nil when there are none. A handler that cannot be made (its
// template cannot be read or parsed) is left out, and the log says why: an event's
// notification never takes an API down.
func (g *Gateway) compileHandlers(apiID string, evs apidef.EventHandlers, fired []string) events.Handlers {
	var out events.Handlers
	for name, hs := range evs.Events {
		if !slices.Contains(fired, name) {
			continue
		}
		for _, h := range hs {
			var handler events.Handler
			switch h.HandlerName {
			case apidef.LogHandler:
				m, err := apidef.DecodeLog(h.HandlerMeta)
				if err != nil || m.Disabled {
					continue
				}
				handler = &events.Log{Prefix: m.Prefix, Logger: g.log}
			case apidef.WebHookHandler:
				wh, err := g.webhook(apiID, h.HandlerMeta)
				if err != nil {
					g.log.Warn("webhook not set up: the event will not be sent", "api_id", apiID, "event", name, "error", err)
					continue
				}
				if wh == nil {
					continue
				}
				handler = wh
			default:
				continue
			}
			if out == nil {
				out = events.Handlers{}
			}
			out[name] = append(out[name], handler)
		}
	}
	return out
}

// webhook makes an eh_web_hook_handler; nil when it is disabled. As in Tyk, a template that
// cannot be read or run gives way to the default one, with a warning.
func (g *Gateway) webhook(apiID string, raw []byte) (*events.WebHook, error) {
	return g.webhookOf(apiID, raw, events.DefaultTemplate, tykDefaultWebhookTemplate)
}

// webhookOf is webhook with its built-in template (builtin), used without template_path or
// when template_path is Tyk's own default (tykDefault) and app_path has no such file.
func (g *Gateway) webhookOf(apiID string, raw []byte, builtin, tykDefault string) (*events.WebHook, error) {
	m, err := apidef.DecodeWebHook(raw)
	if err != nil || m.Disabled {
		return nil, err
	}
	wh := events.WebHook{APIID: apiID, Method: m.Method, URL: m.TargetPath,
		Every: time.Duration(m.EventTimeout) * time.Second, Sender: g.sender, Root: g.cfg.AppPath}
	src := builtin
	if name := m.TemplatePath; name != "" {
		b, err := g.webhookTemplate(name)
		switch {
		case err == nil:
			wh.File, wh.Sum, src = name, sha256.Sum256(b), string(b)
		case errors.Is(err, os.ErrNotExist) && name == tykDefault:
			wh.File = name // the built-in default until the file appears
		default:
			g.log.Warn("webhook template not read: the default one is used", "api_id", apiID, "template_path", name, "error", err)
			if apidef.CheckTemplateFile(name) == nil {
				wh.File = name
			}
		}
	}
	t, err := events.ParseTemplate(wh.File, src)
	if err != nil {
		g.log.Warn("webhook template does not run: the default one is used", "api_id", apiID, "template_path", m.TemplatePath, "error", err)
		if t, err = events.ParseTemplate("default", builtin); err != nil {
			return nil, err
		}
	}
	wh.Template = t
	if len(m.HeaderMap) > 0 {
		wh.Header = http.Header{}
		for k, v := range m.HeaderMap {
			wh.Header.Set(k, v)
		}
	}
	return events.NewWebHook(wh), nil
}

// webhookTemplate reads a webhook template inside app_path, as body transform templates are.
func (g *Gateway) webhookTemplate(name string) ([]byte, error) {
	if err := apidef.CheckTemplateFile(name); err != nil {
		return nil, fmt.Errorf("template_path %q: %w (templates are read inside app_path)", name, err)
	}
	return events.ReadTemplateFile(g.cfg.AppPath, name)
}

// setSystemEvents makes the gateway's own event handlers (event_handlers in its configuration).
func (g *Gateway) setSystemEvents() {
	h := g.compileHandlers("", g.cfg.EventHandlers, apidef.SystemEvents)
	g.systemEvents.Store(&h)
}

// noteSystemEvents logs, once at start, the gateway's handlers that never run: for events the
// gateway does not fire to its own handlers (an API's events are fired to the API's), or of
// kinds it does not run.
func (g *Gateway) noteSystemEvents() {
	for _, name := range slices.Sorted(maps.Keys(g.cfg.EventHandlers.Events)) {
		if !slices.Contains(apidef.SystemEvents, name) {
			g.log.Warn("event_handlers: the gateway fires "+strings.Join(apidef.SystemEvents, ", ")+" to its own handlers; an API's events go to the API's event_handlers", "event", name)
			continue
		}
		for i, h := range g.cfg.EventHandlers.Events[name] {
			if h.HandlerName != apidef.WebHookHandler && h.HandlerName != apidef.LogHandler {
				g.log.Warn("event_handlers: a handler of a kind Gatehouse does not run ("+apidef.WebHookHandler+" and "+apidef.LogHandler+" run)", "event", name, "index", i, "handler_name", h.HandlerName)
			}
		}
	}
}

// KeyEvent fires a key's event (TokenCreated, TokenUpdated, TokenDeleted) to the gateway's own
// handlers, as Tyk's system events: {{.Meta.Message}} is Tyk's, {{.Meta.Org}} the key's org
// and {{.Meta.Key}} its hash, never the key.
func (g *Gateway) KeyEvent(event, message, orgID, keyHash string) {
	if h := g.systemEvents.Load(); h != nil {
		h.Fire(event, events.Meta{Message: message, Org: orgID, OrgID: orgID, Key: keyHash}, g.now())
	}
}

// requestEvents are the events a refused request may fire.
var requestEvents = []string{"AuthFailure", "KeyExpired", "RatelimitExceeded", "QuotaExceeded", "VersionFailure", "OrgQuotaExceeded", "OrgRateLimitExceeded"}

// requestEvent is the event a refused request fires, by the step that refused it (the inner
// step, for the key checks multi-auth runs) and how, with Tyk's message for it; "" for none.
// Steps, not messages, decide, since override_messages changes the messages. As in Tyk, an auth
// step's refusal fires AuthFailure, but not one for a request with no usable credential (no
// key, user or bearer token, or a header that cannot be read: chain.ErrNoCredentials), and not
// one the store's failure caused (5xx).
func requestEvent(step string, err error) (typ, msg string) {
	var e *chain.Error
	if !errors.As(err, &e) {
		return "", ""
	}
	if se := (*chain.StepError)(nil); errors.As(err, &se) {
		step = se.Step
	}
	// Tyk's VersionCheck refusals, whichever step makes them here: a version that does not exist
	// or expired, an expired API, an endpoint the lists forbid.
	if e.Status == http.StatusForbidden {
		switch e.Message {
		case chain.MsgVersionNotFound, msgVersionInfoNotFound, chain.MsgVersionExpired, chain.MsgAPIExpired, chain.MsgEndpointForbidden:
			return "VersionFailure", "Attempted access to disallowed version / path."
		}
	}
	switch step {
	case "org_limits":
		switch e.Message {
		case orglimit.MsgQuota:
			return "OrgQuotaExceeded", "Organisation quota has been exceeded"
		case orglimit.MsgRateLimit:
			return "OrgRateLimitExceeded", "Organisation rate limit has been exceeded"
		}
		return "", ""
	case "rate_limit_quota":
		switch e.Message {
		case chain.MsgRateLimitExceeded:
			return "RatelimitExceeded", "Key Rate Limit Exceeded"
		case chain.MsgQuotaExceeded:
			return "QuotaExceeded", "Key Quota Limit Exceeded"
		}
	case "api_rate_limit":
		if e.Status == http.StatusTooManyRequests {
			return "RatelimitExceeded", "API Rate Limit Exceeded"
		}
	case "key_expired":
		switch e.Message {
		case chain.MsgKeyExpired:
			return "KeyExpired", "Attempted access from expired key."
		case chain.MsgKeyInactive:
			return "KeyExpired", "Attempted access from inactive key."
		}
	}
	if !strings.HasPrefix(step, "auth_") && step != "certificate_binding" || e.Status < 400 || e.Status >= 500 || errors.Is(err, chain.ErrNoCredentials) {
		return "", ""
	}
	return "AuthFailure", "Auth Failure"
}

// fireRequestEvent fires the event of a refused request, if the API handles it.
func (g *Gateway) fireRequestEvent(evs events.Handlers, apiID, orgID string, r *http.Request, c *chain.Context, step string, err error) {
	typ, msg := requestEvent(step, err)
	if typ == "" || len(evs[typ]) == 0 {
		return
	}
	meta := requestMeta(c, msg, apiID, orgID)
	switch {
	case strings.HasPrefix(typ, "Org"):
		meta.Key = orgID // as in Tyk: the org's events name the org
	case c.KeyHash != "":
		meta.Key = c.KeyHash[:min(12, len(c.KeyHash))]
	}
	if typ == "VersionFailure" {
		var e *chain.Error
		errors.As(err, &e)
		meta.Reason = e.Message
	}
	evs.Fire(typ, meta, g.now())
}

// requestMeta is what every request event says of the request: its path and client address.
func requestMeta(c *chain.Context, msg, apiID, orgID string) events.Meta {
	meta := events.Meta{Message: msg, Path: c.FullPath, APIID: apiID, OrgID: orgID}
	if c.ClientIP.IsValid() {
		meta.Origin = c.ClientIP.String()
	}
	return meta
}

// pluginAuthFailure fires AuthFailure for a request a plugin hook answered 403, as Tyk's Go
// plugin middleware does, with the key "n/a".
func (g *Gateway) pluginAuthFailure(evs events.Handlers, apiID, orgID string) func(*http.Request, *chain.Context) {
	return func(_ *http.Request, c *chain.Context) {
		meta := requestMeta(c, "Auth Failure", apiID, orgID)
		meta.Key = "n/a"
		evs.Fire("AuthFailure", meta, g.now())
	}
}

// smoothingEvents fires an API's RateLimitSmoothingUp or RateLimitSmoothingDown when a key's
// smoothed allowance moves, as Tyk does, with the key's hash (12 hex digits) and the allowance
// now; nil when the API handles neither.
func (g *Gateway) smoothingEvents(evs events.Handlers, apiID, orgID string) func(*http.Request, *chain.Context, bool, int64) {
	if len(evs["RateLimitSmoothingUp"]) == 0 && len(evs["RateLimitSmoothingDown"]) == 0 {
		return nil
	}
	return func(_ *http.Request, c *chain.Context, up bool, allowance int64) {
		typ, dir := "RateLimitSmoothingDown", "down"
		if up {
			typ, dir = "RateLimitSmoothingUp", "up"
		}
		meta := requestMeta(c, fmt.Sprintf("Rate limit smoothing moved %s: %d requests allowed per period", dir, allowance), apiID, orgID)
		meta.Key = c.KeyHash[:min(12, len(c.KeyHash))]
		evs.Fire(typ, meta, g.now())
	}
}

// breakerEvents is the breaker callback firing an API's BreakerTripped or BreakerReset and, as
// Tyk does with each, BreakerTriggered (its CircuitEvent telling which).
func (g *Gateway) breakerEvents(def *apidef.APIDefinition, evs events.Handlers) func(bool, string) {
	if !evs.Handles("BreakerTripped", "BreakerReset", "BreakerTriggered") {
		return nil
	}
	apiID, orgID := def.APIID, def.OrgID
	return func(tripped bool, endpoint string) {
		typ, msg, circuit := "BreakerReset", "Breaker Reset", 1
		if tripped {
			typ, msg, circuit = "BreakerTripped", "Breaker Tripped", 0
		}
		_, path, _ := strings.Cut(endpoint, " ")
		meta := events.Meta{Message: msg, APIID: apiID, OrgID: orgID, Endpoint: endpoint, Path: path, CircuitEvent: circuit}
		now := g.now()
		evs.Fire("BreakerTriggered", meta, now)
		evs.Fire(typ, meta, now)
	}
}

// hostEvent fires HostDown or HostUp on every API whose uptime tests check host; at is when
// the checks' runner found the change. Sharing the checks with a fleet, every gateway that
// serves such an API is told, and the first to claim the change for the API (hostEventOnce)
// fires it: once per API in the fleet, whichever gateways serve it.
func (g *Gateway) hostEvent(host string, down bool, at int64) {
	snap := g.snap.Load()
	if snap == nil {
		return
	}
	typ, msg := "HostUp", "Uptime test succeeded"
	if down {
		typ, msg = "HostDown", "Uptime test failed"
	}
	var ids []string
	var fires []func()
	for id, rt := range snap.apis {
		if len(rt.events[typ]) == 0 {
			continue
		}
		for _, c := range rt.uptimeChecks() {
			if h, err := uptime.HostOf(c.URL, c.Protocol); err == nil && h == host {
				meta := events.Meta{Message: msg, APIID: id, OrgID: c.OrgID, Host: host, HostInfo: events.HostInfo{CheckURL: c.URL, Host: host}}
				fire := func() { rt.events.Fire(typ, meta, g.now()) }
				if g.upClaims == nil {
					fire()
				} else {
					ids, fires = append(ids, hostEventID(id, host, typ, at)), append(fires, fire)
				}
				break
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	// A call to Redis, one for every API: never on the checker's lock, which holds this call.
	g.hostEvents.Add(1)
	go func() {
		defer g.hostEvents.Done()
		g.hostEventsOnce(ids, fires)
	}()
}

// hostEventTTL is how long the claim on one change of a host, for one API, is kept: longer than
// the rounds it takes every gateway to read the change.
const hostEventTTL = 10 * time.Minute

// hostEventID names one change of host (typ, found at at) for apiID in the claims.
func hostEventID(apiID, host, typ string, at int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", apiID, host, typ, at))
	return "event-" + hex.EncodeToString(sum[:16])
}

// hostEventsOnce fires each uptime event (fires[i], named ids[i]) unless another gateway of the
// fleet claimed it first; when the claims cannot be made (Redis down), it fires them all: an
// event told twice beats one lost.
func (g *Gateway) hostEventsOnce(ids []string, fires []func()) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.StorageTimeout())
	defer cancel()
	held, _, err := g.upClaims.Claim(ctx, g.upSpace, g.upHolder, ids, hostEventTTL)
	for i, fire := range fires {
		if err != nil || held[i] {
			fire()
		}
	}
}
