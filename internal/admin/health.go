package admin

import (
	"fmt"
	"strings"
)

// HiddenOutput replaces, in the public health answer, an output that may name a path, a URL,
// an address or a file.
const HiddenOutput = "details in the log, and in this check's answer with the Gateway API secret (X-Tyk-Authorization)"

// PublicHealth is h as the health checks answer it without the secret: they are public (a load
// balancer probes them, on the proxy port too when the Gateway API shares it), so they keep the
// overall status and each component's status, type and time, but no output that could name a
// plugin's path, a bundle server's URL, a file or an address (Detail.Public marks the ones that
// cannot), and no key naming an API, a file, a policy or a plugin: those ("api:<id>",
// "plugin:<api>:pre:Pre", "file:<name>"...) are merged into one component per type, named after
// it ("api", "plugin"...), that counts them by status. Tyk's /hello names only its own
// components (redis, dashboard, rpc).
func PublicHealth(h Health) Health {
	out := Health{Status: h.Status, Version: h.Version, Description: h.Description, Details: make(map[string]Detail, len(h.Details))}
	type group struct {
		time   string
		counts map[string]int
		n      int
	}
	groups := map[string]*group{}
	for k, d := range h.Details {
		if strings.Contains(k, ":") {
			g := groups[d.ComponentType]
			if g == nil {
				g = &group{counts: map[string]int{}}
				groups[d.ComponentType] = g
			}
			g.n++
			g.counts[d.Status]++
			g.time = max(g.time, d.Time)
			continue
		}
		if !d.Public {
			d.Output = HiddenOutput
		}
		out.Details[k] = d
	}
	for kind, g := range groups {
		status, parts := "", []string(nil) // the worst status first
		for _, s := range []string{StatusFail, StatusWarn, StatusPass} {
			if g.counts[s] > 0 {
				if status == "" {
					status = s
				}
				parts = append(parts, fmt.Sprintf("%d %s", g.counts[s], s))
			}
		}
		key := kind
		for {
			if _, taken := out.Details[key]; !taken {
				break
			}
			key += "'"
		}
		out.Details[key] = Detail{Status: status, ComponentType: kind, Time: g.time,
			Output: fmt.Sprintf("%d %s components (%s); which and why: /tyk/status, the log, or this check with the Gateway API secret (X-Tyk-Authorization)", g.n, kind, strings.Join(parts, ", "))}
	}
	return out
}
