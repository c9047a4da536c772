// Package oauth is Tyk's OAuth 2.0 server for APIs with use_oauth2: the clients the Gateway API
// registers per API, the API's own endpoints ({listen_path}/oauth/token, /oauth/authorize,
// /oauth/revoke and /tyk/oauth/authorize-client/), and the bearer token check of its requests.
//
// An access token is a key like any other, stored through the session manager (hashed when
// hash_keys is on) with the client it was issued to (oauth_client_id) and an expiry, so rate
// limits, quotas, policies and the Gateway API's /tyk/keys work on it unchanged; on Redis every
// gateway of a fleet serves it. Clients, authorization codes and refresh tokens live in the same
// store: codes and refresh tokens under a SHA-256 of themselves, each usable once.
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// ErrNotFound is the answer for a client, code or refresh token the store does not hold.
var ErrNotFound = errors.New("oauth: not found")

// ErrChanged is returned by UpdateClient when the client changed since it was read.
var ErrChanged = errors.New("oauth: the client changed since it was read")

// Client is an OAuth 2.0 client of one API, as the Gateway API shows it (Tyk's field names).
type Client struct {
	ClientID    string          `json:"client_id"`
	Secret      string          `json:"secret"`
	RedirectURI string          `json:"redirect_uri"`
	APIID       string          `json:"api_id,omitempty"`
	PolicyID    string          `json:"policy_id,omitempty"`
	MetaData    json.RawMessage `json:"meta_data,omitempty"`
	Description string          `json:"description,omitempty"`

	// read is the client as Client read it from the store: UpdateClient writes only over it.
	read []byte
}

// MaxClientIDLength bounds a client id.
const MaxClientIDLength = 128

