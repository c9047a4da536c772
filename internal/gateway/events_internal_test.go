package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// TestRequestEvent: the event a refusal fires, and its message, as Tyk's: every auth step's
// refusal is an AuthFailure (HMAC's and JWT's 400s too), but not a request that carries no
// credential for key, basic or OAuth auth, whatever override_messages made of its message; an
// inactive key is KeyExpired; steps decide, not messages (override_messages changes those), the
// inner step's in multi-auth.
func TestRequestEvent(t *testing.T) {
	noCreds := fmt.Errorf("%w: no auth token", chain.ErrNoCredentials)
	for _, c := range []struct {
		name, step string
		err        error
		typ, msg   string
	}{
		{"unknown key", "auth_key", chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, nil), "AuthFailure", "Auth Failure"},
		{"no key", "auth_key", chain.Errorf(http.StatusUnauthorized, chain.MsgAuthFieldMissing, noCreds), "", ""},
		{"no key, message overridden", "auth_key", chain.Errorf(http.StatusUnauthorized, "Please send a key", noCreds), "", ""},
		{"no user", "auth_basic", chain.Errorf(http.StatusUnauthorized, chain.MsgAuthFieldMissing, noCreds), "", ""},
		{"bad signature", "auth_hmac", chain.Errorf(http.StatusBadRequest, "Request signature is invalid", nil), "AuthFailure", "Auth Failure"},
		{"no JWT", "auth_jwt", chain.Errorf(http.StatusBadRequest, chain.MsgAuthFieldMissing, errors.New("no JWT")), "AuthFailure", "Auth Failure"},
		{"bound key without its certificate", "certificate_binding", chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, nil), "AuthFailure", "Auth Failure"},
		{"store down", "auth_key", chain.Errorf(http.StatusServiceUnavailable, "Service Unavailable", nil), "", ""},
		{"expired", "key_expired", chain.Errorf(http.StatusUnauthorized, chain.MsgKeyExpired, nil), "KeyExpired", "Attempted access from expired key."},
		{"inactive", "key_expired", chain.Errorf(http.StatusForbidden, chain.MsgKeyInactive, nil), "KeyExpired", "Attempted access from inactive key."},
		{"rate", "rate_limit_quota", chain.Errorf(http.StatusTooManyRequests, chain.MsgRateLimitExceeded, nil), "RatelimitExceeded", "Key Rate Limit Exceeded"},
		{"quota", "rate_limit_quota", chain.Errorf(http.StatusForbidden, chain.MsgQuotaExceeded, nil), "QuotaExceeded", "Key Quota Limit Exceeded"},
		{"not an auth step", "access_rights", chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, nil), "", ""},
		{"a plugin's answer", "pre", chain.ErrHandled, "", ""},
		{"API rate limit", "api_rate_limit", chain.Errorf(http.StatusTooManyRequests, chain.MsgAPIRateLimit, nil), "RatelimitExceeded", "API Rate Limit Exceeded"},
		{"unknown key, its message overridden to a limit's", "auth_key", chain.Errorf(http.StatusForbidden, chain.MsgRateLimitExceeded, nil), "AuthFailure", "Auth Failure"},
		{"unknown key, its message overridden to expiry's", "auth_key", chain.Errorf(http.StatusForbidden, chain.MsgKeyExpired, nil), "AuthFailure", "Auth Failure"},
		{"multi-auth: the key's access rights", "auth_all", chain.InStep("access_rights", chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, nil)), "", ""},
		{"multi-auth: an expired key", "auth_all", chain.InStep("key_expired", chain.Errorf(http.StatusUnauthorized, chain.MsgKeyExpired, nil)), "KeyExpired", "Attempted access from expired key."},
		{"multi-auth: an unknown key", "auth_all", chain.Errorf(http.StatusForbidden, chain.MsgAccessDisallowed, nil), "AuthFailure", "Auth Failure"},
		{"malformed basic auth", "auth_basic", chain.Errorf(http.StatusBadRequest, "Attempted access with malformed header.", noCreds), "", ""},
	} {
		typ, msg := requestEvent(c.step, c.err)
		if typ != c.typ || msg != c.msg {
			t.Errorf("%s: %q %q, want %q %q", c.name, typ, msg, c.typ, c.msg)
		}
	}
}
