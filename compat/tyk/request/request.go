//go:build gatehouse_compat

// Package request is Tyk's request package for plugins: the client's address.
package request

import (
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"
)

// CORS request headers.
const (
	Origin                      = "Origin"
	AccessControlRequestMethod  = "Access-Control-Request-Method"
	AccessControlRequestHeaders = "Access-Control-Request-Headers"
)

// RealIP returns the client's address, the one the gateway's IP allow and block lists use: the
// TCP peer, or, when the peer is one of the gateway's trusted_proxies, what X-Forwarded-For
// says. Unlike Tyk's, X-Real-IP and X-Forwarded-For from any other peer are not believed: a
// client cannot name its own address. Outside the gateway (tests), the host of r.RemoteAddr.
func RealIP(r *http.Request) string { return sdk.ClientIP(r) }
