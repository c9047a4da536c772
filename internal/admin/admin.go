// Package admin serves the Gateway REST API on Tyk's paths: /hello, /ready, /tyk/apis, /tyk/keys,
// /tyk/policies and /tyk/reload, the status page (/status, its report at /tyk/status) and,
// with enable_http_profiler, Go's profiles at /debug/pprof/. Every /tyk/ and /debug/pprof/
// path needs the X-Tyk-Authorization header to equal the gateway secret, compared in constant
// time. The package talks to the gateway through the narrow
// Backend interface and never imports it.
package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"

	"github.com/gatehouse/gatehouse/apidef"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/oas"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/status"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Backend is what the Gateway API needs from the gateway.
type Backend interface {
	// Reload rebuilds the gateway's snapshot; with wait it returns once the new one serves.
	Reload(ctx context.Context, wait bool) error
	// ReloadAndWait reloads and waits, until ctx ends, for the bundle downloads and plugin
	// builds the reload started, reloading as they end: what was asked for then serves.
	ReloadAndWait(ctx context.Context) (ReloadResult, error)
	// GroupReload reloads every gateway sharing this one's store (only this one with the
	// memory store).
	GroupReload(ctx context.Context) error
	// FlushCache drops the responses cached for an API, on every gateway sharing this one's
	// store: it returns how many this gateway held, and an error when the others could not be
	// told.
	FlushCache(ctx context.Context, apiID string) (int, error)
	// FlushJWKS drops the JWKS keys of an API's JWT auth ("": every API's), on every gateway
	// sharing this one's store; ErrNotServed when no API of that id is served.
	FlushJWKS(ctx context.Context, apiID string) (int, error)
	// Health reports the gateway's state for /hello.
	Health(ctx context.Context) Health
	// Ready reports whether the gateway should be sent traffic, for /ready: its health, and
	// why it should not ("" when it should).
	Ready(ctx context.Context) (Health, string)

	// APIs returns the stored definitions (app_path, and with Redis those the fleet shares)
	// that decode, as stored.
	APIs(ctx context.Context) ([]json.RawMessage, error)
	// API returns one stored definition as stored, or an error wrapping apistore.ErrNotFound.
	API(ctx context.Context, id string) (json.RawMessage, error)
	// SaveAPI checks and stores a definition. create is true for POST: the id must be new;
	// else (PUT) it must exist, checked as the definition is stored, or apistore.ErrNotFound.
	// It returns an error wrapping ErrInvalid for a definition the gateway would refuse, and
	// ErrConflict for one that clashes with another or that this gateway cannot change.
	SaveAPI(ctx context.Context, def *apidef.APIDefinition, raw []byte, create bool) error
	// DeleteAPI removes a stored definition.
	DeleteAPI(ctx context.Context, id string) error

	// OASDocuments returns the OpenAPI documents of the stored Tyk OAS APIs, as stored.
	OASDocuments(ctx context.Context) ([]json.RawMessage, error)
	// OASDocument returns the OpenAPI document of a stored API: an error wrapping
	// apistore.ErrNotFound when there is none, ErrClassicAPI when it is a Classic API.
	OASDocument(ctx context.Context, id string) (json.RawMessage, error)
	// SaveOAS checks and stores a Tyk OAS API whose extension names its id (info.id): create
	// and the errors as for SaveAPI, and ErrClassicAPI when the id is a Classic API's.
	SaveOAS(ctx context.Context, doc *oas.Document, create bool) error

	// Policies returns the policies (the policies file's, and with Redis those the fleet
	// shares), each as JSON.
	Policies(ctx context.Context) ([]json.RawMessage, error)
	// SavePolicy stores a policy the fleet shares: create for POST (the id must be new), else
	// PUT (it must exist: ErrNotFound). ErrReadOnly when this gateway cannot store policies.
	SavePolicy(ctx context.Context, p *apidef.Policy, raw []byte, create bool) error
	// DeletePolicy removes a policy the fleet shares.
	DeletePolicy(ctx context.Context, id string) error
	// PolicyExists reports whether the gateway has loaded the policy id.
	PolicyExists(id string) bool
	// PolicyAPIs returns the APIs the loaded policies ids give access to: those a key naming
	// them may count a quota for apart (partitions.per_api).
	PolicyAPIs(ids []string) []string
	// ApplyPolicies returns the session as the loaded policies it names make it (see
	// policy.Set.Apply): a copy, or sess itself when it names none.
	ApplyPolicies(sess *apidef.SessionState) (*apidef.SessionState, error)
	// KeyExpiry returns when a key created now naming the loaded policies ids expires, as
	// their key_expires_in gives it (policy.Set.KeyExpiry); 0 when none sets one.
	KeyExpiry(ids []string, now time.Time) int64

	// KeysChanged tells the other gateways sharing the store that these keys (by hash) were
	// changed or deleted.
	KeysChanged(ctx context.Context, hashes []string)
	// KeyEvent tells of a key created, changed or deleted through the Gateway API: event is
	// TokenCreated, TokenUpdated or TokenDeleted (Tyk's system events), message Tyk's for it,
	// keyHash the key's hash (never the key).
	KeyEvent(event, message, orgID, keyHash string)
	// SessionLifetime returns the longest session_lifetime of the given APIs, 0 when none
	// sets one.
	SessionLifetime(apiIDs []string) time.Duration
}

