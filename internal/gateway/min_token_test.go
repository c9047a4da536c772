package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

const shortKeyBody = `{"access_rights": {"a": {"api_id": "a"}}}`

// TestMinTokenLength: as Tyk's min_token_length (default 3), a key cannot be created by a name
// shorter than it through the Gateway API (400 naming the minimum), and a shorter token names
// no key on requests, even one stored by a gateway that allowed it.
func TestMinTokenLength(t *testing.T) {
	up := gt.NewUpstream(t)
	apis := []*apidef.APIDefinition{gt.Keyed(gt.API("a", "/a/", up.URL))}
	create := func(g *gt.Gateway, name string) gt.Response {
		return g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/keys/" + name, Body: shortKeyBody})
	}
	call := func(g *gt.Gateway, token string) gt.Response {
		return g.Do(gt.Case{Path: "/a/x", Headers: map[string]string{"Authorization": token}})
	}
	t.Run("default", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: apis})
		for _, name := range []string{"z", "ab"} {
			gt.Check(t, gt.Case{Code: 400, BodyMatch: `^\{"status":"error","message":"a key name must be at least 3 bytes long \(min_token_length\)`}, create(g, name))
			gt.Check(t, gt.Case{Code: 403, BodyMatch: "Access to this API has been disallowed"}, call(g, name))
		}
		gt.Check(t, gt.Case{Code: 200}, create(g, "abc"))
		gt.Check(t, gt.Case{Code: 200}, call(g, "abc"))
	})
	t.Run("min_token_length 5", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) { c.MinTokenLength = 5 }})
		gt.Check(t, gt.Case{Code: 400, BodyMatch: "at least 5 bytes"}, create(g, "abcd"))
		gt.Check(t, gt.Case{Code: 200}, create(g, "abcde"))
		gt.Check(t, gt.Case{Code: 200}, call(g, "abcde"))
	})
	t.Run("min_token_length 1", func(t *testing.T) {
		g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) { c.MinTokenLength = 1 }})
		gt.Check(t, gt.Case{Code: 200}, create(g, "z"))
		gt.Check(t, gt.Case{Code: 200}, call(g, "z"))
	})
	// A key stored by a gateway allowing short names is no token for one that does not; the
	// Gateway API still reads, updates and deletes it.
	t.Run("fleet", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{})
		lax := gt.Start(t, gt.Options{APIs: apis, Redis: srv.Addr, Config: func(c *config.Config) { c.MinTokenLength = 1 }})
		strict := gt.Start(t, gt.Options{APIs: apis, Redis: srv.Addr})
		gt.Check(t, gt.Case{Code: 200}, create(lax, "z"))
		gt.Check(t, gt.Case{Code: 200}, call(lax, "z"))
		gt.Check(t, gt.Case{Code: 403, BodyMatch: "Access to this API has been disallowed"}, call(strict, "z"))
		gt.Check(t, gt.Case{Code: 200}, strict.Do(gt.Case{Admin: true, Path: "/tyk/keys/z"}))
		gt.Check(t, gt.Case{Code: 200}, strict.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/keys/z", Body: shortKeyBody}))
		gt.Check(t, gt.Case{Code: 200}, strict.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/z"}))
	})
}
