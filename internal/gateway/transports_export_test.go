package gateway

import "net/http"

// Test hooks into the upstream transports, for the upstream TLS tests.

// UpstreamTransportCount returns how many upstream transports the gateway holds.
func (g *Gateway) UpstreamTransportCount() int {
	g.transports.mu.Lock()
	defer g.transports.mu.Unlock()
	return len(g.transports.m)
}

// UpstreamTransports returns the transports an API's versions forward on, nil when it does not
// serve.
func (g *Gateway) UpstreamTransports(apiID string) []http.RoundTripper {
	rt, ok := g.snap.Load().apis[apiID]
	if !ok {
		return nil
	}
	var out []http.RoundTripper
	for i := range rt.versions {
		v := &rt.versions[i]
		if u, ok := v.upstream.(interface{ Transports() []http.RoundTripper }); ok {
			out = append(out, u.Transports()...)
		}
	}
	return out
}
