//go:build gatehouse_compat

// Package header holds the header names and values Tyk plugins use, as Tyk's header package
// names them.
package header

// Header names and values.
const (
	UserAgent               = "User-Agent"
	ContentType             = "Content-Type"
	ContentLength           = "Content-Length"
	Authorization           = "Authorization"
	ContentEncoding         = "Content-Encoding"
	Accept                  = "Accept"
	AcceptEncoding          = "Accept-Encoding"
	StrictTransportSecurity = "Strict-Transport-Security"
	CacheControl            = "Cache-Control"
	Pragma                  = "Pragma"
	Expires                 = "Expires"
	Connection              = "Connection"
	WWWAuthenticate         = "WWW-Authenticate"
	SetCookie               = "Set-Cookie"
	Cookie                  = "Cookie"
	TransferEncoding        = "Transfer-Encoding"
	Host                    = "Host"
	Upgrade                 = "Upgrade"
	SecWebSocketProtocol    = "Sec-WebSocket-Protocol"
	SecWebSocketVersion     = "Sec-WebSocket-Version"
	SecWebSocketKey         = "Sec-WebSocket-Key"

	ApplicationJSON           = "application/json"
	ApplicationXML            = "application/xml"
	ApplicationSoapXML        = "application/soap+xml"
	ApplicationFormURLEncoded = "application/x-www-form-urlencoded"
	TextXML                   = "text/xml"

	TykHookshot           = "Tyk-Hookshot"
	XRealIP               = "X-Real-IP"
	XForwardFor           = "X-Forwarded-For"
	XAuthResult           = "X-Auth-Result"
	XSessionAlias         = "X-Session-Alias"
	XInitialURI           = "X-Initial-URI"
	XForwardProto         = "X-Forwarded-Proto"
	XContentTypeOptions   = "X-Content-Type-Options"
	XXSSProtection        = "X-XSS-Protection"
	XFrameOptions         = "X-Frame-Options"
	XGenerator            = "X-Generator"
	XTykAuthorization     = "X-Tyk-Authorization"
	XTykAcceptExampleName = "X-Tyk-Accept-Example-Name"
	XTykAcceptExampleCode = "X-Tyk-Accept-Example-Code"
	XRateLimitLimit       = "X-RateLimit-Limit"
	XRateLimitRemaining   = "X-RateLimit-Remaining"
	XRateLimitReset       = "X-RateLimit-Reset"
	XTykNodeID            = "x-tyk-nodeid"
	XTykSessionID         = "x-tyk-session-id"
	XTykNonce             = "x-tyk-nonce"
	XTykHostname          = "x-tyk-hostname"
)