// ReloadResult is what a blocking reload could not wait for or could not load.
type ReloadResult struct {
	// Pending lists the APIs still waiting for a bundle download or a plugin build, and the
	// reload itself when it has not ended.
	Pending []string `json:"pending,omitempty"`
	// Failed lists the APIs whose bundle or plugins could not be loaded.
	Failed []string `json:"failed,omitempty"`
}

// Health is the /hello document, in Tyk's shape.
type Health struct {
	Status      string            `json:"status"`
	Version     string            `json:"version"`
	Description string            `json:"description"`
	Details     map[string]Detail `json:"details"`
}

// Detail is the health of one component (an API, the store, the Gateway API itself).
type Detail struct {
	Status        string `json:"status"`
	ComponentType string `json:"componentType"`
	Output        string `json:"output,omitempty"`
	Time          string `json:"time"`
	// Public marks an Output that names no path, URL, address, file or internal id (whether
	// Redis answers, counts): the checks answer it without the secret too.
	Public bool `json:"-"`
}

// ErrNotServed marks an API id no API served by this gateway has.
var ErrNotServed = errors.New("no API of that id is served")

// Health statuses.
const (
	StatusPass = "pass"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// Options configure the Gateway API.
type Options struct {
	Secret   string
	Backend  Backend
	Sessions *session.Manager
	Counters storage.Counters
	// Store holds the OAuth 2.0 clients (/tyk/oauth/clients/...), and OAuthRedirectSeparator
	// splits their redirect_uri (oauth_redirect_uri_separator).
	Store                  storage.KV
	OAuthRedirectSeparator string
	// Certs is the certificate store (/tyk/certs); nil answers 501 there.
	Certs           *certstore.Store
	AllowMasterKeys bool
	// HealthPath is the health check path without its slash (default "hello").
	HealthPath string
	// ReadyPath is the readiness check path without its slash (default "ready").
	ReadyPath string
	Logger    *slog.Logger
	// Status, when set, makes the status page's report: the page is served at /status (no
	// secret: it holds no data) and its report at GET /tyk/status (with the secret).
	Status status.Source
	// Profiler serves Go's profiles under ProfilerPath, with the secret (enable_http_profiler).
	Profiler bool
	// WriteTimeout is the listener's write timeout (0: none); a CPU profile or a trace must end
	// before it.
	WriteTimeout time.Duration
	// ClientCerts, when not nil, returns the SHA-256 sums of the only client certificates whose
	// requests are served (security.control_api_use_mutual_tls), as last read: any other
	// request, the health check's too, gets 403.
	ClientCerts func() map[[32]byte]bool
}

// Server is the Gateway API handler.
type Server struct {
	o         Options
	secretSum [32]byte
	mux       *http.ServeMux
	// linkMu serialises linking versions to base APIs (oas.go): each link reads, changes and
	// writes a base's document.
	linkMu sync.Mutex
}

// New returns the Gateway API handler. The caller must not start it with an unusable secret.
func New(o Options) *Server {
	s := &Server{o: o, secretSum: sha256.Sum256([]byte(o.Secret))}
	mux := http.NewServeMux()
	handleChecks(mux, o.Backend, o.HealthPath, o.ReadyPath, s.hasSecret)
	mux.Handle("/tyk/", s.requireSecret(s.tykRoutes()))
	if o.Profiler {
		// Every method and the bare /debug/pprof behind the secret: without it, nothing tells
		// that the profiler is on (no 405, no redirect).
		profiler := s.requireSecret(http.HandlerFunc(s.profiler))
		mux.Handle(ProfilerPath, profiler)
		mux.Handle(strings.TrimSuffix(ProfilerPath, "/"), profiler)
	}
	if o.Status != nil && o.HealthPath != "status" && o.ReadyPath != "status" {
		// A check named "status" (a Tyk configuration may name /hello so) takes the page's path.
		page := status.Handler()
		for _, p := range []string{status.PagePath, status.ScriptPath, status.StylePath} {
			mux.Handle("GET "+p, page)
		}
	}
	s.mux = mux
	return s
}

// CheckHandler serves the health and readiness checks alone (paths without their slash, ""
// for the defaults), for the main listener when the Gateway API is not running: there is no
// usable secret then, so they always answer the public form (PublicHealth).
func CheckHandler(b Backend, healthPath, readyPath string) http.Handler {
	mux := http.NewServeMux()
	handleChecks(mux, b, healthPath, readyPath, func(*http.Request) bool { return false })
	return mux
}

// handleChecks serves the health check (/hello) and the readiness check (/ready) on mux, GET
// only (other methods get 405, as in Tyk), neither needing the secret: without it (full false)
// they answer PublicHealth's form, with it the whole document.
func handleChecks(mux *http.ServeMux, b Backend, healthPath, readyPath string, full func(*http.Request) bool) {
	if healthPath == "" {
		healthPath = "hello"
	}
	if readyPath == "" {
		readyPath = "ready"
	}
	// Registered for every method so that HEAD, which ServeMux would serve as GET, gets the 405
	// too, with Tyk's body.
	getOnly := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", http.MethodGet)
				writeJSON(w, http.StatusMethodNotAllowed, notReady{Status: "error", Message: "Method Not Allowed"})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("/"+healthPath, getOnly(func(w http.ResponseWriter, r *http.Request) {
		h := b.Health(r.Context())
		if !full(r) {
			h = PublicHealth(h)
		}
		writeJSON(w, healthCode(h), h)
	}))
	mux.HandleFunc("/"+readyPath, getOnly(func(w http.ResponseWriter, r *http.Request) {
		h, why := b.Ready(r.Context())
		if why != "" {
			// Tyk's shape and messages: probes and scripts written for Tyk read them.
			writeJSON(w, http.StatusServiceUnavailable, notReady{Status: "error", Message: why})
			return
		}
		if !full(r) {
			h = PublicHealth(h)
		}
		writeJSON(w, healthCode(h), h)
	}))
}

// notReady is /ready's answer when the gateway should not be sent traffic, and the checks'
// answer to a method other than GET.
type notReady struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.o.ClientCerts != nil {
		if msg := s.clientCertProblem(r); msg != "" {
			s.o.Logger.Warn("Gateway API request refused: "+msg, "method", r.Method, "path", redactKey(r.URL.Path), "remote_addr", r.RemoteAddr)
			writeError(w, http.StatusForbidden, msg)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// clientCertProblem says why r's client certificate is not one of ClientCerts, or "". The TLS
// handshake has verified it against them already; this also refuses a certificate issued by a
// CA that is listed, as Tyk does.
func (s *Server) clientCertProblem(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "a client TLS certificate is required"
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	if !s.o.ClientCerts()[sum] {
		return fmt.Sprintf("the client certificate with SHA256 %x is not allowed; list it in security.certificates.control_api", sum)
	}
	return ""
}

func healthCode(h Health) int {
	if h.Status == StatusFail {
		return http.StatusServiceUnavailable
	}
	return http.StatusOK
}

func (s *Server) tykRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tyk/reload", s.reload)
	mux.HandleFunc("GET /tyk/reload/{$}", s.reload)
	mux.HandleFunc("GET /tyk/reload/group", s.groupReload)

	mux.HandleFunc("GET /tyk/apis", s.listAPIs)
	mux.HandleFunc("GET /tyk/apis/{$}", s.listAPIs)
	mux.HandleFunc("POST /tyk/apis", s.createAPI)
	mux.HandleFunc("POST /tyk/apis/{$}", s.createAPI)
	s.oasRoutes(mux)
	mux.HandleFunc("GET /tyk/apis/{id}", s.getAPI)
	mux.HandleFunc("PUT /tyk/apis/{id}", s.updateAPI)
	mux.HandleFunc("DELETE /tyk/apis/{id}", s.deleteAPI)

	mux.HandleFunc("GET /tyk/policies", s.listPolicies)
	mux.HandleFunc("GET /tyk/policies/{$}", s.listPolicies)
	mux.HandleFunc("POST /tyk/policies", s.createPolicy)
	mux.HandleFunc("POST /tyk/policies/{$}", s.createPolicy)
	mux.HandleFunc("GET /tyk/policies/{id}", s.getPolicy)
	mux.HandleFunc("PUT /tyk/policies/{id}", s.updatePolicy)
	mux.HandleFunc("DELETE /tyk/policies/{id}", s.deletePolicy)

	if s.o.Status != nil {
		mux.HandleFunc("GET /tyk/status", s.statusReport)
	}

	mux.HandleFunc("DELETE /tyk/cache/{id}", s.flushCache)
	mux.HandleFunc("DELETE /tyk/cache/jwks", s.flushJWKS)
	mux.HandleFunc("DELETE /tyk/cache/jwks/{id}", s.flushJWKS)
	s.oauthRoutes(mux)
	s.certRoutes(mux)

	mux.HandleFunc("GET /tyk/keys", s.listKeys)
	mux.HandleFunc("GET /tyk/keys/{$}", s.listKeys)
	mux.HandleFunc("POST /tyk/keys/create", s.createKey)
	mux.HandleFunc("POST /tyk/keys", s.createKey)
	mux.HandleFunc("POST /tyk/keys/{$}", s.createKey)
	mux.HandleFunc("GET /tyk/keys/{key}", s.getKey)
	mux.HandleFunc("POST /tyk/keys/{key}", s.putKey)
	mux.HandleFunc("PUT /tyk/keys/{key}", s.putKey)
	mux.HandleFunc("DELETE /tyk/keys/{key}", s.deleteKey)
	mux.HandleFunc("GET /tyk/org/keys", s.listOrgs)
	mux.HandleFunc("GET /tyk/org/keys/{$}", s.listOrgs)
	mux.HandleFunc("GET /tyk/org/keys/{org}", s.getOrg)
	mux.HandleFunc("POST /tyk/org/keys/{org}", s.putOrg)
	mux.HandleFunc("PUT /tyk/org/keys/{org}", s.putOrg)
	mux.HandleFunc("DELETE /tyk/org/keys/{org}", s.deleteOrg)

	mux.HandleFunc("/tyk/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found: "+r.Method+" "+r.URL.Path+" is not a Gateway API endpoint")
	})
	return mux
}

