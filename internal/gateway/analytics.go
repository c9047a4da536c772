package gateway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/goplugin"
	"github.com/gatehouse/gatehouse/internal/observe/tracing"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/sdk"
)

// maxRecordedBody bounds how much of each body a detailed record keeps.
const maxRecordedBody = 64 << 10

// recordSink is where records go: the JSON-lines file (memory store) or the Redis list
// tyk-pump reads (Redis store).
type recordSink interface {
	Record(*sdk.AnalyticsRecord)
	// Drop counts a record dropped before it reached the sink.
	Drop()
	Dropped() int64
	Written() int64
	Close() error
}

// openAnalytics starts the analytics sink enable_analytics asks for: with the Redis store,
// records go to the Redis list tyk-pump reads; otherwise to the JSON-lines file.
func (g *Gateway) openAnalytics() error {
	ac := g.cfg.AnalyticsConfig
	g.analyticsIgnored = map[netip.Addr]struct{}{}
	for _, s := range ac.IgnoredIPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			g.analyticsIgnored[ip.Unmap()] = struct{}{}
		}
	}
	if nu := ac.NormaliseUrls; nu.Enabled {
		n, err := analytics.NewNormaliser(nu.NormaliseUUIDs, nu.NormaliseULIDs, nu.NormaliseNumbers, nu.CustomPatterns)
		if err != nil {
			return err
		}
		g.analyticsPaths = n
	}
	if list, where := g.analyticsRedis(); list != nil {
		g.analytics = analytics.NewPump(list, analytics.PumpOptions{
			Where:        where,
			Workers:      cmp.Or(ac.PoolSize, runtime.NumCPU()),
			BufferSize:   ac.RecordsBufferSize,
			TTL:          ac.AnalyticsTTL(),
			MultipleKeys: ac.EnableMultipleAnalyticsKeys,
			NodeTags:     g.cfg.Segment(),
			Logger:       g.log,
		})
	} else {
		sink, err := analytics.Open(ac.FilePath, g.log)
		if err != nil {
			return err
		}
		g.analytics = sink
	}
	g.analyticsHooks = make(chan struct{}, maxAnalyticsHooks)
	if g.prom != nil {
		g.prom.Analytics(g.analytics.Written, g.analytics.Dropped)
	}
	return nil
}

// analyticsRedis returns the Redis records and uptime analytics go to, and how the log names
// it: analytics_storage's with enable_separate_analytics_store, else the store's when it is
// Redis; nil without Redis.
func (g *Gateway) analyticsRedis() (analytics.Pusher, string) {
	if g.analyticsStore != nil {
		return g.analyticsStore, "the analytics Redis (analytics_storage)"
	}
	if p, ok := g.store.(analytics.Pusher); ok && g.cfg.Storage.Type == "redis" {
		return p, "Redis"
	}
	return nil, ""
}

// hundredYears is the expireAt of an API that sets no expire_analytics_after, as in Tyk.
const hundredYears = 100

// defaultOrgDataAge is how long, in seconds, enforce_org_data_age keeps the records of an org
// without a session: Tyk's week.
const defaultOrgDataAge = 604800

// orgDataAge returns how long, in seconds, the records of orgID's APIs are kept with
// enforce_org_data_age, as Tyk decides it: the org session's data_expires, a week for an org
// without a session, and the API's own (apiAge) when the session sets none or cannot be read.
func (g *Gateway) orgDataAge(ctx context.Context, orgID string, apiAge int64) int64 {
	// The response is written: the client leaving must not change the record.
	s, err := g.sessions.Org(context.WithoutCancel(ctx), orgID)
	switch {
	case err == nil && s.DataExpires > 0:
		return s.DataExpires
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrBadID):
		return defaultOrgDataAge
	}
	return apiAge
}

// expireAt is a record's expireAt: seconds after now, or a hundred years when seconds is 0
// or less (expire_analytics_after, expire_utime_after), as in Tyk.
func expireAt(now time.Time, seconds int64) time.Time {
	if seconds > 0 {
		return now.Add(time.Duration(seconds) * time.Second)
	}
	return now.AddDate(hundredYears, 0, 0)
}

// redacted replaces credentials in detailed records.
const redacted = "[redacted]"

