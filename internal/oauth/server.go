package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/session"
)

// Defaults of the gateway's oauth_* settings, Tyk's.
const (
	DefaultTokenExpire   = time.Hour
	DefaultRefreshExpire = 14 * 24 * time.Hour
	// CodeExpire is how long an authorization code lives (Tyk's OAuth library's default).
	CodeExpire = 250 * time.Second
	// DefaultErrorStatus is the status of the endpoints' OAuth errors.
	DefaultErrorStatus = http.StatusForbidden
	// maxForm bounds the body of a request to the endpoints.
	maxForm = 64 << 10
)

// The paths of an API's OAuth endpoints, relative to its listen path.
const (
	PathToken           = "/oauth/token"
	PathAuthorize       = "/oauth/authorize"
	PathRevoke          = "/oauth/revoke"
	PathRevokeAll       = "/oauth/revoke_all"
	PathAuthorizeClient = "/tyk/oauth/authorize-client"
)

// Users checks a basic auth user's password: the password grant's check.
type Users interface {
	// Verify returns the user's key and the name it is stored under.
	Verify(ctx context.Context, client netip.Addr, username, password string) (*apidef.SessionState, string, error)
}

// Server is the OAuth 2.0 server of one API.
type Server struct {
	APIID    string
	Meta     apidef.OAuthMeta
	Store    Store
	Sessions *session.Manager
	Policies policy.Set
	// Users checks the password grant's credentials; nil refuses the grant.
	Users Users
	// Secret is the Gateway API's secret, which {listen_path}/tyk/oauth/authorize-client/
	// asks for; "" refuses every request there.
	Secret string
	// TokenExpire and RefreshExpire are how long access and refresh tokens live (0: the
	// defaults); ErrorStatus is the status of OAuth errors (0: 403); RedirectSeparator
	// splits a client's redirect_uri into several.
	TokenExpire, RefreshExpire time.Duration
	ErrorStatus                int
	RedirectSeparator          string
	Now                        func() time.Time
	Log                        *slog.Logger
	// Notify, when set, is told of each token the token endpoint issues (Tyk's
	// notifications.oauth_on_keychange_url).
	Notify func(Notification)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) tokenExpire() time.Duration {
	if s.TokenExpire > 0 {
		return s.TokenExpire
	}
	return DefaultTokenExpire
}

func (s *Server) refreshExpire() time.Duration {
	if s.RefreshExpire > 0 {
		return s.RefreshExpire
	}
	return DefaultRefreshExpire
}

func (s *Server) errorStatus() int {
	if s.ErrorStatus != 0 {
		return s.ErrorStatus
	}
	return DefaultErrorStatus
}

// Endpoint returns the endpoint that serves rel, a canonical path relative to the API's
// listen path, or "" when rel is none of them. A trailing slash is allowed, as in Tyk.
func Endpoint(rel string) string {
	p := strings.TrimSuffix(rel, "/")
	switch p {
	case PathToken, PathAuthorize, PathRevoke, PathRevokeAll, PathAuthorizeClient:
		return p
	}
	return ""
}

// Step is the chain step that answers requests to the API's OAuth endpoints; other requests
// go on. It runs before the pre hooks and auth: a token request carries no token.
func (s *Server) Step() chain.Step {
	return chain.Step{Name: "oauth_endpoints", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		ep := Endpoint(c.Path)
		if ep == "" {
			return nil
		}
		c.Secret = true
		s.serve(w, r, ep, c.ClientIP)
		return chain.ErrHandled
	}}
}

// The OAuth errors of RFC 6749, with the descriptions Tyk's OAuth library gives them.
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
	errAccessDenied            = "access_denied"
	errServerError             = "server_error"
)

var descriptions = map[string]string{
	errInvalidRequest:          "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
	errInvalidClient:           "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
	errInvalidGrant:            "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
	errUnauthorizedClient:      "The client is not authorized to request a token using this method.",
	errUnsupportedGrantType:    "The authorization grant type is not supported by the authorization server.",
	errUnsupportedResponseType: "The authorization server does not support obtaining a token using this method.",
	errAccessDenied:            "The resource owner or authorization server denied the request.",
	errServerError:             "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
}

// oauthError is an answer of the token and authorize-client endpoints: {"error",
// "error_description"} with the server's error status. why goes to the log only.
type oauthError struct {
	code, state string
	why         error
}

