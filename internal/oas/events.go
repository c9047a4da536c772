package oas

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
)

// eventHandler is one of `server.eventHandlers`: Tyk's EventHandler, whose kind's fields sit
// beside the common ones.
type eventHandler struct {
	Enabled bool   `json:"enabled"`
	Trigger string `json:"trigger"`
	Type    string `json:"type"`
	ID      string `json:"id"`
	Name    string `json:"name"`

	// type webhook
	URL            string `json:"url"`
	Method         string `json:"method"`
	CooldownPeriod string `json:"cooldownPeriod"`
	BodyTemplate   string `json:"bodyTemplate"`
	Headers        []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`

	// type custom (JavaScript)
	FunctionName string `json:"functionName"`
	Path         string `json:"path"`

	// type log
	LogPrefix string `json:"logPrefix"`
}

// jsvmHandler is Tyk's Classic name of a JavaScript event handler, which Gatehouse does not run
// (the Classic checks report it).
const jsvmHandler = "eh_dynamic_handler"

// eventHandlersTo maps `server.eventHandlers` to Classic event_handlers as Tyk's ExtractTo does:
// each handler under its trigger, in order; webhook, custom and log handlers, with `enabled`
// as the negated `disabled`, and `cooldownPeriod` as event_timeout in seconds (a period that does
// not parse is none, as in Tyk); other types are left out. The Classic checks then treat them
// as any Classic definition's: a webhook without a usable URL (one stored in Tyk's Dashboard by
// `id`) is left out with the reason logged, and a trigger Gatehouse does not fire, or a
// JavaScript handler, is reported as never running.
func (d *Document) eventHandlersTo(def *apidef.APIDefinition, add func(string, ...any)) {
	raw := d.Ext.Server.EventHandlers
	if !nonEmpty(raw) {
		return
	}
	var list []eventHandler
	if err := json.Unmarshal(raw, &list); err != nil {
		add("server.eventHandlers: %v (a list of {enabled, trigger, type, ...} is expected)", err)
		return
	}
	for i, e := range list {
		var name string
		var meta any
		switch e.Type {
		case "webhook":
			// By canonical name: two spellings of one header would otherwise send either value.
			headers := map[string]string{}
			for _, h := range e.Headers {
				headers[http.CanonicalHeaderKey(h.Name)] = h.Value
			}
			cooldown, _ := time.ParseDuration(e.CooldownPeriod)
			name = apidef.WebHookHandler
			meta = struct {
				ID   string `json:"id,omitempty"`
				Name string `json:"name,omitempty"`
				apidef.WebHookMeta
			}{e.ID, e.Name, apidef.WebHookMeta{Disabled: !e.Enabled, Method: e.Method, TargetPath: e.URL,
				TemplatePath: e.BodyTemplate, HeaderMap: headers, EventTimeout: int64(max(cooldown, 0).Seconds())}}
		case "log":
			name = apidef.LogHandler
			meta = apidef.LogMeta{Disabled: !e.Enabled, Prefix: e.LogPrefix}
		case "custom":
			name = jsvmHandler
			meta = map[string]any{"disabled": !e.Enabled, "id": e.ID, "method_name": e.FunctionName, "path": e.Path}
		default:
			continue // as in Tyk; Inert names it
		}
		b, err := json.Marshal(meta)
		if err != nil {
			add("server.eventHandlers[%d]: %v", i, err)
			continue
		}
		if def.EventHandlers.Events == nil {
			def.EventHandlers.Events = map[string][]apidef.EventHandler{}
		}
		def.EventHandlers.Events[e.Trigger] = append(def.EventHandlers.Events[e.Trigger], apidef.EventHandler{HandlerName: name, HandlerMeta: b})
	}
}

// inertEventHandlers names the handlers of `server.eventHandlers` that eventHandlersTo leaves
// out, or maps with a setting that does not hold.
func (d *Document) inertEventHandlers(note func(bool, string)) {
	var list []eventHandler
	if json.Unmarshal(d.Ext.Server.EventHandlers, &list) != nil {
		return
	}
	for i, e := range list {
		switch e.Type {
		case "webhook":
			cd, err := time.ParseDuration(e.CooldownPeriod)
			switch {
			case e.CooldownPeriod != "" && err != nil:
				note(true, fmt.Sprintf("server.eventHandlers[%d].cooldownPeriod %q (not a duration such as \"1m30s\": no cool-down, as in Tyk)", i, e.CooldownPeriod))
			case cd < 0:
				note(true, fmt.Sprintf("server.eventHandlers[%d].cooldownPeriod %q (negative: no cool-down)", i, e.CooldownPeriod))
			case cd > apidef.MaxEventTimeout*time.Second:
				note(true, fmt.Sprintf("server.eventHandlers[%d].cooldownPeriod %q (longer than a day: a day)", i, e.CooldownPeriod))
			}
			seen := map[string]bool{}
			for _, h := range e.Headers {
				k := http.CanonicalHeaderKey(h.Name)
				note(seen[k], fmt.Sprintf("server.eventHandlers[%d].headers: %s more than once (the last is sent)", i, k))
				seen[k] = true
			}
		case "log", "custom":
		default:
			note(true, fmt.Sprintf("server.eventHandlers[%d] of type %q (Tyk's types are webhook, custom and log)", i, e.Type))
		}
	}
}
