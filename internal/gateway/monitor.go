package gateway

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/events"
)

// tykMonitorTemplate is the template_path of Tyk's quota monitor by default: without that file
// in app_path, the built-in copy (events.MonitorTemplate) is used.
const tykMonitorTemplate = "templates/monitor_template.json"

// setMonitor makes the quota monitor's webhook (monitor.configuration), nil when the monitor is
// off or its webhook cannot be set up (the log says why).
func (g *Gateway) setMonitor() {
	m := g.cfg.Monitor
	if !m.EnableTriggerMonitors || !m.MonitorUserKeys && !m.MonitorOrgKeys {
		g.monitorHook.Store(nil)
		return
	}
	raw, err := json.Marshal(m.Configuration)
	var wh *events.WebHook
	if err == nil {
		wh, err = g.webhookOf("", raw, events.MonitorTemplate, tykMonitorTemplate)
	}
	if err != nil {
		g.log.Warn("monitor: the quota monitor's webhook is not set up: TriggerExceeded will not be sent", "error", err)
	}
	g.monitorHook.Store(wh)
}

// quotaMonitor returns what tells the quota monitor of a quota's use after a request it let
// through (keys' when who is "key", orgs' when "org"), nil when the monitor does not watch
// them: as Tyk's, it fires TriggerExceeded when the use reaches monitor.global_trigger_limit,
// else the first of the session's monitor.trigger_limits it reaches. With event_timeout, each
// key's (or org's) trigger is sent once within it.
func (g *Gateway) quotaMonitor(who string) func(s *apidef.SessionState, orgID, keyHash string, quotaMax, used int64, renews time.Time) {
	m := g.cfg.Monitor
	if !m.EnableTriggerMonitors || who == "key" && !m.MonitorUserKeys || who == "org" && !m.MonitorOrgKeys {
		return nil
	}
	global := m.GlobalTriggerLimit
	return func(s *apidef.SessionState, orgID, keyHash string, quotaMax, used int64, renews time.Time) {
		if quotaMax <= 0 {
			return
		}
		pct := float64(used) * 100 / float64(quotaMax)
		limit := 0.0
		switch {
		case global > 0 && pct >= global:
			limit = global
		default:
			for _, l := range s.Monitor.TriggerLimits {
				if l > 0 && pct >= l && l != global {
					limit = l
					break
				}
			}
		}
		wh := g.monitorHook.Load()
		if limit == 0 || wh == nil {
			return
		}
		// Once per key (or org), trigger and quota window: a quota that renews crosses its
		// triggers again.
		wh.HandleOnce(who+"\x00"+orgID+"\x00"+keyHash+"\x00"+strconv.FormatFloat(limit, 'g', -1, 64)+"\x00"+strconv.FormatInt(renews.Unix(), 10), func() events.Event {
			return events.New("TriggerExceeded", events.Meta{Message: "Quota trigger reached", OrgID: orgID, Org: orgID, Key: keyHash,
				TriggerLimit: int64(limit), UsagePercentage: int64(pct)}, g.now())
		})
	}
}