func fail(code string, why error) *oauthError { return &oauthError{code: code, why: why} }

func (e *oauthError) Error() string { return e.code + ": " + e.why.Error() }

// writeJSON answers v with status and the headers Tyk's token endpoint sends.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, ep string, e *oauthError) {
	status := s.errorStatus()
	if e.code == errServerError && errors.Is(e.why, errUnavailable) {
		status = http.StatusServiceUnavailable
	}
	if s.Log != nil {
		s.Log.Debug("oauth: request refused", "api_id", s.APIID, "endpoint", ep, "error", e.code, "why", e.why.Error())
	}
	body := map[string]string{"error": e.code, "error_description": descriptions[e.code]}
	if e.state != "" {
		body["state"] = e.state
	}
	writeJSON(w, status, body)
}

// writeStatus answers Tyk's {"status", "message"} shape, which the authorize and revoke
// endpoints use.
func writeStatus(w http.ResponseWriter, status int, msg string) {
	st := "ok"
	if status >= 400 {
		st = "error"
	}
	writeJSON(w, status, map[string]string{"status": st, "message": msg})
}

// errUnavailable marks a store failure: the answer is 503, not an OAuth error the client would
// take as final.
var errUnavailable = errors.New("the store could not be reached")

func unavailable(err error) *oauthError {
	return fail(errServerError, fmt.Errorf("%w: %w", errUnavailable, err))
}

// grantError is the answer to a failed read of a code or refresh token: invalid_grant (why)
// when the store does not hold it, the store's failure otherwise.
func grantError(err error, why string) *oauthError {
	if errors.Is(err, ErrNotFound) {
		return fail(errInvalidGrant, errors.New(why))
	}
	return unavailable(err)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, ep string, client netip.Addr) {
	switch ep {
	case PathToken:
		if r.Method != http.MethodPost {
			if r.Method == http.MethodGet {
				s.writeError(w, r, ep, fail(errInvalidRequest, errors.New("a token request must be a POST")))
				return
			}
			writeStatus(w, http.StatusMethodNotAllowed, "Method not supported")
			return
		}
		if err := readForm(w, r); err != nil {
			s.writeError(w, r, ep, fail(errInvalidRequest, err))
			return
		}
		resp, oe := s.token(r, client)
		if oe != nil {
			s.writeError(w, r, ep, oe)
			return
		}
		writeJSON(w, http.StatusOK, resp)
		if s.Notify != nil {
			note := Notification{AuthCode: r.Form.Get("code"), NewOAuthToken: resp.AccessToken, RefreshToken: resp.RefreshToken,
				OldRefreshToken: r.Form.Get("refresh_token"), NotificationType: "new"}
			if note.OldRefreshToken != "" {
				note.NotificationType = "refresh"
			}
			s.Notify(note)
		}
	case PathAuthorize:
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			writeStatus(w, http.StatusMethodNotAllowed, "Method not supported")
			return
		}
		if err := readForm(w, r); err != nil {
			writeStatus(w, s.errorStatus(), descriptions[errInvalidRequest])
			return
		}
		s.authorize(w, r)
	case PathAuthorizeClient:
		if r.Method != http.MethodPost {
			writeStatus(w, http.StatusMethodNotAllowed, "Method not supported")
			return
		}
		if !s.gatewaySecret(r) {
			writeStatus(w, http.StatusForbidden, "Attempted administrative access with invalid or missing key!")
			return
		}
		if err := readForm(w, r); err != nil {
			s.writeError(w, r, ep, fail(errInvalidRequest, err))
			return
		}
		resp, oe := s.authorizeClient(r)
		if oe != nil {
			s.writeError(w, r, ep, oe)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	case PathRevoke:
		if r.Method != http.MethodPost {
			writeStatus(w, http.StatusMethodNotAllowed, "Method not supported")
			return
		}
		if err := readForm(w, r); err != nil {
			writeStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		s.revoke(w, r)
	case PathRevokeAll:
		if r.Method != http.MethodPost {
			writeStatus(w, http.StatusMethodNotAllowed, "Method not supported")
			return
		}
		if err := readForm(w, r); err != nil {
			writeStatus(w, http.StatusBadRequest, err.Error())
			return
		}
		s.revokeAll(w, r)
	}
}

// readForm parses the request's form: the query and a urlencoded body, or a flat JSON object
// of strings when the body is application/json (as Tyk takes it). The body is read up to
// maxForm.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return fmt.Errorf("reading the form: %w", err)
		}
		return nil
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		return errors.New("the JSON body is not an object of strings")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("reading the query: %w", err)
	}
	for k, v := range fields {
		q.Set(k, v)
	}
	r.Form = q
	return nil
}