// tracker records an API's requests for analytics: after the response is written, it builds
// the record, hands it to the API's analytics plugin, and queues it for the analytics sink.
type tracker struct {
	g *Gateway
	// What records read of the definition, copied out of it (the compiled API does not keep
	// it: apiRuntime).
	apiID, apiName, orgID, listenPath string
	tags                              []string
	notVersioned                      bool
	expireAfter                       int64 // expire_analytics_after, in seconds
	hook                              plugin.AnalyticsFunc
	hookInfo                          goplugin.Hook
	// detailed is whether a request's record holds the raw request and response before its
	// key is known: the API's enable_detailed_recording, or analytics_config's. apiDetailed is
	// the API's own, which nothing overrides; the detail steps (keyDetailStep, orgDetailStep)
	// decide again once the org and the key are known.
	detailed, apiDetailed bool
	// orgSession reads the API's org session for enforce_org_data_detailed_logging; nil without.
	orgSession func(context.Context) (*apidef.SessionState, error)
	keyed      bool
	// mayDetail: a step may make a record detailed that is not when the chain starts; strips:
	// auth removes the credentials from the request before it can (strip_auth_data).
	mayDetail, strips bool
	// secretHeaders and secretParams are where the API's credentials may travel: their values
	// never reach a detailed record.
	secretHeaders []string
	secretParams  []string
	// upstreamSecrets are the API's upstream credentials (upstream_auth): an upstream echoing
	// its request back must not put them in a record either.
	upstreamSecrets []string
	// tagHeaders are the API's tag_headers: canonical names, and the tags' lower-case prefixes.
	tagHeaders []tagHeader
	// tracked are the versions' track_endpoints, untracked their do_not_track_endpoints, each
	// entry's value its path; nil when none.
	tracked, untracked *endpoint.Table[string]
}

// compileTracking compiles the track_endpoints and do_not_track_endpoints of the versions with
// use_extended_paths, as the other endpoint lists are; a table with no entry is nil.
func compileTracking(versions map[string]apidef.VersionInfo) (tracked, untracked *endpoint.Table[string], err error) {
	var track, untrack endpoint.Table[string]
	for _, name := range slices.Sorted(maps.Keys(versions)) {
		v := versions[name]
		if !v.UseExtendedPaths {
			continue
		}
		if err := addTracking(&track, name, "track_endpoints", v.ExtendedPaths.TrackEndpoints, v.IgnoreEndpointCase); err != nil {
			return nil, nil, err
		}
		if err := addTracking(&untrack, name, "do_not_track_endpoints", v.ExtendedPaths.DoNotTrackEndpoints, v.IgnoreEndpointCase); err != nil {
			return nil, nil, err
		}
	}
	if !track.Empty() {
		tracked = &track
	}
	if !untrack.Empty() {
		untracked = &untrack
	}
	return tracked, untracked, nil
}

// addTracking adds a version's list (named field in errors) to t, each entry with its path.
func addTracking(t *endpoint.Table[string], version, field string, list []apidef.TrackEndpointMeta, ignoreCase bool) error {
	for i, e := range list {
		if e.Disabled {
			continue
		}
		where := fmt.Sprintf("version %q: extended_paths.%s[%d]", version, field, i)
		if err := t.Add(version, where, e.Path, e.Method, ignoreCase, e.Path); err != nil {
			return err
		}
	}
	return nil
}

// tagHeader is one of tag_headers; a secret one (a header that carries the API's credentials)
// is tagged "<name>-[redacted]", never with its value.
type tagHeader struct {
	name, prefix string
	secret       bool
}

