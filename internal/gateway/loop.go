package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// Loops: a definition whose target leads back to the gateway (its own listener, or another
// gateway that sends the request back) would make one request hold a connection per hop until
// descriptors or memory run out. Every request the gateway forwards carries a Via entry naming
// the API that forwarded it (RFC 9110 7.6.3), so a request that arrives at an API it has already
// passed through is refused with 508, as is one that passed through too many APIs. One API
// sending to another on the same gateway is not a loop and goes through. Definitions that plainly
// target their own listen path on this listener are refused when they load.
//
// The names in Via tell an upstream nothing: each is a keyed hash of the API id, under a key
// random per process, or derived from node_secret so that the gateways of a fleet give an API
// the same name and a loop through a load balancer is seen at any of them.

// maxGatewayHops bounds the Gatehouse APIs a request may pass through: more is a loop too long
// to see (across gateways that do not share a node_secret).
const maxGatewayHops = 10

// MsgLoopDetected is what a request that came back to the gateway gets.
const MsgLoopDetected = "Loop detected: this request has already passed through this API"

// viaPrefix starts every name the gateway puts in Via.
const viaPrefix = "gatehouse-"

// viaVersion comes before an API's name in the Via header the gateway adds: the protocol of the
// request received (RFC 9110 7.6.3), HTTP/1.1 for every request as the upstream sees it.
const viaVersion = "1.1 "

// newViaKey returns the key that names APIs in Via headers.
func newViaKey(nodeSecret string) []byte {
	if nodeSecret != "" {
		k := sha256.Sum256([]byte("gatehouse via names\x00" + nodeSecret))
		return k[:]
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// viaName returns the name of an API in Via headers.
func (g *Gateway) viaName(apiID string) string {
	m := hmac.New(sha256.New, g.viaKey)
	m.Write([]byte(apiID))
	return viaPrefix + hex.EncodeToString(m.Sum(nil)[:6])
}

// loopRefusal returns why a request to the API named self in Via must be refused as a loop, or "".
func loopRefusal(h http.Header, self string) string {
	vias := h["Via"]
	if len(vias) == 0 {
		return ""
	}
	hops := 0
	for _, v := range vias {
		for entry := range strings.SplitSeq(v, ",") {
			// "1.1 name" or "name", with an optional comment after it.
			fields := strings.Fields(entry)
			if len(fields) == 0 {
				continue
			}
			name := fields[0]
			if len(fields) > 1 {
				name = fields[1]
			}
			if name == self {
				return "the request came back to this API"
			}
			if strings.HasPrefix(name, viaPrefix) {
				hops++
			}
		}
	}
	if hops >= maxGatewayHops {
		return fmt.Sprintf("the request passed through %d gateway APIs", hops)
	}
	return ""
}

// refuseLoop answers a request that came back to the gateway.
func (g *Gateway) refuseLoop(w http.ResponseWriter, r *http.Request, apiID, why string) {
	g.log.Warn("request refused: a loop (check the target_url of the APIs it passed through)", "api_id", apiID, "method", r.Method, "path", r.URL.Path, "reason", why)
	g.errs.WriteError(w, r, http.StatusLoopDetected, MsgLoopDetected)
}

// selfTarget says why a definition's targets would send its requests straight back to itself on
// this gateway's listener, or returns "".
func (g *Gateway) selfTarget(def *apidef.APIDefinition) string {
	if def.Domain != "" && !def.Proxy.PreserveHostHeader {
		return "" // the upstream request's Host is the target's, which the domain does not match
	}
	targets := []string{def.Proxy.TargetURL}
	if def.Proxy.EnableLoadBalancing {
		targets = def.Proxy.Targets
	}
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil || !g.isOwnListener(u) {
			continue
		}
		lp := strings.TrimSuffix(def.Proxy.ListenPath, "/")
		path := strings.TrimSuffix(u.Path, "/")
		back := lp == "" || // a catch-all listen path takes everything back
			hasSegmentPrefix(path, lp) || // the target's path is under the listen path
			!def.Proxy.StripListenPath && path == "" // the listen path is forwarded as it came
		if back {
			return fmt.Sprintf("target %q is this gateway's own listener, and every request to %q would come back to this API", t, def.Proxy.ListenPath)
		}
	}
	return ""
}

// loopPort is the port checkLoop compares targets with: the one bound, when listen_port 0 asked
// for any, else listen_port.
func (g *Gateway) loopPort() int32 {
	if p := g.listenPort.Load(); p != 0 {
		return p
	}
	return int32(g.cfg.ListenPort)
}

// isOwnListener reports whether u points at this gateway's proxy listener.
func (g *Gateway) isOwnListener(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	if n, err := strconv.Atoi(port); err != nil || n != int(g.loopPort()) {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || host == strings.ToLower(g.cfg.ListenAddress) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	// Listening on all interfaces: any address of this host's.
	if isWildcardListen(g.cfg.ListenAddress) {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == ip.Unmap() {
				return true
			}
		}
	}
	return false
}

func isWildcardListen(host string) bool {
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}