// gatewaySecret reports whether the request carries the Gateway API's secret.
func (s *Server) gatewaySecret(r *http.Request) bool {
	if s.Secret == "" {
		return false
	}
	got := sha256.Sum256([]byte(r.Header.Get("X-Tyk-Authorization")))
	want := sha256.Sum256([]byte(s.Secret))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	TokenType    string `json:"token_type"`
}

// token serves the token endpoint.
func (s *Server) token(r *http.Request, addr netip.Addr) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	grantType := r.Form.Get("grant_type")
	if grantType == "" {
		return nil, fail(errInvalidRequest, errors.New("no grant_type"))
	}
	if !s.Meta.OAuthAllows(grantType) {
		return nil, fail(errUnsupportedGrantType, fmt.Errorf("grant_type %q is not in oauth_meta.allowed_access_types", grantType))
	}
	client, oe := s.authenticate(r)
	if oe != nil {
		return nil, oe
	}
	scope := r.Form.Get("scope")
	switch grantType {
	case apidef.OAuthGrantClientCredentials:
		return s.issue(ctx, client, grant{Scope: scope}, false)
	case apidef.OAuthGrantAuthorizationCode:
		code := r.Form.Get("code")
		if code == "" {
			return nil, fail(errInvalidGrant, errors.New("no code"))
		}
		g, err := s.Store.takeGrant(ctx, codePrefix, code)
		if err != nil {
			return nil, grantError(err, "the code is unknown, expired or used")
		}
		if g.APIID != s.APIID || g.ClientID != client.ClientID {
			return nil, fail(errInvalidGrant, errors.New("the code was issued to another client"))
		}
		redirect := r.Form.Get("redirect_uri")
		if redirect == "" {
			if uris := client.RedirectURIs(s.RedirectSeparator); len(uris) > 0 {
				redirect = uris[0]
			}
		}
		if redirect != g.RedirectURI {
			return nil, fail(errInvalidRequest, errors.New("redirect_uri is not the one the code was issued for"))
		}
		if scope == "" {
			scope = g.Scope
		}
		resp, oe := s.issue(ctx, client, grant{Rules: g.Rules, Scope: scope}, true)
		switch {
		case oe != nil && errors.Is(oe.why, errUnavailable):
			// The store failed: the code stays usable, so the client's retry is not final.
			s.Store.restoreGrant(ctx, codePrefix, code, g)
		case oe == nil:
			_ = s.Store.forgetSecret(ctx, codeIndexPrefix, s.APIID, client.ClientID, code)
		}
		return resp, oe
	case apidef.OAuthGrantRefreshToken:
		return s.refresh(ctx, client, r.Form.Get("refresh_token"), scope)
	case apidef.OAuthGrantPassword:
		username, password := r.Form.Get("username"), r.Form.Get("password")
		if username == "" || password == "" {
			return nil, fail(errInvalidGrant, errors.New("no username or password"))
		}
		if s.Users == nil {
			return nil, fail(errAccessDenied, errors.New("no basic auth users to check the password against"))
		}
		user, name, err := s.Users.Verify(ctx, addr, username, password)
		if err != nil {
			var ce *chain.Error
			if errors.As(err, &ce) && ce.Status == http.StatusServiceUnavailable {
				return nil, unavailable(err)
			}
			return nil, fail(errAccessDenied, err)
		}
		rules, oe := s.userRules(user)
		if oe != nil {
			return nil, oe
		}
		return s.issue(ctx, client, grant{Rules: rules, User: name, Scope: scope}, true)
	}
	return nil, fail(errUnsupportedGrantType, fmt.Errorf("grant_type %q", grantType))
}