// tracker returns the API's tracker, or nil when its requests are not recorded; an error when
// its track_endpoints or do_not_track_endpoints do not compile.
func (g *Gateway) tracker(def *apidef.APIDefinition, hooks *apiHooks) (*tracker, error) {
	// Compiled whether or not requests are recorded: a definition is refused for a bad entry
	// whatever enable_analytics says.
	tracked, untracked, err := compileTracking(def.VersionData.Versions)
	if err != nil {
		return nil, err
	}
	if g.analytics == nil || def.DoNotTrack {
		if hooks.analytics != nil {
			g.log.Warn("analytics_plugin has no effect: enable_analytics is off or the API sets do_not_track", "api_id", def.APIID)
		}
		return nil, nil
	}
	if hooks.analyticsErr != nil {
		// The API serves, but its requests are not recorded: the plugin may have been there to
		// mask the records. The load failure is reported with the other hook failures.
		return nil, nil
	}
	t := &tracker{g: g, apiID: def.APIID, apiName: def.Name, orgID: def.OrgID, listenPath: def.Proxy.ListenPath,
		tags: def.Tags, notVersioned: def.VersionData.NotVersioned, expireAfter: def.ExpireAnalyticsAfter,
		hook: hooks.analytics, hookInfo: hooks.analyticsHook,
		detailed:    def.EnableDetailedRecording || g.cfg.AnalyticsConfig.EnableDetailedRecording,
		apiDetailed: def.EnableDetailedRecording, keyed: !def.UseKeylessAccess}
	if g.cfg.EnforceOrgDataDetailLogging && def.OrgID != "" {
		// An org_id that can name no session has none: the global setting applies.
		t.orgSession, _ = g.sessions.OrgReader(def.OrgID)
	}
	t.mayDetail, t.strips = t.keyDecides() || t.orgDecides(), def.StripAuthData
	// Computed whatever the recording: tag_headers must not copy credentials into records either.
	t.secretHeaders, t.secretParams = secretPlaces(def)
	if cred := upstreamCredentials(def); cred.Name != "" {
		t.upstreamSecrets = []string{strings.TrimPrefix(cred.Value, "Basic "), def.UpstreamAuth.BasicAuth.Password}
	}
	for _, h := range def.TagHeaders {
		if h = strings.TrimSpace(h); h != "" {
			name := http.CanonicalHeaderKey(h)
			t.tagHeaders = append(t.tagHeaders, tagHeader{name: name, prefix: strings.ToLower(h) + "-",
				secret: slices.Contains(t.secretHeaders, name)})
		}
	}
	t.tracked, t.untracked = tracked, untracked
	return t, nil
}

// credentialHeaders carry credentials on any API, whatever its auth methods: tag_headers never
// copies their values into a record.
var credentialHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Tyk-Authorization"}

// secretPlaces lists the headers and query parameters that may carry credentials: the
// credentialHeaders always, and every auth header and parameter the definition names.
func secretPlaces(def *apidef.APIDefinition) (headers, params []string) {
	headers = slices.Clone(credentialHeaders)
	add := func(c apidef.AuthConfig) {
		name := c.AuthHeaderName
		if name == "" {
			name = "Authorization"
		}
		headers = append(headers, http.CanonicalHeaderKey(name))
		if c.UseParam || c.ParamName != "" {
			params = append(params, cmp.Or(c.ParamName, name))
		}
	}
	add(def.Auth)
	for _, c := range def.AuthConfigs {
		add(c)
	}
	slices.Sort(headers)
	slices.Sort(params)
	return slices.Compact(headers), slices.Compact(params)
}

