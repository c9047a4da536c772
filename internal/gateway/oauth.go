package gateway

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/middleware/basicauth"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// oauthRuntime is the compiled OAuth 2.0 server of an API with use_oauth2: its endpoints and
// its bearer token check.
type oauthRuntime struct {
	server *oauth.Server
	auth   *oauth.Auth
}

// compileOAuth compiles the OAuth 2.0 server of def, nil when it has none.
func (g *Gateway) compileOAuth(def *apidef.APIDefinition, pols policy.Set) (*oauthRuntime, error) {
	if !def.UseOauth2 || def.UseKeylessAccess {
		return nil, nil
	}
	store := oauth.Store{KV: g.store}
	srv := &oauth.Server{
		APIID:             def.APIID,
		Meta:              def.OAuthMeta,
		Store:             store,
		Sessions:          g.sessions,
		Policies:          pols,
		TokenExpire:       time.Duration(g.cfg.OAuthTokenExpire) * time.Second,
		RefreshExpire:     time.Duration(g.cfg.OAuthRefreshExpire) * time.Second,
		ErrorStatus:       g.cfg.OAuthErrorStatusCode,
		RedirectSeparator: g.cfg.OAuthRedirectURISeparator,
		Now:               g.now,
		Log:               g.log,
	}
	// authorize-client asks for the Gateway API's secret, when that one can protect it.
	if g.cfg.SecretProblem() == "" {
		srv.Secret = g.cfg.Secret
	}
	if len(def.OAuthMeta.AllowedAccessTypes) == 0 {
		g.log.Warn("oauth: oauth_meta.allowed_access_types is empty, so the token endpoint refuses every grant "+
			"(unsupported_grant_type); list client_credentials, authorization_code, refresh_token or password", "api_id", def.APIID)
	}
	if n := def.Notifications; n.OAuthKeyChangeURL != "" {
		// The id, not def: the compiled API does not keep its decoded definition (describe).
		apiID := def.APIID
		srv.Notify = func(note oauth.Notification) { g.notifier.Send(apiID, n.OAuthKeyChangeURL, n.SharedSecret, note) }
	}
	if def.OAuthMeta.OAuthAllows(apidef.OAuthGrantPassword) {
		// The password grant checks basic auth users as basic auth does (lookups, hashes,
		// lockouts), under this API's org.
		users, err := basicauth.New(def, basicauth.Options{Sessions: g.sessions, Policies: pols, Now: g.now, Limiter: g.basicFailures})
		if err != nil {
			return nil, fmt.Errorf("oauth password grant: %w", err)
		}
		srv.Users = users
	}
	a := oauth.NewAuth(def, oauth.Auth{
		Sessions:      g.sessions,
		Policies:      pols,
		Store:         store,
		Missing:       overrideReply(g.cfg, config.ErrOAuthFieldMissing, oauth.DefaultMissing),
		Malformed:     overrideReply(g.cfg, config.ErrOAuthFieldMalformed, oauth.DefaultMalformed),
		NotFound:      overrideReply(g.cfg, config.ErrOAuthKeyNotFound, oauth.DefaultNotFound),
		ClientDeleted: overrideReply(g.cfg, config.ErrOAuthClientDeleted, oauth.DefaultClientDeleted),
		Now:           g.now,
	})
	return &oauthRuntime{server: srv, auth: a}, nil
}