// refresh serves the refresh_token grant: a new pair of tokens, the old ones revoked.
func (s *Server) refresh(ctx context.Context, client *Client, rt, scope string) (*tokenResponse, *oauthError) {
	if rt == "" {
		return nil, fail(errInvalidGrant, errors.New("no refresh_token"))
	}
	// Looked at before it is taken: another client's refresh token is not used up by a client
	// that cannot use it.
	g, err := s.Store.peekGrant(ctx, refreshPrefix, rt)
	if err != nil {
		return nil, grantError(err, "the refresh token is unknown, expired or used")
	}
	if g.APIID != s.APIID || g.ClientID != client.ClientID {
		return nil, fail(errInvalidClient, errors.New("the refresh token was issued to another client"))
	}
	rules := g.Rules
	if g.User != "" {
		// A password grant's tokens follow the user: one deleted, made inactive or expired
		// since gets no more, and the rights are the user's as they are now.
		user, err := s.Sessions.Get(ctx, session.ID{Key: g.User})
		switch {
		case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrBadID):
			return nil, fail(errInvalidGrant, errors.New("the refresh token's user is gone"))
		case err != nil:
			return nil, unavailable(err)
		}
		var oe *oauthError
		if rules, oe = s.userRules(user); oe != nil {
			oe.code = errInvalidGrant
			return nil, oe
		}
	}
	if scope == "" {
		scope = g.Scope
	}
	// The new pair is made before the refresh token is used up, so that a store failing on
	// the way leaves the client its refresh token to try again with; of two requests using it
	// at once, the one that does not get to take it gives its new pair up.
	resp, oe := s.issue(ctx, client, grant{Rules: rules, User: g.User, Scope: scope}, true)
	if oe != nil {
		return nil, oe
	}
	if g, err = s.Store.takeGrant(ctx, refreshPrefix, rt); err != nil {
		s.discard(ctx, client, resp)
		return nil, grantError(err, "the refresh token was used meanwhile")
	}
	_ = s.Store.forgetSecret(ctx, refreshIndexPrefix, s.APIID, client.ClientID, rt)
	// The access token it came with is revoked: a refresh replaces both.
	if g.Access != "" {
		if err := s.Store.dropToken(ctx, s.Sessions, s.APIID, client.ClientID, g.Access); err != nil && s.Log != nil {
			s.Log.Warn("oauth: the access token a refresh token replaced could not be deleted; it lives until it expires",
				"api_id", s.APIID, "client_id", client.ClientID, "error", err)
		}
	}
	return resp, nil
}

// discard takes back a pair of tokens issue made that the client will not get: best effort, as
// the store may be failing (the access token then lives until it expires, given to nobody).
func (s *Server) discard(ctx context.Context, client *Client, resp *tokenResponse) {
	_ = s.Store.dropToken(ctx, s.Sessions, s.APIID, client.ClientID, keyID(s.Sessions, resp.AccessToken))
	if resp.RefreshToken != "" {
		_, _ = s.Store.takeGrant(ctx, refreshPrefix, resp.RefreshToken)
		_ = s.Store.forgetSecret(ctx, refreshIndexPrefix, s.APIID, client.ClientID, resp.RefreshToken)
	}
}

// userRules returns the session a password grant's token is made from: the basic auth user's
// key without its password, when it is active, unexpired and gives access to this API.
func (s *Server) userRules(user *apidef.SessionState) (json.RawMessage, *oauthError) {
	if user.IsInactive {
		return nil, fail(errAccessDenied, errors.New("the user's key is inactive"))
	}
	if user.Expires > 0 && s.now().Unix() >= user.Expires {
		return nil, fail(errAccessDenied, errors.New("the user's key has expired"))
	}
	eff, err := s.Policies.Effective(user)
	if err != nil {
		return nil, fail(errAccessDenied, fmt.Errorf("the user's policies: %w", err))
	}
	if _, ok := eff.AccessRights[s.APIID]; !ok {
		return nil, fail(errAccessDenied, errors.New("the user has no access to this API"))
	}
	u := *user
	u.BasicAuthData = apidef.BasicAuthData{}
	u.OauthClientID = ""
	rules, err := json.Marshal(&u)
	if err != nil {
		return nil, fail(errServerError, err)
	}
	return rules, nil
}

