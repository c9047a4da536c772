// Package observe is how the gateway reports what it does to whatever watches it: Prometheus
// metrics (package prom) and the access log (package accesslog), and the place where tracing
// plugs in later.
//
// The gateway asks an Observer once, when it builds a snapshot, for the handles of each API and
// each plugin hook (API, Plugin) and keeps them beside the compiled chain; a request then calls
// methods of those handles and never looks anything up by name. When nothing observes, the
// gateway holds nil handles and the request path pays one branch per boundary.
//
// Labels are bounded by construction: an API's id, a hook's phase and function name, a method
// from a fixed set and a status code. Nothing from the request path, a key, a header or a query
// ever becomes a label.
package observe

import (
	"net/http"
	"time"
)

// Observer receives the gateway's events. Methods are safe for concurrent use. An Observer
// that only cares about some events embeds Nop.
type Observer interface {
	// API returns the handle of an API's requests; apiID is "" for requests no API took
	// (unrouted, or refused before routing).
	API(apiID string) API
	// Plugin returns the handle of one plugin hook of an API: hook is the phase (pre,
	// auth_check, post_key_auth, post, endpoint, response, analytics), symbol the function.
	Plugin(apiID, hook, symbol string) Plugin
	// Retain is called after a reload with the APIs now served and their plugin hooks now
	// loaded: what was kept for other APIs, or for other hooks of these, may be dropped.
	Retain(apiIDs map[string]bool, hooks map[Hook]bool)

	// PluginLoadFailed counts a plugin hook that could not be loaded, once when it appears.
	PluginLoadFailed(reason string)
	// PluginsFailed is the number of hooks that are not loaded now (their APIs fail closed).
	PluginsFailed(n int)
	// UpstreamHostsDown is the number of upstream hosts the uptime tests find down now.
	UpstreamHostsDown(n int)
	// BundleDownload is the end of one bundle download: err nil when it was downloaded and
	// verified.
	BundleDownload(d time.Duration, err error)
	// BundleVerifyFailed counts a bundle on disk or just downloaded that failed its checksum,
	// signature or manifest checks.
	BundleVerifyFailed()
	// Reload is the end of one reload.
	Reload(d time.Duration, err error)
	// Redis returns what to call after each round trip of the Redis client of the
	// configuration block client (storage, analytics_storage, cache_storage); op names the
	// call: get, set, limit, ...
	Redis(client string) func(op string, d time.Duration, err error)
}

// API is the handle of one API.
type API interface {
	// Request is the end of one request: its (client) method, the status written (0 when
	// nothing was) and how long the gateway took from routing to the end of the response.
	Request(method string, code int, total time.Duration)
	// Upstream is how long the upstream took, until its response was written to the client.
	Upstream(d time.Duration)
	// Refused counts a request refused by a limit.
	Refused(r Refusal)
}

// Plugin is the handle of one plugin hook.
type Plugin interface {
	// Call is the end of one call: how long it ran, the status it wrote (0 when it wrote
	// nothing) and whether it panicked.
	Call(d time.Duration, code int, panicked bool)
}

// Refusal is why a limit refused a request.
type Refusal uint8

const (
	// RateLimit is a key's rate limit.
	RateLimit Refusal = iota
	// APIRateLimit is the API's global_rate_limit.
	APIRateLimit
	// Quota is a key's quota.
	Quota
	// NumRefusals is the number of refusal kinds.
	NumRefusals
)

// String names the refusal as metrics label it.
func (r Refusal) String() string {
	switch r {
	case RateLimit:
		return "rate_limit"
	case APIRateLimit:
		return "api_rate_limit"
	case Quota:
		return "quota"
	}
	return "other"
}

// Methods are the method labels: the standard methods, and Other for any other.
var Methods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, Other,
}

// Other is the label of a method outside the standard set.
const Other = "OTHER"

// MethodIndex returns the index of method in Methods; methods outside the standard set (and
// lower-case spellings, which are other methods in HTTP) map to Other.
func MethodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	case http.MethodConnect:
		return 7
	case http.MethodTrace:
		return 8
	}
	return len(Methods) - 1
}

// Hook names a plugin hook of an API, as Observer.Plugin does.
type Hook struct{ APIID, Hook, Symbol string }

// Nop observes nothing. Embed it to implement only some events.
type Nop struct{}

var _ Observer = Nop{}

func (Nop) API(string) API                        { return nopAPI{} }
func (Nop) Plugin(string, string, string) Plugin  { return nopPlugin{} }
func (Nop) Retain(map[string]bool, map[Hook]bool) {}
func (Nop) PluginLoadFailed(string)               {}
func (Nop) PluginsFailed(int)                     {}
func (Nop) UpstreamHostsDown(int)                 {}
func (Nop) BundleDownload(time.Duration, error)   {}
func (Nop) BundleVerifyFailed()                   {}
func (Nop) Reload(time.Duration, error)           {}
func (Nop) Redis(string) func(string, time.Duration, error) {
	return func(string, time.Duration, error) {}
}

type nopAPI struct{}

func (nopAPI) Request(string, int, time.Duration) {}
func (nopAPI) Upstream(time.Duration)             {}
func (nopAPI) Refused(Refusal)                    {}

type nopPlugin struct{}

func (nopPlugin) Call(time.Duration, int, bool) {}
