package chain

import "net/http"

// ProxyWriter is the writer the proxy answers the client through. It keeps the headers the
// gateway set before forwarding (X-RateLimit-*, CORS, Vary, the trace id) out of an upstream's
// interim answers and in its final one: Go's ReverseProxy writes a 1xx (103 Early Hints) with
// every header the writer holds, the upstream's added, and then clears them all, so the final
// answer would lose the gateway's and a 103 would carry them.
//
// While the round trip runs (Forward to Answered), the only reader of Header is ReverseProxy's
// 1xx handler: the first such read moves the gateway's headers aside, so that the 1xx carries the
// upstream's alone; Answered puts them back. A request without a 1xx pays a flag.
type ProxyWriter struct {
	http.ResponseWriter
	// aside holds the gateway's headers during the round trip once a 1xx came.
	aside http.Header
	// forwarding is set from Forward to Answered; moved once the gateway's headers are aside.
	forwarding, moved bool
}

// Forward starts a round trip answered through w.
func (p *ProxyWriter) Forward(w http.ResponseWriter) {
	*p = ProxyWriter{ResponseWriter: w, forwarding: true}
}

// Answered ends the round trip: the upstream answered, or failed to. The gateway's headers are
// back in the header map, after any interim answer's were cleared. It may be called more than
// once.
func (p *ProxyWriter) Answered() {
	p.forwarding = false
	if !p.moved {
		return
	}
	h := p.ResponseWriter.Header()
	for k, vv := range p.aside {
		h[k] = append(vv, h[k]...)
	}
	p.aside, p.moved = nil, false
}

// Header returns the response's header map; during the round trip, first moving the gateway's
// headers aside (see ProxyWriter).
func (p *ProxyWriter) Header() http.Header {
	h := p.ResponseWriter.Header()
	if p.forwarding && !p.moved {
		p.moved = true
		if len(h) > 0 {
			p.aside = make(http.Header, len(h))
			for k, vv := range h {
				p.aside[k] = vv
			}
			clear(h)
		}
	}
	return h
}

// Unwrap lets http.ResponseController (flushes, the upgrade's hijack) reach the writer below.
func (p *ProxyWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