// authenticate reads the client's credentials from the Basic authorization header (the only
// place Tyk reads them from) and checks them.
func (s *Server) authenticate(r *http.Request) (*Client, *oauthError) {
	id, secret, ok := r.BasicAuth()
	if !ok || id == "" {
		return nil, fail(errInvalidRequest, errors.New("no client credentials in a Basic authorization header"))
	}
	c, err := s.Store.Client(r.Context(), s.APIID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fail(errInvalidClient, errors.New("unknown client"))
	case err != nil:
		return nil, unavailable(err)
	}
	if c.Secret == "" || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return nil, fail(errInvalidClient, errors.New("wrong client secret"))
	}
	return c, nil
}

// issue makes an access token for client, and a refresh token with refresh, from what the grant
// brought: its session is from.Rules (a session's JSON) when given, else the client's policy;
// the client's meta data is added where the session has none, as in Tyk. A session that
// expires sooner than oauth_token_expire (key_rules', a user's) bounds both tokens.
func (s *Server) issue(ctx context.Context, client *Client, from grant, refresh bool) (*tokenResponse, *oauthError) {
	sess, oe := s.sessionFor(client, from.Rules)
	if oe != nil {
		return nil, oe
	}
	now := s.now()
	ttl, rttl := s.tokenExpire(), s.refreshExpire()
	if sess.Expires > 0 {
		left := time.Unix(sess.Expires, 0).Sub(now)
		if left <= 0 {
			return nil, fail(errAccessDenied, errors.New("the grant's key has expired"))
		}
		ttl, rttl = min(ttl, left), min(rttl, left)
	}
	sess.OauthClientID = client.ClientID
	sess.Expires = now.Add(ttl).Unix()
	sess.DateCreated = now.UTC()
	err := sess.Validate()
	if err == nil {
		err = endpoint.CheckPatterns(sess.AccessRights)
	}
	if err != nil {
		return nil, fail(errServerError, fmt.Errorf("the token's session is not valid: %w", err))
	}
	token := session.Generate(sess.OrgID)
	id := keyID(s.Sessions, token)
	// Indexed first: a token the index does not know could not be revoked with its client.
	if err := s.Store.noteToken(ctx, s.APIID, client.ClientID, id, now.Add(ttl), ttl); err != nil {
		return nil, unavailable(err)
	}
	if err := s.Sessions.Put(ctx, session.ID{Key: token}, sess, ttl); err != nil {
		_ = s.Store.forgetToken(ctx, s.APIID, client.ClientID, id)
		return nil, unavailable(err)
	}
	resp := &tokenResponse{AccessToken: token, ExpiresIn: int64(ttl / time.Second), TokenType: "bearer", Scope: from.Scope}
	if !refresh {
		return resp, nil
	}
	rt := randomToken()
	g := &grant{APIID: s.APIID, ClientID: client.ClientID, Rules: from.Rules, User: from.User, Scope: from.Scope, Access: id}
	if err := s.Store.noteSecret(ctx, refreshIndexPrefix, s.APIID, client.ClientID, rt, rttl); err != nil {
		s.discard(ctx, client, resp)
		return nil, unavailable(err)
	}
	if err := s.Store.putGrant(ctx, refreshPrefix, rt, g, rttl); err != nil {
		resp.RefreshToken = rt
		s.discard(ctx, client, resp)
		return nil, unavailable(err)
	}
	resp.RefreshToken = rt
	return resp, nil
}

// sessionFor returns the session a token of client is made from: rules when given, else one
// applying the client's policy.
func (s *Server) sessionFor(client *Client, rules json.RawMessage) (*apidef.SessionState, *oauthError) {
	var sess apidef.SessionState
	if len(rules) > 0 {
		if err := json.Unmarshal(rules, &sess); err != nil {
			return nil, fail(errServerError, fmt.Errorf("the grant's session does not decode: %w", err))
		}
	} else {
		if client.PolicyID == "" {
			return nil, fail(errServerError, errors.New("the client has no policy_id, and the grant brought no key_rules"))
		}
		p, ok := s.Policies[client.PolicyID]
		if !ok {
			return nil, fail(errServerError, fmt.Errorf("the client's policy %q is not loaded", client.PolicyID))
		}
		sess.OrgID = p.OrgID
		sess.ApplyPolicies = []string{client.PolicyID}
		sess.AccessRights = map[string]apidef.AccessDefinition{}
	}
	if len(client.MetaData) > 0 {
		var meta map[string]any
		if json.Unmarshal(client.MetaData, &meta) == nil && len(meta) > 0 {
			if sess.MetaData == nil {
				sess.MetaData = make(map[string]any, len(meta))
			}
			for k, v := range meta {
				if _, ok := sess.MetaData[k]; !ok {
					sess.MetaData[k] = v
				}
			}
		}
	}
	return &sess, nil
}

