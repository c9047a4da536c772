package gateway_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestOverrideMessages: Tyk's override_messages change the key check's answers to a request
// without a key and to a token that is no key's, a basic auth user's name among them (it must
// answer as an unknown token does); other refusals keep theirs, and a key serves.
func TestOverrideMessages(t *testing.T) {
	t.Parallel()
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("keyed", "/keyed/", up.URL))
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{keyed}, Config: func(c *config.Config) {
		c.OverrideMessages = map[string]config.TykError{
			config.ErrAuthFieldMissing: {Code: 400, Message: "Send your API key in Authorization"},
			config.ErrAuthKeyNotFound:  {Code: 401, Message: "Unknown API key"},
		}
	}})
	key := g.CreateKey(&apidef.SessionState{AccessRights: access("keyed")})
	other := g.CreateKey(&apidef.SessionState{AccessRights: access("elsewhere")})
	body := `{"access_rights": {"keyed": {"api_id": "keyed", "versions": ["Default"]}}, "basic_auth_data": {"password": "correct horse battery"}}`
	if r := g.Do(gt.Case{Admin: true, Method: http.MethodPost, Path: "/tyk/keys/alice", Body: body}); r.Code != 200 {
		t.Fatalf("creating alice: %d %s", r.Code, r.Body)
	}
	auth := func(token string) map[string]string { return map[string]string{"Authorization": token} }
	g.Run(t,
		gt.Case{Name: "no key", Path: "/keyed/x", Code: 400, BodyMatch: jsonError("Send your API key in Authorization")},
		gt.Case{Name: "unknown key", Path: "/keyed/x", Headers: auth("no-such-key-at-all"), Code: 401, BodyMatch: jsonError("Unknown API key")},
		gt.Case{Name: "a basic auth user's name", Path: "/keyed/x", Headers: auth("alice"), Code: 401, BodyMatch: jsonError("Unknown API key")},
		gt.Case{Name: "a key for another API", Path: "/keyed/x", Headers: auth(other), Code: 403, BodyMatch: jsonError("Access to this API has been disallowed")},
		gt.Case{Name: "a key", Path: "/keyed/x", Headers: auth(key), Code: 200},
	)
}
