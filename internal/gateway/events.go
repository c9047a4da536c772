package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/events"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// tykDefaultWebhookTemplate is the template_path Tyk's webhooks name by default: without that
// file in app_path, the built-in template (events.DefaultTemplate) is used.
const tykDefaultWebhookTemplate = "templates/default_webhook.json"

// compileEvents makes the API's event handlers (event_handlers); nil when it has none. A
// handler that cannot be made (its template cannot be read or parsed) is left out, and the log
// says why: an event's notification never takes an API down.
func (g *Gateway) compileEvents(def *apidef.APIDefinition) events.Handlers {
	var out events.Handlers
	for name, hs := range def.EventHandlers.Events {
		if !isFired(name) {
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
				wh, err := g.webhook(def, h.HandlerMeta)
				if err != nil {
					g.log.Warn("webhook not set up: the event will not be sent", "api_id", def.APIID, "event", name, "error", err)
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

func isFired(name string) bool {
	for _, e := range apidef.Events {
		if e == name {
			return true
		}
	}
	return false
}

// webhook makes an eh_web_hook_handler; nil when it is disabled.
func (g *Gateway) webhook(def *apidef.APIDefinition, raw []byte) (*events.WebHook, error) {
	m, err := apidef.DecodeWebHook(raw)
	if err != nil || m.Disabled {
		return nil, err
	}
	src := events.DefaultTemplate
	if m.TemplatePath != "" {
		b, err := g.readWebhookTemplate(m.TemplatePath)
		switch {
		case err == nil:
			src = string(b)
		case errors.Is(err, os.ErrNotExist) && m.TemplatePath == tykDefaultWebhookTemplate:
		default:
			return nil, err
		}
	}
	t, err := events.ParseTemplate(m.TemplatePath, src)
	if err != nil {
		return nil, err
	}
	wh := &events.WebHook{APIID: def.APIID, Method: m.Method, URL: m.TargetPath, Template: t,
		Every: time.Duration(m.EventTimeout) * time.Second, Sender: g.sender}
	if len(m.HeaderMap) > 0 {
		wh.Header = http.Header{}
		for k, v := range m.HeaderMap {
			wh.Header.Set(k, v)
		}
	}
	return wh, nil
}

// readWebhookTemplate reads a webhook template inside app_path, as body transform templates are.
func (g *Gateway) readWebhookTemplate(name string) ([]byte, error) {
	f, err := os.OpenInRoot(g.cfg.AppPath, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, events.MaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > events.MaxBody {
		return nil, errors.New("the template is larger than 64 KiB")
	}
	return b, nil
}

// requestEvent is the event a refused request fires, by the step that refused it and how; ""
// for none.
func requestEvent(step string, err error) string {
	var e *chain.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Message {
	case chain.MsgRateLimitExceeded, chain.MsgAPIRateLimit:
		return "RatelimitExceeded"
	case chain.MsgQuotaExceeded:
		return "QuotaExceeded"
	case chain.MsgKeyExpired:
		return "KeyExpired"
	}
	if (strings.HasPrefix(step, "auth_") || step == "certificate_binding") && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
		return "AuthFailure"
	}
	return ""
}

// fireRequestEvent fires the event of a refused request, if the API handles it.
func (g *Gateway) fireRequestEvent(evs events.Handlers, apiID, orgID string, r *http.Request, c *chain.Context, step string, err error) {
	typ := requestEvent(step, err)
	if typ == "" || len(evs[typ]) == 0 {
		return
	}
	var e *chain.Error
	errors.As(err, &e) // requestEvent found one
	meta := events.Meta{Message: e.Message, Path: c.FullPath, APIID: apiID, OrgID: orgID}
	if c.ClientIP.IsValid() {
		meta.Origin = c.ClientIP.String()
	}
	if c.KeyHash != "" {
		meta.Key = c.KeyHash[:min(12, len(c.KeyHash))]
	}
	evs.Fire(typ, meta, g.now())
}

// breakerEvents is the breaker callback firing an API's BreakerTripped and BreakerReset.
func (g *Gateway) breakerEvents(def *apidef.APIDefinition, evs events.Handlers) func(bool, string) {
	if len(evs["BreakerTripped"]) == 0 && len(evs["BreakerReset"]) == 0 {
		return nil
	}
	apiID, orgID := def.APIID, def.OrgID
	return func(tripped bool, endpoint string) {
		typ, msg := "BreakerReset", "circuit breaker reset"
		if tripped {
			typ, msg = "BreakerTripped", "circuit breaker tripped"
		}
		evs.Fire(typ, events.Meta{Message: msg, APIID: apiID, OrgID: orgID, Endpoint: endpoint}, g.now())
	}
}

// hostEvent fires HostDown or HostUp on every API whose uptime tests check host.
func (g *Gateway) hostEvent(host string, down bool) {
	snap := g.snap.Load()
	if snap == nil {
		return
	}
	typ, msg := "HostUp", "Uptime test succeeded"
	if down {
		typ, msg = "HostDown", "Uptime test failed"
	}
	for id, rt := range snap.apis {
		if rt.uptime == nil || len(rt.events[typ]) == 0 {
			continue
		}
		for _, c := range rt.uptime.checks {
			if h, err := uptime.HostOf(c.URL, c.Protocol); err == nil && h == host {
				rt.events.Fire(typ, events.Meta{Message: msg, APIID: id, Host: host}, g.now())
				break
			}
		}
	}
}