// randomToken is 32 random bytes, base64url without padding: a code or refresh token.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oauth: reading random bytes: " + err.Error()) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// redirectFor returns the redirect URI a request to authorize client asks for: the one it
// names, which must be one of the client's exactly, or the client's first.
func (s *Server) redirectFor(client *Client, asked string) (string, error) {
	uris := client.RedirectURIs(s.RedirectSeparator)
	if len(uris) == 0 {
		return "", errors.New("the client has no redirect_uri")
	}
	if asked == "" {
		return uris[0], nil
	}
	for _, u := range uris {
		if u == asked {
			return u, nil
		}
	}
	return "", errors.New("redirect_uri is not one of the client's")
}

// authorize serves {listen_path}/oauth/authorize: the request is checked (response type,
// client, redirect URI), then the user is sent to the login page (307), which approves the
// client through authorize-client.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	refuse := func(code string, why error) {
		if s.Log != nil {
			s.Log.Debug("oauth: authorize request refused", "api_id", s.APIID, "error", code, "why", why.Error())
		}
		writeStatus(w, s.errorStatus(), descriptions[code])
	}
	rt := r.Form.Get("response_type")
	if !s.Meta.OAuthAuthorizes(rt) {
		refuse(errUnsupportedResponseType, fmt.Errorf("response_type %q is not in oauth_meta.allowed_authorize_types", rt))
		return
	}
	client, err := s.Store.Client(r.Context(), s.APIID, r.Form.Get("client_id"))
	switch {
	case errors.Is(err, ErrNotFound):
		refuse(errUnauthorizedClient, errors.New("unknown client"))
		return
	case err != nil:
		writeStatus(w, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		return
	}
	if _, err := s.redirectFor(client, r.Form.Get("redirect_uri")); err != nil {
		refuse(errInvalidRequest, err)
		return
	}
	if s.Meta.AuthLoginRedirect == "" {
		writeStatus(w, http.StatusInternalServerError, "This API has no login page: set oauth_meta.auth_login_redirect")
		return
	}
	to := s.Meta.AuthLoginRedirect
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// authorizeClient serves {listen_path}/tyk/oauth/authorize-client/: the login page, having
// authenticated the user, approves the client and gets a code (or, for response_type token, an
// access token) to send the user back with. key_rules, a session's JSON, makes the tokens'
// session instead of the client's policy.
func (s *Server) authorizeClient(r *http.Request) (map[string]any, *oauthError) {
	ctx := r.Context()
	state := r.Form.Get("state")
	failState := func(code string, why error) *oauthError {
		e := fail(code, why)
		e.state = state
		return e
	}
	rt := r.Form.Get("response_type")
	if !s.Meta.OAuthAuthorizes(rt) {
		return nil, failState(errUnsupportedResponseType, fmt.Errorf("response_type %q is not in oauth_meta.allowed_authorize_types", rt))
	}
	client, err := s.Store.Client(ctx, s.APIID, r.Form.Get("client_id"))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, failState(errUnauthorizedClient, errors.New("unknown client"))
	case err != nil:
		return nil, unavailable(err)
	}
	redirect, err := s.redirectFor(client, r.Form.Get("redirect_uri"))
	if err != nil {
		return nil, failState(errInvalidRequest, err)
	}
	var rules json.RawMessage
	if kr := r.Form.Get("key_rules"); kr != "" {
		var sess apidef.SessionState
		if err := json.Unmarshal([]byte(kr), &sess); err != nil {
			return nil, failState(errInvalidRequest, fmt.Errorf("key_rules is not a key's JSON: %w", err))
		}
		err := sess.Validate()
		if err == nil {
			err = endpoint.CheckPatterns(sess.AccessRights)
		}
		if err != nil {
			return nil, failState(errInvalidRequest, fmt.Errorf("key_rules: %w", err))
		}
		if rules, err = json.Marshal(&sess); err != nil {
			return nil, fail(errServerError, err)
		}
	}
	scope := r.Form.Get("scope")
	back, err := url.Parse(redirect)
	if err != nil {
		return nil, failState(errInvalidRequest, fmt.Errorf("the client's redirect_uri: %w", err))
	}
	switch rt {
	case apidef.OAuthResponseCode:
		code := randomToken()
		g := &grant{APIID: s.APIID, ClientID: client.ClientID, RedirectURI: redirect, Rules: rules, Scope: scope}
		// Indexed first: a code the index does not know would outlive its client's deletion.
		if err := s.Store.noteSecret(ctx, codeIndexPrefix, s.APIID, client.ClientID, code, CodeExpire); err != nil {
			return nil, unavailable(err)
		}
		if err := s.Store.putGrant(ctx, codePrefix, code, g, CodeExpire); err != nil {
			return nil, unavailable(err)
		}
		q := back.Query()
		q.Set("code", code)
		if state != "" {
			q.Set("state", state)
		}
		back.RawQuery = q.Encode()
		return map[string]any{"code": code, "redirect_to": back.String()}, nil
	default: // token: the implicit grant, no refresh token
		resp, oe := s.issue(ctx, client, grant{Rules: rules, Scope: scope}, false)
		if oe != nil {
			oe.state = state
			return nil, oe
		}
		f := url.Values{"access_token": {resp.AccessToken}, "expires_in": {strconv.FormatInt(resp.ExpiresIn, 10)}, "token_type": {"bearer"}}
		if state != "" {
			f.Set("state", state)
		}
		back.Fragment, back.RawFragment = "", ""
		out := map[string]any{"access_token": resp.AccessToken, "expires_in": resp.ExpiresIn, "token_type": "bearer",
			"redirect_to": back.String() + "#" + f.Encode()}
		if scope != "" {
			out["scope"] = scope
		}
		return out, nil
	}
}