// hasSecret reports whether r's X-Tyk-Authorization is the secret. Both sides are hashed first
// so the comparison takes the same time whatever the lengths.
func (s *Server) hasSecret(r *http.Request) bool {
	given := sha256.Sum256([]byte(r.Header.Get("X-Tyk-Authorization")))
	return s.o.Secret != "" && subtle.ConstantTimeCompare(given[:], s.secretSum[:]) == 1
}

// requireSecret refuses requests whose X-Tyk-Authorization is not the secret (hasSecret).
func (s *Server) requireSecret(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hasSecret(r) {
			s.o.Logger.Warn("Gateway API request with a wrong or missing secret", "method", r.Method, "path", redactKey(r.URL.Path), "remote_addr", r.RemoteAddr)
			writeError(w, http.StatusForbidden, "Attempted administrative access with invalid or missing key!")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusReport answers GET /tyk/status: the status page's report. It is never cached, and
// carries the page's headers so that it cannot be framed or sniffed as markup either.
func (s *Server) statusReport(w http.ResponseWriter, r *http.Request) {
	rep := s.o.Status.Status(r.Context())
	status.SetHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, rep)
}

// apiStatus is Tyk's reply to a write: {"key": ..., "status": "ok", "action": ...}.
type apiStatus struct {
	Key     string `json:"key"`
	Status  string `json:"status"`
	Action  string `json:"action"`
	KeyHash string `json:"key_hash,omitempty"`
	// Notes, for a Tyk OAS API written (not in Tyk's answer), say what the document sets that
	// Gatehouse ignores or that has no effect, as the gateway logs it when it loads the API.
	Notes []string `json:"notes,omitempty"`
}

// apiError is Tyk's error reply.
type apiError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Status: "error", Message: msg})
}