func (t *tracker) serve(w http.ResponseWriter, r *http.Request, c *chain.Context, next func(http.ResponseWriter, *http.Request, *chain.Context)) {
	start := time.Now()
	// The client address was decided before the client's X-Forwarded-For was removed: a
	// tracked API needs it (needClientIP), so it is the peer's when no trusted proxy says
	// otherwise, and invalid only when the peer's is (no ignored_ips entry matches it then).
	ip := c.ClientIP
	if _, ignored := t.g.analyticsIgnored[ip.Unmap()]; ignored {
		next(w, r, c)
		return
	}
	rec := &recorder{ResponseWriter: w}
	switch {
	case t.detailed:
		// Taken before the chain runs: strip_auth_data removes credentials from the request.
		rec.startDetail(t, r, c)
	case t.mayDetail && t.strips:
		// A key or its org may make the record detailed once auth ran and stripped them: what
		// the client sent as credentials is taken now, to be hidden then (without
		// strip_auth_data they are still in the request then: nothing to take per request).
		rec.sent = t.credentials(r)
	}
	next(rec, r, c)
	// do_not_track_endpoints: matched on the path as the chain read it (c.Readings, set once
	// the version is known; a request refused before has none and is recorded).
	if _, ok := t.untracked.Lookup(c.Version, r.Method, c.Readings); ok {
		return
	}
	record := t.record(r, c, rec, start, ip)
	if path, ok := t.tracked.Lookup(c.Version, r.Method, c.Readings); ok {
		record.Path, record.TrackPath = t.g.analyticsPaths.Path(path), true
	}
	if rec.detailed {
		rawReq, creds := rec.rawReq, rec.creds
		// The places credentials travel are hidden already; wherever else the key went (a
		// body, another header, an upstream echoing it back), it is hidden too, as a whole
		// word, in values only: never in a header name or the status line.
		// The credentials as sent too: a JWT, basic auth's encoded password or an HMAC signature
		// is not the key the session was found by, and an upstream may echo them back.
		if keys, ok := hiddenKeys(c.State.Token, creds); ok && !c.Secret {
			raw, body := rawReq, rec.reqBody.buf.Bytes()
			for _, key := range keys {
				raw, body = hideKeyInHead(raw, key, true), hideKey(body, key)
			}
			raw = append(raw, body...)
			resp := rec.rawResponse(keys)
			record.RawRequest = base64.StdEncoding.EncodeToString(raw)
			record.RawResponse = base64.StdEncoding.EncodeToString(resp)
			hidePathFields(record, keys)
		} else {
			record.RawRequest = base64.StdEncoding.EncodeToString([]byte(unhideable))
			record.RawResponse = record.RawRequest
			// Too many credentials to search for: the key at least (one, and a stored one).
			hidePathFields(record, []string{c.State.Token})
		}
	}
	if t.hook == nil {
		t.g.analytics.Record(record)
		return
	}
	// The plugin runs beside the request, not on it: the handler returns now, so a slow
	// plugin (one calling a slow service) holds back neither the end of the response (a
	// streamed one ends only when the handler returns) nor the connection's next request. Its
	// span starts here, below the request's, which stays the current one.
	hs := t.hookInfo.StartSpan(c.State)
	if hs != nil {
		c.State.Span = hs.Parent()
	}
	select {
	case t.g.analyticsHooks <- struct{}{}:
		go func() {
			defer func() { <-t.g.analyticsHooks }()
			t.runHook(record, hs)
		}()
	default:
		// As many plugin calls as maxAnalyticsHooks are running still: the plugins are slower
		// than the requests come, and the record is dropped, as when the writer is behind.
		if hs != nil {
			hs.EndHook(0, errAnalyticsHooksBusy)
		}
		t.g.analytics.Drop()
	}
}

// maxAnalyticsHooks bounds the analytics plugin calls running at once, all APIs together: past
// it, records are dropped rather than wait (or hold a goroutine and a record each) for a plugin
// that is slow or never returns.
const maxAnalyticsHooks = 256

var errAnalyticsHooksBusy = errors.New("the record was dropped: too many analytics plugin calls are running")

// hooksCloseTimeout bounds how long Close waits for the analytics plugin calls running.
const hooksCloseTimeout = 5 * time.Second

// waitAnalyticsHooks waits, for at most d, until no analytics plugin call runs, so that their
// records reach the sink before it closes; it takes every slot, so none starts after it (their
// records are dropped). A plugin that never returns is left running.
func (g *Gateway) waitAnalyticsHooks(d time.Duration) {
	g.hooksWaited.Do(func() {
		deadline := time.NewTimer(d)
		defer deadline.Stop()
		for range cap(g.analyticsHooks) {
			select {
			case g.analyticsHooks <- struct{}{}:
			case <-deadline.C:
				g.log.Warn("analytics plugin calls still running at shutdown; their records are dropped")
				return
			}
		}
	})
}

// runHook hands record to the API's analytics plugin, then queues it for the sink; hs is the
// call's span (nil when tracing is off).
func (t *tracker) runHook(record *sdk.AnalyticsRecord, hs *tracing.Span) {
	hstart := time.Now()
	err := callAnalytics(t.hook, record)
	if hs != nil {
		hs.EndHook(0, err)
	}
	if obs := t.hookInfo.Obs; obs != nil {
		obs.Call(time.Since(hstart), 0, err != nil)
	}
	if err != nil {
		// The plugin may have been masking the record: drop it rather than write it half done.
		t.g.log.Error("analytics plugin panicked; the record is dropped", "api_id", t.apiID, "symbol", t.hookInfo.Symbol,
			"file", t.hookInfo.File, "panic", err.Error())
		return
	}
	t.g.analytics.Record(record)
}