// revoke serves {listen_path}/oauth/revoke: the access or refresh token named is revoked, when
// this API's clients were issued it. As in Tyk, it needs no client credentials: holding a token
// is enough to give it up.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.Form.Get("token")
	if token == "" {
		writeStatus(w, http.StatusBadRequest, "token is required")
		return
	}
	hint := r.Form.Get("token_type_hint")
	if hint != "refresh_token" {
		if err := s.revokeAccess(ctx, token); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
			return
		}
	}
	if hint != "access_token" {
		if _, err := s.Store.RevokeRefresh(ctx, s.APIID, "", token); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
			return
		}
	}
	// The same answer whether the token existed or not (RFC 7009).
	writeStatus(w, http.StatusOK, "token revoked successfully")
}

// revokeAccess deletes the key token when this API's client was issued it (the client's token
// index says so): other keys, another API's tokens included, are no business of this endpoint.
func (s *Server) revokeAccess(ctx context.Context, token string) error {
	sess, err := s.Sessions.Get(ctx, session.ID{Key: token})
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrBadID):
		return nil
	case err != nil:
		return err
	}
	if sess.OauthClientID == "" {
		return nil
	}
	return s.Store.RevokeAccess(ctx, s.Sessions, s.APIID, sess.OauthClientID, token)
}

// revokeAll serves {listen_path}/oauth/revoke_all: a client, with its id and secret in the form,
// revokes every token it was issued. Answers are Tyk's.
func (s *Server) revokeAll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, secret := r.Form.Get("client_id"), r.Form.Get("client_secret")
	switch {
	case id == "":
		writeStatus(w, http.StatusUnauthorized, "client_id is required")
		return
	case secret == "":
		writeStatus(w, http.StatusUnauthorized, "client_secret is required")
		return
	}
	c, err := s.Store.Client(ctx, s.APIID, id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeStatus(w, http.StatusNotFound, "error getting oauth client")
		return
	case err != nil:
		writeStatus(w, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		return
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		writeStatus(w, http.StatusUnauthorized, "client secret is wrong")
		return
	}
	if err := s.Store.RevokeTokens(ctx, s.Sessions, s.APIID, c.ClientID, true); err != nil {
		writeStatus(w, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		return
	}
	writeStatus(w, http.StatusOK, "tokens revoked successfully")
}