// ValidateClientID checks that id can name a client in Gateway API paths and store keys:
// letters, digits, '-', '_' and '.', at most MaxClientIDLength long.
func ValidateClientID(id string) error {
	if id == "" || len(id) > MaxClientIDLength {
		return fmt.Errorf("client_id: must be 1 to %d characters long", MaxClientIDLength)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("client_id: %q may hold only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// RedirectURIs returns the client's redirect URIs: its redirect_uri split on sep (the
// oauth_redirect_uri_separator), or the one when sep is empty.
func (c *Client) RedirectURIs(sep string) []string {
	if sep == "" {
		if c.RedirectURI == "" {
			return nil
		}
		return []string{c.RedirectURI}
	}
	var out []string
	for _, u := range strings.Split(c.RedirectURI, sep) {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Store keeps clients, authorization codes and refresh tokens in the gateway's store. API ids
// and client ids hold no ':' (apidef.ValidateAPIID, ValidateClientID), so the keys cannot
// collide.
type Store struct {
	KV storage.KV
}

const (
	clientPrefix  = "oauth-client:"
	codePrefix    = "oauth-code:"
	refreshPrefix = "oauth-refresh:"
)

func clientKey(apiID, clientID string) string { return clientPrefix + apiID + ":" + clientID }

// Client returns the client clientID of the API apiID, or ErrNotFound.
func (s Store) Client(ctx context.Context, apiID, clientID string) (*Client, error) {
	if ValidateClientID(clientID) != nil {
		return nil, ErrNotFound
	}
	raw, err := s.KV.Get(ctx, clientKey(apiID, clientID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var c Client
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("oauth: client %q of API %q does not decode: %w", clientID, apiID, err)
	}
	c.APIID, c.read = apiID, raw
	return &c, nil
}

// Clients returns the clients of the API apiID, in no particular order.
func (s Store) Clients(ctx context.Context, apiID string) ([]*Client, error) {
	prefix := clientPrefix + apiID + ":"
	keys, err := s.KV.Keys(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]*Client, 0, len(keys))
	for _, k := range keys {
		c, err := s.Client(ctx, apiID, strings.TrimPrefix(k, prefix))
		switch {
		case errors.Is(err, ErrNotFound):
			continue // deleted meanwhile
		case err != nil:
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// PutClient stores c as a client of c.APIID.
func (s Store) PutClient(ctx context.Context, c *Client) error {
	if err := ValidateClientID(c.ClientID); err != nil {
		return err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.KV.Set(ctx, clientKey(c.APIID, c.ClientID), raw, 0)
}

// UpdateClient stores c, a client read with Client and changed, only if the store still holds
// it as it was read, in one step no other writer can come between: a rotation or an update made
// meanwhile is never undone, nor a client deleted meanwhile written back. It returns ErrNotFound
// when the client was deleted since, ErrChanged when it changed since.
func (s Store) UpdateClient(ctx context.Context, c *Client) error {
	if c.read == nil {
		return errors.New("oauth: UpdateClient needs a client read with Client")
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := clientKey(c.APIID, c.ClientID)
	ok, err := s.KV.Replace(ctx, key, c.read, raw, 0)
	switch {
	case err != nil:
		return err
	case ok:
		c.read = raw
		return nil
	}
	switch _, err := s.KV.Get(ctx, key); {
	case errors.Is(err, storage.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return err // not written; whether it changed or went is unknown
	}
	return ErrChanged
}

// DeleteClient removes a client and reports whether it existed. The tokens issued to it stay
// stored until they expire, but no request is let in with them (Auth checks the client).
func (s Store) DeleteClient(ctx context.Context, apiID, clientID string) (bool, error) {
	if ValidateClientID(clientID) != nil {
		return false, nil
	}
	return s.KV.Delete(ctx, clientKey(apiID, clientID))
}

// grant is what an authorization code or a refresh token stands for.
type grant struct {
	APIID    string `json:"api_id"`
	ClientID string `json:"client_id"`
	// RedirectURI is the one the code was issued for: the token request must name it again.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// Rules is the session the tokens are made from (authorize-client's key_rules, or the
	// password grant's user), or empty for the client's policy.
	Rules json.RawMessage `json:"rules,omitempty"`
	// User names the basic auth user's key a password grant's tokens come from: a refresh
	// checks it again, and takes its rights as they are then.
	User  string `json:"user,omitempty"`
	Scope string `json:"scope,omitempty"`
	// Access is the key id (Token.ID) of the access token issued with a refresh token: using
	// the refresh token revokes it, as in Tyk.
	Access string `json:"access,omitempty"`
	// Expires is when the code or refresh token expires (Unix time): a grant put back after a
	// failed exchange keeps its end.
	Expires int64 `json:"expires,omitempty"`
}

// secretKey is where a code or refresh token is stored: under its SHA-256, so that what the
// store holds cannot be used as one.
func secretKey(prefix, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return prefix + hex.EncodeToString(sum[:])
}

func (s Store) putGrant(ctx context.Context, prefix, secret string, g *grant, ttl time.Duration) error {
	if g.Expires == 0 {
		g.Expires = time.Now().Add(ttl).Unix()
	}
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return s.KV.Set(ctx, secretKey(prefix, secret), raw, ttl)
}

// takeGrant returns the grant stored under secret and removes it: of two requests using the
// same code or refresh token at once, one gets it and the other ErrNotFound.
func (s Store) takeGrant(ctx context.Context, prefix, secret string) (*grant, error) {
	g, err := s.peekGrant(ctx, prefix, secret)
	if err != nil {
		return nil, err
	}
	existed, err := s.KV.Delete(ctx, secretKey(prefix, secret))
	if err != nil {
		return nil, err
	}
	if !existed {
		return nil, ErrNotFound
	}
	return g, nil
}

// restoreGrant puts back a grant takeGrant took, for what is left of its life, when what it
// was taken for failed on the store: the client may try again. Best effort: the store is
// failing.
func (s Store) restoreGrant(ctx context.Context, prefix, secret string, g *grant) {
	if left := time.Until(time.Unix(g.Expires, 0)); g.Expires > 0 && left > time.Second {
		_ = s.putGrant(ctx, prefix, secret, g, left)
	}
}

// peekGrant returns the grant stored under secret, leaving it.
func (s Store) peekGrant(ctx context.Context, prefix, secret string) (*grant, error) {
	if secret == "" || len(secret) > 512 {
		return nil, ErrNotFound
	}
	raw, err := s.KV.Get(ctx, secretKey(prefix, secret))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var g grant
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("oauth: a stored grant does not decode: %w", err)
	}
	return &g, nil
}

// The index of the tokens issued to each client, so that revoking a client's tokens (a deleted
// client, a changed policy, revoke_all) finds them all: an entry per access token, under its key
// id (Token.ID), and per refresh token, under its SHA-256, each living as long as its token.
const (
	tokenIndexPrefix   = "oauth-token:"
	refreshIndexPrefix = "oauth-refresh-of:"
	codeIndexPrefix    = "oauth-code-of:"
)

func indexPrefix(prefix, apiID, clientID string) string {
	return prefix + apiID + ":" + clientID + ":"
}

// Token is an access token in a client's index.
type Token struct {
	// ID names the token's key: its hash when keys are hashed, else the token.
	ID      string `json:"code"`
	Expires int64  `json:"expires"`
}

func (s Store) noteToken(ctx context.Context, apiID, clientID, id string, expires time.Time, ttl time.Duration) error {
	raw, _ := json.Marshal(Token{ID: id, Expires: expires.Unix()})
	return s.KV.Set(ctx, indexPrefix(tokenIndexPrefix, apiID, clientID)+id, raw, ttl)
}

// noteSecret indexes a refresh token or code (index: refreshIndexPrefix or codeIndexPrefix)
// under its SHA-256.
func (s Store) noteSecret(ctx context.Context, index, apiID, clientID, secret string, ttl time.Duration) error {
	sum := sha256.Sum256([]byte(secret))
	return s.KV.Set(ctx, indexPrefix(index, apiID, clientID)+hex.EncodeToString(sum[:]), []byte("1"), ttl)
}

// issuedBy reports whether the key id is an access token the API's client was issued.
func (s Store) issuedBy(ctx context.Context, apiID, clientID, id string) (bool, error) {
	_, err := s.KV.Get(ctx, indexPrefix(tokenIndexPrefix, apiID, clientID)+id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func (s Store) forgetToken(ctx context.Context, apiID, clientID, id string) error {
	_, err := s.KV.Delete(ctx, indexPrefix(tokenIndexPrefix, apiID, clientID)+id)
	return err
}

func (s Store) forgetSecret(ctx context.Context, index, apiID, clientID, secret string) error {
	sum := sha256.Sum256([]byte(secret))
	_, err := s.KV.Delete(ctx, indexPrefix(index, apiID, clientID)+hex.EncodeToString(sum[:]))
	return err
}

// RevokeAccess deletes the key token when the API's client clientID was issued it (its token
// index says so): another key, another client's or another API's token, is left alone. A token
// that names nothing is no error (RFC 7009).
func (s Store) RevokeAccess(ctx context.Context, keys Sessions, apiID, clientID, token string) error {
	id := keyID(keys, token)
	ours, err := s.issuedBy(ctx, apiID, clientID, id)
	if err != nil || !ours {
		return err
	}
	return s.dropToken(ctx, keys, apiID, clientID, id)
}

// RevokeRefresh deletes the refresh token when it was issued on the API, to clientID ("": to
// any of the API's clients), and reports whether it did.
func (s Store) RevokeRefresh(ctx context.Context, apiID, clientID, token string) (bool, error) {
	g, err := s.peekGrant(ctx, refreshPrefix, token)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case g.APIID != apiID || clientID != "" && g.ClientID != clientID:
		return false, nil
	}
	if _, err := s.takeGrant(ctx, refreshPrefix, token); err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	_ = s.forgetSecret(ctx, refreshIndexPrefix, apiID, g.ClientID, token)
	return true, nil
}

// Tokens returns the unexpired access tokens issued to a client.
func (s Store) Tokens(ctx context.Context, apiID, clientID string) ([]Token, error) {
	prefix := indexPrefix(tokenIndexPrefix, apiID, clientID)
	keys, err := s.KV.Keys(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(keys))
	for _, k := range keys {
		raw, err := s.KV.Get(ctx, k)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		var t Token
		if json.Unmarshal(raw, &t) == nil {
			t.ID = strings.TrimPrefix(k, prefix)
			out = append(out, t)
		}
	}
	return out, nil
}

// Sessions is what revoking tokens needs of the key store.
type Sessions interface {
	Delete(ctx context.Context, id session.ID) (bool, error)
	HashKeys() bool
}

// keyID is how the key store and the token index name the key of an access token: its hash
// when keys are hashed, else the token itself (Token.ID).
func keyID(keys Sessions, token string) string {
	if keys.HashKeys() {
		return session.HashKey(token)
	}
	return token
}

// dropToken deletes the key of an access token the index names by id (Token.ID), and its
// index entry.
func (s Store) dropToken(ctx context.Context, keys Sessions, apiID, clientID, id string) error {
	if _, err := keys.Delete(ctx, session.ID{Key: id, Hashed: keys.HashKeys()}); err != nil {
		return err
	}
	return s.forgetToken(ctx, apiID, clientID, id)
}

// RevokeTokens deletes the access tokens issued to a client (their keys and index entries) and,
// with refresh, its refresh tokens and authorization codes too.
func (s Store) RevokeTokens(ctx context.Context, keys Sessions, apiID, clientID string, refresh bool) error {
	tokens, err := s.Tokens(ctx, apiID, clientID)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if err := s.dropToken(ctx, keys, apiID, clientID, t.ID); err != nil {
			return err
		}
	}
	if !refresh {
		return nil
	}
	for _, kind := range [][2]string{{refreshIndexPrefix, refreshPrefix}, {codeIndexPrefix, codePrefix}} {
		prefix := indexPrefix(kind[0], apiID, clientID)
		keys, err := s.KV.Keys(ctx, prefix)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := s.KV.Delete(ctx, kind[1]+strings.TrimPrefix(k, prefix)); err != nil {
				return err
			}
			if _, err := s.KV.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateRedirectURIs checks a client's redirect_uri (split on sep): each an absolute URI
// without a fragment, of a scheme a browser can be sent back to an application with (not
// javascript:, data:, vbscript: or file:).
func ValidateRedirectURIs(redirect, sep string) error {
	c := Client{RedirectURI: redirect}
	for _, u := range c.RedirectURIs(sep) {
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("redirect_uri: %q is not a URI: %w", u, err)
		}
		switch strings.ToLower(p.Scheme) {
		case "":
			return fmt.Errorf("redirect_uri: %q is not absolute (no scheme)", u)
		case "javascript", "data", "vbscript", "file":
			return fmt.Errorf("redirect_uri: %q: the %s scheme cannot take a user back to an application", u, p.Scheme)
		}
		if p.Fragment != "" || strings.Contains(u, "#") {
			return fmt.Errorf("redirect_uri: %q must not have a fragment", u)
		}
	}
	return nil
}