// dumpRequest returns the request's line and headers as sent on the wire, with the values of
// the headers and query parameters that may carry credentials replaced.
func (t *tracker) dumpRequest(r *http.Request) []byte {
	shown := *r
	shown.Header = r.Header.Clone()
	for _, h := range t.secretHeaders {
		if vs := shown.Header[h]; len(vs) > 0 {
			shown.Header[h] = []string{redacted}
		}
	}
	if len(t.secretParams) > 0 {
		// DumpRequest writes RequestURI, what the client sent, when it is set: auth may have
		// stripped a parameter from the URL (strip_auth_data) but not from it.
		u := *r.URL
		if r.RequestURI != "" {
			if sent, err := url.ParseRequestURI(r.RequestURI); err == nil {
				u.RawQuery = sent.RawQuery
			}
		}
		if u.RawQuery != "" {
			q := u.Query()
			changed := false
			for _, p := range t.secretParams {
				if _, ok := q[p]; ok {
					q[p] = []string{redacted}
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
				shown.URL = &u
				shown.RequestURI = u.RequestURI()
			}
		}
	}
	shown.Body = nil
	raw, _ := httputil.DumpRequest(&shown, false)
	return raw
}

// credentials returns the values of the places credentials travel in r (the API's auth headers
// and parameters, Authorization, Cookie's values): what detailed records hide wherever else
// they stand, as they hide the key. An Authorization value's scheme ("Bearer", "Basic") is left
// out, so that the credential alone is matched; a Basic one's decoded password is added, the
// secret a client may also put in a body or an upstream may echo as it is. Not its username: it
// names the user rather than proving who it is (the key stored under it is hidden as any key).
func (t *tracker) credentials(r *http.Request) []string {
	var out []string
	for _, h := range t.secretHeaders {
		if h == "Cookie" {
			// r.Cookies parses every Cookie line at once: once, not once per line (a request
			// of thousands of short Cookie lines would cost their square).
			for _, c := range r.Cookies() {
				out = append(out, c.Value)
			}
			continue
		}
		for _, v := range r.Header[h] {
			v = strings.TrimSpace(v)
			if scheme, cred, ok := strings.Cut(v, " "); ok && !strings.ContainsAny(scheme, "=,") {
				v = strings.TrimSpace(cred)
				if password, ok := basicPassword(scheme, v); ok {
					out = append(out, password)
				}
			}
			out = append(out, v)
		}
	}
	if len(t.secretParams) > 0 && r.URL.RawQuery != "" {
		q := r.URL.Query()
		for _, p := range t.secretParams {
			out = append(out, q[p]...)
		}
	}
	return out
}

// basicPassword returns the password of a Basic credential (base64 of user:password; the
// password is all after the first colon, as RFC 7617 allows colons in it), or false when the
// credential is not one.
func basicPassword(scheme, cred string) (string, bool) {
	if !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		// Unpadded: the gateway's basic auth refuses it, but an upstream may take it.
		if raw, err = base64.RawStdEncoding.DecodeString(cred); err != nil {
			return "", false
		}
	}
	_, password, ok := strings.Cut(string(raw), ":")
	return password, ok && password != ""
}

func callAnalytics(fn plugin.AnalyticsFunc, rec *sdk.AnalyticsRecord) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v\n%s", r, debug.Stack())
		}
	}()
	fn(rec)
	return nil
}

// version is the record's api_version: the version served, or "Non Versioned" as Tyk writes
// for an API that is not versioned.
func (t *tracker) version(c *chain.Context) string {
	if t.notVersioned || c.Version == "" {
		return "Non Versioned"
	}
	return c.Version
}

