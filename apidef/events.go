package apidef

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// EventHandlers are Tyk's event_handlers: for an event's name, the handlers it runs.
type EventHandlers struct {
	Events map[string][]EventHandler `json:"events,omitempty"`
}

// EventHandler is one handler of an event: its name (eh_web_hook_handler, eh_log_handler, ...)
// and its settings.
type EventHandler struct {
	HandlerName string          `json:"handler_name"`
	HandlerMeta json.RawMessage `json:"handler_meta,omitempty"`
}

// The handlers Gatehouse runs.
const (
	WebHookHandler = "eh_web_hook_handler"
	LogHandler     = "eh_log_handler"
)

// IsZero reports whether no event has a handler, so that a definition without them encodes
// without the field.
func (e EventHandlers) IsZero() bool { return len(e.Events) == 0 }

// Events lists the events Gatehouse fires, by Tyk's names.
var Events = []string{"AuthFailure", "KeyExpired", "RatelimitExceeded", "QuotaExceeded", "VersionFailure",
	"BreakerTriggered", "BreakerTripped", "BreakerReset", "HostDown", "HostUp", "OrgQuotaExceeded", "OrgRateLimitExceeded",
	"RateLimitSmoothingUp", "RateLimitSmoothingDown"}

// SystemEvents lists the events Gatehouse fires to the gateway's own event_handlers (tyk.conf),
// by Tyk's names: a key created, changed or deleted through the Gateway API.
var SystemEvents = []string{"TokenCreated", "TokenUpdated", "TokenDeleted"}

// WebHookMeta is the handler_meta of eh_web_hook_handler.
type WebHookMeta struct {
	Disabled     bool              `json:"disabled,omitempty"`
	Method       string            `json:"method,omitempty"`
	TargetPath   string            `json:"target_path"`
	TemplatePath string            `json:"template_path,omitempty"`
	HeaderMap    map[string]string `json:"header_map,omitempty"`
	// EventTimeout is how long, in seconds, the same body is not sent again to the target.
	EventTimeout int64 `json:"event_timeout,omitempty"`
}

// LogMeta is the handler_meta of eh_log_handler.
type LogMeta struct {
	Disabled bool   `json:"disabled,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
}

// MaxEventTimeout bounds a webhook's event_timeout, in seconds (a day): a longer one is a day.
const MaxEventTimeout = 24 * 3600

// webhookMethods are the methods a webhook is sent with; another, or none, is GET, as in Tyk.
var webhookMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// DecodeWebHook decodes and checks a webhook handler's settings. An error leaves the handler
// out (the log says why); it never refuses the definition: a notification does not stop an API.
func DecodeWebHook(raw json.RawMessage) (WebHookMeta, error) {
	var m WebHookMeta
	if err := json.Unmarshal(orEmpty(raw), &m); err != nil {
		return m, fmt.Errorf("handler_meta: %w", err)
	}
	if m.Disabled {
		return m, nil
	}
	u, err := url.Parse(m.TargetPath)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return m, errors.New("handler_meta.target_path must be an absolute http or https URL (not shown: webhook URLs often hold a secret)")
	}
	m.Method = strings.ToUpper(m.Method)
	if !slices.Contains(webhookMethods, m.Method) {
		m.Method = "GET"
	}
	seen := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(m.HeaderMap)) {
		if !IsToken(k) || strings.ContainsAny(m.HeaderMap[k], "\r\n\x00") {
			return m, fmt.Errorf("handler_meta.header_map: %q is not a header a request may carry", k)
		}
		// Header names match without case: two spellings would send either value.
		if other, ok := seen[strings.ToLower(k)]; ok {
			return m, fmt.Errorf("handler_meta.header_map: %q and %q name the same header; keep one", other, k)
		}
		seen[strings.ToLower(k)] = k
	}
	m.EventTimeout = min(max(m.EventTimeout, 0), MaxEventTimeout)
	return m, nil
}

// DecodeLog decodes a log handler's settings.
func DecodeLog(raw json.RawMessage) (LogMeta, error) {
	var m LogMeta
	if err := json.Unmarshal(orEmpty(raw), &m); err != nil {
		return m, fmt.Errorf("handler_meta: %w", err)
	}
	return m, nil
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// inertEvents lists the event handlers that never run: for events Gatehouse does not fire, or
// of kinds it does not run (JavaScript handlers).
func (a *APIDefinition) inertEvents() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(a.EventHandlers.Events)) {
		if !slices.Contains(Events, name) && len(a.EventHandlers.Events[name]) > 0 {
			out = append(out, fmt.Sprintf("event_handlers.events[%q] (Gatehouse fires %s)", name, strings.Join(Events, ", ")))
			continue
		}
		for i, h := range a.EventHandlers.Events[name] {
			if h.HandlerName != WebHookHandler && h.HandlerName != LogHandler {
				out = append(out, fmt.Sprintf("event_handlers.events[%q][%d] handler %q (Gatehouse runs %s and %s)", name, i, h.HandlerName, WebHookHandler, LogHandler))
			}
		}
	}
	return out
}
