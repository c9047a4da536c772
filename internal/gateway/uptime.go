package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/uptime"
)

// newUptimeChecker returns the gateway's uptime checker, nil with uptime_tests.disable.
func (g *Gateway) newUptimeChecker() *uptime.Checker {
	u := g.cfg.UptimeTests
	if u.Disable {
		return nil
	}
	// With Redis, the gateways of a poller group share the checks, each run by one, and their
	// events (hostEvent).
	if claims, ok := g.store.(storage.Claims); ok {
		g.upClaims, g.upSpace, g.upHolder = claims, "uptime:"+u.PollerGroup, session.Generate("uptime-")
	}
	var onRun func(uptime.Check, uptime.Result)
	if p, _ := g.analyticsRedis(); p != nil && u.Config.EnableUptimeAnalytics {
		onRun = g.uptimeRecorder(p)
	}
	return uptime.New(uptime.Options{
		Interval:  time.Duration(u.Config.TimeWait) * time.Second,
		Threshold: u.Config.FailureTriggerSampleSize,
		Pool:      u.Config.CheckerPoolSize,
		Logger:    g.log,
		// g.obs is set in New, before the checker starts (setUptime, after the first build).
		OnChange: func(down int) {
			if g.obs != nil {
				g.obs.UpstreamHostsDown(down)
			}
		},
		OnHost: g.hostEvent,
		Claims: g.upClaims,
		Space:  g.upSpace,
		Holder: g.upHolder,
		OnRun:  onRun,
	})
}

// uptimeWarnEvery bounds how often a failure to record uptime analytics is logged.
const uptimeWarnEvery = time.Minute

// uptimeRecorder returns what records each run of an uptime check this gateway ran in the
// Redis list tyk-pump reads (uptime_tests.config.enable_uptime_analytics), as Tyk's poller
// records them.
func (g *Gateway) uptimeRecorder(p analytics.Pusher) func(uptime.Check, uptime.Result) {
	warn := &logevery.Gate{Every: uptimeWarnEvery}
	ttl := g.cfg.AnalyticsConfig.AnalyticsTTL()
	timeout := g.cfg.StorageTimeout()
	if g.analyticsStore != nil {
		timeout = g.cfg.AnalyticsStorageTimeout()
	}
	return func(ch uptime.Check, res uptime.Result) {
		now := g.now()
		rec := analytics.UptimeRecord{URL: ch.URL, RequestTime: res.Took.Milliseconds(), ResponseCode: res.Status,
			ServerError: res.Status > http.StatusOK, TimeStamp: now, ExpireAt: expireAt(now, ch.ExpireAnalyticsAfter), APIID: ch.APIID, OrgID: ch.OrgID}
		if res.Status == 0 {
			rec.TCPError, rec.ResponseCode = true, uptimeNoAnswer
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := p.PushList(ctx, analytics.UptimeKey, [][]byte{analytics.EncodeUptime(&rec)}, ttl); err != nil {
			if held, ok := warn.Allow(now); ok {
				g.log.Warn("uptime analytics: a result could not be recorded in Redis (logged at most once a minute)", "api_id", ch.APIID, "error", err, "also_failed_since_last_warning", held)
			}
		}
	}
}

// uptimeNoAnswer is the status Tyk records for a check that got no answer: Cloudflare's 521,
// "web server is down".
const uptimeNoAnswer = 521

// compileUptime prepares the checks of def's uptime_tests; nil when it has none or the gateway
// runs none. An HTTP check is sent on the API's upstream transport, so that it trusts the
// certificates, and goes through the proxy, that the API's traffic does.
func (g *Gateway) compileUptime(def *apidef.APIDefinition) ([]uptime.Check, error) {
	if g.uptime == nil || len(def.UptimeTests.CheckList) == 0 {
		return nil, nil
	}
	out := make([]uptime.Check, 0, len(def.UptimeTests.CheckList))
	for i, c := range def.UptimeTests.CheckList {
		where := fmt.Sprintf("uptime_tests.check_list[%d]", i)
		body, err := c.BodyBytes()
		if err != nil {
			return nil, fmt.Errorf("%s.body: %w", where, err)
		}
		ch := uptime.Check{APIID: def.APIID, OrgID: def.OrgID, URL: c.URL, Protocol: strings.ToLower(c.Protocol), Method: c.Method, Body: body, Timeout: c.Timeout,
			ExpireAnalyticsAfter: def.UptimeTests.Config.ExpireUptimeAnalyticsAfter}
		if len(c.Headers) > 0 {
			ch.Header = make(http.Header, len(c.Headers))
			for k, v := range c.Headers {
				ch.Header.Set(k, v)
			}
		}
		for _, cmd := range c.Commands {
			ch.Commands = append(ch.Commands, uptime.Command{Name: cmd.Name, Message: cmd.Message})
		}
		if ch.Protocol != "tcp" && ch.Protocol != "tls" {
			u, err := url.Parse(c.URL)
			if err != nil {
				return nil, fmt.Errorf("%s.url: %w", where, err)
			}
			if ch.Transport, err = g.transports.forTarget(def, u); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if strings.EqualFold(u.Scheme, "h2c") {
				// Sent as http:// on the transport that speaks cleartext HTTP/2.
				plain := *u
				plain.Scheme = "http"
				ch.RequestURL = plain.String()
			}
		}
		out = append(out, ch)
	}
	return out, nil
}

// setUptime gives the checker the checks of the APIs snap serves.
func (g *Gateway) setUptime(snap *snapshot) {
	if g.uptime == nil {
		return
	}
	var all []uptime.Check
	for _, id := range slices.Sorted(maps.Keys(snap.apis)) {
		all = append(all, snap.apis[id].uptimeChecks()...)
	}
	g.uptime.Set(all)
	if len(all) > 0 {
		g.uptime.Start()
	}
}

// uptimeDown is what the load balancer of def asks whether a target's host is down: nil unless
// the API balances its load with check_host_against_uptime_tests.
func (g *Gateway) uptimeDown(def *apidef.APIDefinition) func(host string) bool {
	if g.uptime == nil || !def.Proxy.EnableLoadBalancing || !def.Proxy.CheckHostAgainstUptimeTests {
		return nil
	}
	return g.uptime.Down
}

// hostsDown lists, for the status report, the hosts rt's uptime tests find down.
func (g *Gateway) hostsDown(rt *apiRuntime) []string {
	if g.uptime == nil {
		return nil
	}
	var out []string
	for _, c := range rt.uptimeChecks() {
		if h, err := uptime.HostOf(c.URL, c.Protocol); err == nil && g.uptime.Down(h) && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}