func (t *tracker) record(r *http.Request, c *chain.Context, rec *recorder, start time.Time, ip netip.Addr) *sdk.AnalyticsRecord {
	now := time.Now().UTC()
	total := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	ipText := ""
	if ip.IsValid() {
		ipText = ip.Unmap().String()
	}
	expire := expireAt(now, t.expireAfter)
	if t.g.cfg.EnforceOrgDataAge {
		expire = expireAt(now, t.g.orgDataAge(r.Context(), t.orgID, t.expireAfter))
	}
	out := &sdk.AnalyticsRecord{
		Method:        r.Method,
		Host:          r.Host,
		Path:          t.g.analyticsPaths.Path(c.FullPath),
		RawPath:       c.FullPath,
		ContentLength: r.ContentLength,
		UserAgent:     r.UserAgent(),
		Day:           now.Day(),
		Month:         now.Month(),
		Year:          now.Year(),
		Hour:          now.Hour(),
		ResponseCode:  status,
		APIKey:        c.KeyHash,
		TimeStamp:     now,
		APIVersion:    t.version(c),
		APIName:       t.apiName,
		APIID:         t.apiID,
		OrgID:         t.orgID,
		RequestTime:   total.Milliseconds(),
		IPAddress:     ipText,
		Latency: sdk.Latency{Total: total.Milliseconds(), Upstream: c.UpstreamTime.Milliseconds(),
			Gateway: max(total.Milliseconds()-c.UpstreamTime.Milliseconds(), 0)},
		ExpireAt:     expire,
		OriginalPath: c.FullPath,
		ListenPath:   t.listenPath,
	}
	// Tags in Tyk's order: the session's policies, its developer, its own tags, the values of
	// the API's tag_headers, the API's tags, then cached-response for an answer from the cache,
	// and trace-id-<id> for a traced request.
	if s := c.State.Session; s != nil {
		out.Alias, out.OauthID = s.Alias, s.OauthClientID
		for _, p := range s.PolicyIDs() {
			out.Tags = append(out.Tags, "pol-"+p)
		}
		if dev, ok := s.MetaData["tyk_developer_id"].(string); ok && dev != "" {
			out.Tags = append(out.Tags, "dev-"+dev)
		}
		out.Tags = append(out.Tags, s.Tags...)
	}
	for _, h := range t.tagHeaders {
		for _, v := range r.Header[h.name] {
			if h.secret {
				v = redacted
			}
			out.Tags = append(out.Tags, h.prefix+v)
		}
	}
	out.Tags = append(out.Tags, t.tags...)
	if c.CachedResponse {
		out.Tags = append(out.Tags, "cached-response")
	}
	if c.TraceID != "" {
		out.Tags = append(out.Tags, "trace-id-"+c.TraceID)
	}
	return out
}

// recorder notes the status of a response and, for detailed records, its headers and the start
// of its body.
type recorder struct {
	http.ResponseWriter
	status   int
	detailed bool
	header   http.Header
	// body and reqBody are the starts of the response's and the request's bodies.
	body, reqBody capped
	// rawReq is the request's head as a detailed record shows it, and creds the credentials
	// it carried, hidden wherever else they appear: both taken when the detail started. sent
	// are the credentials the request carried before the chain, when the detail may start later.
	rawReq      []byte
	creds, sent []string
	// teeing is set once the request's body is copied as it passes.
	teeing bool
}

// startDetail makes the request's record a detailed one from here on: its head as it is now,
// the credentials it carries, and its body and the response as they pass.
func (rw *recorder) startDetail(t *tracker, r *http.Request, c *chain.Context) {
	rw.detailed = true
	if rw.rawReq != nil {
		return // started before the chain and stopped by the org: the head and credentials taken then
	}
	rw.rawReq = t.dumpRequest(r)
	rw.creds = append(append(t.credentials(r), rw.sent...), t.upstreamSecrets...)
	if t.untracked != nil && rw.reqBody.skip == nil {
		// The bodies are copied as they pass, by then the endpoint is known (the version
		// step ran): one in do_not_track_endpoints has no record, so nothing to copy.
		skip := func() bool {
			_, ok := t.untracked.Lookup(c.Version, r.Method, c.Readings)
			return ok
		}
		rw.reqBody.skip, rw.body.skip = skip, skip
	}
	if !rw.teeing && r.Body != nil && r.Body != http.NoBody {
		rw.teeing = true
		r.Body = readCloser{io.TeeReader(r.Body, &rw.reqBody), r.Body}
	}
}

