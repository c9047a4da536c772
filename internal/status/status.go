// Package status is the status page of the Gateway API listener: a static page (HTML, one
// script, one style sheet, embedded in the binary, no front-end build step) and the report its
// script reads from the Gateway API with the secret.
//
// The page itself carries no data and needs no secret: it asks for the secret, keeps it in the
// browser's sessionStorage, and sends it in the X-Tyk-Authorization header of its requests for
// the report (GET /tyk/status). The secret is never in a URL or a cookie, so another site can
// neither read the report nor make the browser fetch it with the secret. Everything the report
// holds is put in the page as text, never as markup.
package status

import (
	"context"
	"embed"
	"net/http"
	"time"
)

//go:embed page
var page embed.FS

// Paths of the page on the Gateway API listener.
const (
	PagePath   = "/status"
	ScriptPath = "/status/status.js"
	StylePath  = "/status/status.css"
)

// Security headers of every file of the page. The policy allows the page's own script and
// style sheet and requests to its own origin, nothing inline, no frame around it, no form
// submission (the login form is handled by the script; without it nothing is sent).
const (
	ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
)

// Handler serves the page's files at PagePath, ScriptPath and StylePath; any other path is 404.
func Handler() http.Handler {
	files := map[string]struct{ name, ctype string }{
		PagePath:   {"page/index.html", "text/html; charset=utf-8"},
		ScriptPath: {"page/status.js", "text/javascript; charset=utf-8"},
		StylePath:  {"page/status.css", "text/css; charset=utf-8"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		data, err := page.ReadFile(f.name)
		if err != nil {
			http.Error(w, "the status page is missing from this build", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		SetHeaders(h)
		h.Set("Content-Type", f.ctype)
		h.Set("Cache-Control", "no-cache")
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = w.Write(data)
	})
}

// SetHeaders sets the headers that keep the page and its report from being framed, sniffed or
// leaked through a referrer.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// Source is what the report is made from: the gateway.
type Source interface {
	// Status makes the report; ctx bounds the round trip that asks Redis whether it answers.
	Status(ctx context.Context) Report
}

// Report is what the status page shows, as GET /tyk/status returns it.
type Report struct {
	// Time is when the report was made; Started when the gateway started.
	Time    time.Time `json:"time"`
	Started time.Time `json:"started"`
	Version string    `json:"version"`
	// Store is "memory" or "redis".
	Store string `json:"store"`
	// Metrics is false when prometheus.enabled is off: no counters are kept, and the request
	// and plugin figures are absent.
	Metrics bool `json:"metrics"`
	// Unrouted counts the requests no API took (404, refused before routing); absent without
	// metrics.
	Unrouted *Requests `json:"unrouted,omitempty"`

	APIs    []API    `json:"apis"`
	Plugins []Plugin `json:"plugins"`
	Bundles []Bundle `json:"bundles"`
	Reloads []Reload `json:"reloads"`
	// Redis are the Redis servers this gateway uses, by the block of tyk.conf that names
	// each: the store's (storage), the response cache's (cache_storage) and the analytics
	// records' (analytics_storage); absent when it uses none.
	Redis []Redis `json:"redis,omitempty"`
	Fleet *Fleet  `json:"fleet,omitempty"`
}

// Redis is whether one of the gateway's Redis servers answers. Never where it is: the page
// shows what the log and /hello show.
type Redis struct {
	// Block is the block of tyk.conf that configures it: storage, cache_storage or
	// analytics_storage.
	Block string `json:"block"`
	Up    bool   `json:"up"`
	// RoundTripSeconds is how long it took to answer, when it did.
	RoundTripSeconds float64 `json:"round_trip_seconds,omitempty"`
	// Effect is, when it does not answer, what that does to the traffic.
	Effect string `json:"effect,omitempty"`
}

// API states.
const (
	// StateServed: the API serves.
	StateServed = "served"
	// StateRefused: the definition is not served (invalid, unsupported features, a clash).
	StateRefused = "refused"
	// StateFailed: the API is routed but fails closed (a plugin hook that could not be loaded)
	// or answers 503 (its bundle is not available, its plugin is being built).
	StateFailed = "failed"
	// StatePrevious: a new version could not be loaded; the previous version keeps serving.
	StatePrevious = "previous"
	// StateInactive: the definition sets active to false.
	StateInactive = "inactive"
)

// API is one definition and what became of it.
type API struct {
	ID         string `json:"api_id"`
	Name       string `json:"name"`
	ListenPath string `json:"listen_path,omitempty"`
	Domain     string `json:"domain,omitempty"`
	Upstream   string `json:"upstream,omitempty"`
	// HostsDown are the upstream hosts (host:port) the API's uptime tests find down.
	HostsDown []string `json:"hosts_down,omitempty"`
	// Auth names how clients get in: keyless, auth_token, jwt, basic, custom plugin, ...
	Auth string `json:"auth,omitempty"`
	// File is where the definition comes from (a file name, "redis:ID", "built-in example").
	File    string   `json:"file,omitempty"`
	State   string   `json:"state"`
	Reasons []string `json:"reasons,omitempty"`
	// Requests counts the API's requests since it was loaded (absent without metrics).
	Requests *Requests `json:"requests,omitempty"`
}

// Requests counts requests since the series started: all of them, and those answered with a
// 5xx.
type Requests struct {
	Total  float64 `json:"total"`
	Errors float64 `json:"errors_5xx"`
}

// Plugin is one plugin hook of an API.
type Plugin struct {
	APIID    string `json:"api_id"`
	Hook     string `json:"hook"`
	Function string `json:"function"`
	// File is the file the hook names or was loaded from (a source folder's build output).
	File string `json:"file,omitempty"`
	// PluginPath is the plugin's main package path, which carries its build id; SHA256 the
	// loaded file's content; Loaded when that content was first opened in this process.
	PluginPath string    `json:"plugin_path,omitempty"`
	SHA256     string    `json:"sha256,omitempty"`
	Loaded     time.Time `json:"loaded,omitzero"`
	// Error is why the hook is not loaded ("" when it is).
	Error string `json:"error,omitempty"`
	// Calls, Errors (a status of 400 or more written) and Panics since the hook's series
	// started, and the 99th percentile of its run time in seconds as the upper bound of its
	// histogram bucket (-1: above the last bucket); absent without metrics.
	Calls  *float64 `json:"calls,omitempty"`
	Errors *float64 `json:"errors,omitempty"`
	Panics *float64 `json:"panics,omitempty"`
	P99    *float64 `json:"p99_seconds,omitempty"`
}

// Bundle is one plugin bundle the APIs name.
type Bundle struct {
	Name string   `json:"name"`
	APIs []string `json:"apis"`
	// State is "verified", "downloading" or "failed", with Error saying why.
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// Signature is "verified" (signature and seal checked with public_key_path's key) or
	// "checksum only" (no public_key_path).
	Signature string `json:"signature"`
	// LastDownload is the end of its last download by this process, and LastDownloadError
	// why it failed.
	LastDownload      time.Time `json:"last_download,omitzero"`
	LastDownloadError string    `json:"last_download_error,omitempty"`
}

// Reload is one load of the configuration.
type Reload struct {
	Time     time.Time `json:"time"`
	Duration float64   `json:"duration_seconds"`
	// Result is "ok" or "failed" (the previous configuration kept serving), with Error.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// APIs and Problems are how many definitions served and how many did not.
	APIs     int `json:"apis"`
	Problems int `json:"problems"`
	// Start is true for the first load, at start.
	Start bool `json:"start,omitempty"`
}

// Fleet is what this node knows of the gateways sharing its Redis store.
type Fleet struct {
	// Node is this gateway's id in notifications ("" without a node secret: no
	// notifications, no announcements).
	Node string `json:"node"`
	// Listening is whether it hears other nodes' notifications (false with
	// suppress_redis_signal_reload or without a node secret).
	Listening bool `json:"listening"`
	// StoreUp is whether Redis answers now.
	StoreUp bool `json:"store_up"`
	// Rejected counts notifications refused (bad signature, replay, too old).
	Rejected int `json:"rejected"`
	// Dropped counts messages on the notification channel too large for any gateway to have
	// sent (a client of Redis other than a gateway publishes there), dropped unread.
	Dropped int64 `json:"dropped,omitempty"`
	// Nodes are the nodes announced in Redis (this one included), the most recently renewed
	// first; Unverified counts announcements whose signature did not verify (not listed), and
	// Unread those not read at all (beyond the fleet's ReadAtMost a report).
	Nodes      []Node `json:"nodes"`
	Unverified int    `json:"unverified,omitempty"`
	Unread     int    `json:"unread,omitempty"`
	// Error is why the nodes could not be read.
	Error string `json:"error,omitempty"`
	// Uptime is how this gateway shares the uptime checks with its poller group; absent with
	// uptime_tests.disable.
	Uptime *UptimeShare `json:"uptime,omitempty"`
}

// UptimeShare is how the gateways of a poller group split the uptime checks: each check is run
// by one of them, which writes what it found for the others.
type UptimeShare struct {
	PollerGroup string `json:"poller_group"`
	// Checks are the checks of the APIs this gateway serves; RunHere those it runs itself.
	Checks  int `json:"checks"`
	RunHere int `json:"run_here"`
	// Gateways is how many gateways of the group share the checks, this one included.
	Gateways int `json:"gateways"`
	// Alone is true while the claims fail (Redis down, or refusing the scripts): this gateway
	// runs every check itself.
	Alone bool `json:"alone,omitempty"`
}

// Node is a gateway of the fleet, as it announces itself every 10 seconds.
type Node struct {
	Node     string    `json:"node"`
	Self     bool      `json:"self,omitempty"`
	Version  string    `json:"version"`
	Hostname string    `json:"hostname"`
	Started  time.Time `json:"started"`
	// LastSeen is its last announcement; Stale is true when that is older than three
	// announcement periods (the node stopped, or cannot reach Redis).
	LastSeen time.Time `json:"last_seen"`
	Stale    bool      `json:"stale,omitempty"`
	APIs     int       `json:"apis"`
	// Tags are a segmented node's tags: it serves only the shared definitions tagged with one.
	Tags []string `json:"tags,omitempty"`
	// LastNotification is the last notification this node heard from it, and when.
	LastNotification     string    `json:"last_notification,omitempty"`
	LastNotificationTime time.Time `json:"last_notification_time,omitzero"`
}