// writeJSON answers v as compact JSON, as Tyk's Gateway API does. Never indented: a value a
// client stored (a key's meta_data, a definition's fields) may nest deeply, and indenting grows
// with depth × size (a 20 KB array nested 10,000 deep indents to 200 MB).
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		data = []byte(`{"status":"error","message":"encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}

// Bounds of a blocking reload's wait (GET /tyk/reload?block=true&timeout=SECONDS).
const (
	defaultReloadTimeout = 60 * time.Second
	maxReloadTimeout     = 10 * time.Minute
)

// reloadReply is the answer to a reload: Tyk's status and message, and with block=true what is
// still pending or failed.
type reloadReply struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	ReloadResult
}

// reload answers GET /tyk/reload. Without block=true it asks for a reload and answers at once.
// With it, it waits until the reload serves and the downloads and builds it started have
// ended, up to timeout seconds (default 60): 200 when nothing is pending (with what failed, if
// anything), 202 with what is still pending when the time ran out.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("block") != "true" {
		if err := s.o.Backend.Reload(r.Context(), false); err != nil {
			writeError(w, http.StatusInternalServerError, "reload failed: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: ""})
		return
	}
	timeout := defaultReloadTimeout
	if v := q.Get("timeout"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || !(secs > 0) || secs > maxReloadTimeout.Seconds() {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("timeout %q: give the seconds to wait, more than 0 and at most %.0f", v, maxReloadTimeout.Seconds()))
			return
		}
		timeout = time.Duration(secs * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, err := s.o.Backend.ReloadAndWait(ctx)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "reload failed: "+err.Error())
		return
	}
	reply := reloadReply{Status: "ok", ReloadResult: res}
	code := http.StatusOK
	switch {
	case len(res.Pending) > 0:
		code, reply.Status = http.StatusAccepted, "pending"
		reply.Message = fmt.Sprintf("after %v, %s (see pending)", timeout, count(len(res.Pending), "thing still waits", "things still wait"))
	case len(res.Failed) > 0:
		// The reasons are in failed, once: a plugin's may list its exports.
		reply.Message = fmt.Sprintf("reloaded; %s not available (see failed)", count(len(res.Failed), "thing is", "things are"))
	}
	writeJSON(w, code, reply)
}

func (s *Server) groupReload(w http.ResponseWriter, r *http.Request) {
	if err := s.o.Backend.GroupReload(r.Context()); err != nil {
		writeError(w, http.StatusInternalServerError, "group reload failed: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: ""})
}

// flushCache answers DELETE /tyk/cache/{id}, as Tyk: the API's cached responses are dropped.
func (s *Server) flushCache(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := s.o.Backend.FlushCache(r.Context(), id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cache invalidation failed: "+err.Error())
		return
	}
	s.o.Logger.Info("cache invalidated", "api_id", id, "responses", n)
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "cache invalidated"})
}

// flushJWKS answers DELETE /tyk/cache/jwks[/{api_id}], as Tyk: the JWKS keys of every API's
// (or one API's) JWT auth are fetched afresh by the next token.
func (s *Server) flushJWKS(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := s.o.Backend.FlushJWKS(r.Context(), id)
	switch {
	case errors.Is(err, ErrNotServed):
		writeError(w, http.StatusNotFound, "API not found")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "cache invalidation failed: "+err.Error())
		return
	}
	s.o.Logger.Info("JWKS cache invalidated", "api_id", id, "sets", n)
	writeJSON(w, http.StatusOK, apiError{Status: "ok", Message: "cache invalidated"})
}

// redactKey hides the key in a /tyk/keys/{key} path, and the token in a
// /tyk/oauth/refresh/{refresh_token} one, so logs never hold either.
func redactKey(path string) string {
	for _, p := range [...]struct{ prefix, shown string }{
		{"/tyk/keys/", "{key}"}, {"/tyk/oauth/refresh/", "{refresh_token}"},
	} {
		if rest, ok := strings.CutPrefix(path, p.prefix); ok && rest != "" && rest != "create" {
			return p.prefix + p.shown
		}
	}
	return path
}

// encodeFields encodes a JSON object's fields as stored: one field a line, by name, each value
// compact. The file stays readable without indenting values, which grows with depth × size (a
// 20 KB array nested 10,000 deep would be stored as 200 MB).
func encodeFields(fields map[string]json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	for i, k := range slices.Sorted(maps.Keys(fields)) {
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		v := fields[k]
		if v == nil {
			v = json.RawMessage("null")
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		b.Write(name)
		b.WriteString(": ")
		if err := json.Compact(&b, v); err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
	}
	b.WriteString("\n}")
	return b.Bytes(), nil
}

// readBody reads a request body of at most limit bytes: a larger one is answered 413 naming the
// limit, one that cannot be read 400; what names the body in the answer.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the %s is larger than %d KiB, the most the Gateway API reads", what, limit>>10))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the "+what+": "+err.Error())
		return nil, false
	}
	return raw, true
}

// count writes n with the singular or plural that follows it.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