// detailSteps return the steps that decide again whether the request's record is detailed,
// as Tyk decides it when it records: the API's own setting (taken before the chain, and
// final), else the key's enable_detailed_recording, else with enforce_org_data_detailed_logging
// the org session's when the org has one, else analytics_config's. The org's step runs where
// the org is checked (before auth, so a request auth refuses follows it too), the key's after
// auth; ok is false for a step that could change nothing.
func (t *tracker) orgDetailStep() (s chain.Step, ok bool) {
	if !t.orgDecides() {
		return chain.Step{}, false
	}
	return chain.Step{Name: "detailed_recording", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		rec, ok := w.(*recorder)
		if !ok {
			return nil
		}
		// An org without a session (or one that cannot be read now) leaves the global setting.
		org, err := t.orgSession(r.Context())
		if err != nil {
			return nil
		}
		switch {
		case org.EnableDetailedRecording && !rec.detailed:
			rec.startDetail(t, r, c)
		case !org.EnableDetailedRecording && rec.detailed:
			rec.detailed = false // the response is not copied; the record is not detailed
		}
		return nil
	}}, true
}

// keyDetailStep: see orgDetailStep.
func (t *tracker) keyDetailStep() (s chain.Step, ok bool) {
	if !t.keyDecides() {
		return chain.Step{}, false
	}
	return chain.Step{Name: "detailed_recording", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if rec, ok := w.(*recorder); ok && !rec.detailed {
			if s := c.State.Session; s != nil && s.EnableDetailedRecording {
				rec.startDetail(t, r, c)
			}
		}
		return nil
	}}, true
}

// orgDecides reports whether the org's session may change whether a record is detailed.
func (t *tracker) orgDecides() bool {
	return t != nil && !t.apiDetailed && t.orgSession != nil
}

// keyDecides reports whether the key's session may: not on a keyless API, nor where the record
// is detailed already and nothing can undo it.
func (t *tracker) keyDecides() bool {
	return t != nil && t.keyed && !t.apiDetailed && !(t.detailed && t.orgSession == nil)
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
		if rw.detailed {
			rw.header = rw.Header().Clone()
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.detailed {
		rw.body.Write(b)
	}
	return rw.ResponseWriter.Write(b)
}

// Flush passes flushes on, for streamed responses.
func (rw *recorder) Flush() {
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController (and the proxy's upgrade handling) reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// rawResponse returns the response as written, with keys hidden in its header values and body,
// and the values of the cookies it sets (hiddenSetCookie).
func (rw *recorder) rawResponse(keys []string) []byte {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if h := rw.header; h != nil {
		if set := h["Set-Cookie"]; len(set) > 0 {
			h = h.Clone()
			shown := make([]string, len(set))
			for i, v := range set {
				shown[i] = hiddenSetCookie(v)
			}
			h["Set-Cookie"] = shown
		}
		_ = h.Write(&b)
	}
	b.WriteString("\r\n")
	head, body := b.Bytes(), rw.body.buf.Bytes()
	for _, key := range keys {
		head, body = hideKeyInHead(head, key, false), hideKey(body, key)
	}
	return append(head, body...)
}

// capped is a writer that keeps at most maxRecordedBody bytes and drops the rest; all of them
// when skip, asked at the first write, says the record will not be made.
type capped struct {
	buf  bytes.Buffer
	skip func() bool
	// decided is set at the first write, and skipping then with skip's answer.
	decided, skipping bool
}

func (c *capped) Write(p []byte) (int, error) {
	if !c.decided {
		c.decided = true
		c.skipping = c.skip != nil && c.skip()
	}
	if room := maxRecordedBody - c.buf.Len(); room > 0 && !c.skipping {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// hiddenSetCookie is a Set-Cookie value with the cookie's value replaced by redacted, its name
// and attributes kept ("session=[redacted]; Path=/; HttpOnly"): the cookies an upstream issues
// are credentials, as the client's Cookie values are. A value without a name is hidden whole.
func hiddenSetCookie(v string) string {
	pair, attrs, hasAttrs := strings.Cut(v, ";")
	name, _, ok := strings.Cut(pair, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return redacted
	}
	out := strings.TrimSpace(name) + "=" + redacted
	if hasAttrs {
		out += ";" + attrs
	}
	return out
}
