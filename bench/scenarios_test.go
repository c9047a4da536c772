package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// What a scenario derives must fit together: requests go to an API it defines, carry a key it
// stores (with access to that API), and the plugin's hooks are on that API.
func TestScenariosDeriveConsistentRequests(t *testing.T) {
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			defs := s.definitions("http://upstream.invalid", "bench.so")
			if want := max(s.apis, 1); len(defs) != want {
				t.Fatalf("%d definitions, want %d", len(defs), want)
			}
			i := slices.IndexFunc(defs, func(d *apidef.APIDefinition) bool { return d.Proxy.ListenPath == s.path() })
			if i < 0 {
				t.Fatalf("no API listens on the request path %q", s.path())
			}
			def := defs[i]
			if def.APIID != s.apiID() {
				t.Errorf("the request path %q is API %q's, apiID() says %q", s.path(), def.APIID, s.apiID())
			}
			if def.UseKeylessAccess == s.keyed {
				t.Errorf("keyless access %v on a scenario with keyed %v", def.UseKeylessAccess, s.keyed)
			}
			keys := s.keyNames()
			if !s.keyed {
				if len(keys) != 0 || s.header() != "" {
					t.Errorf("keyless scenario stores %d keys, sends %q", len(keys), s.header())
				}
			} else {
				key, ok := strings.CutPrefix(s.header(), "Authorization: ")
				if !ok || !slices.Contains(keys, key) {
					t.Errorf("header %q does not carry one of the %d stored keys", s.header(), len(keys))
				}
				if want := max(s.keys, 1); len(keys) != want {
					t.Errorf("%d keys, want %d", len(keys), want)
				}
				sess := s.session()
				if _, ok := sess.AccessRights[def.APIID]; !ok {
					t.Errorf("the key has no access to %q", def.APIID)
				}
				if data, _ := json.Marshal(sess.MetaData); len(data) < s.metaFields*1024 {
					t.Errorf("the key's meta_data is %d bytes, want at least %d", len(data), s.metaFields*1024)
				}
			}
			cm := def.CustomMiddleware
			if got := len(cm.Pre) + len(cm.Post) + len(cm.Response); got != len(s.hooks) {
				t.Errorf("%d hooks on the API, want %d (%v)", got, len(s.hooks), s.hooks)
			}
		})
	}
}

// Each Redis scenario is its twin on the memory store but for its store (and name and goal).
func TestRedisScenariosMirrorTheirTwins(t *testing.T) {
	byName := map[string]*scenario{}
	for _, s := range scenarios() {
		byName[s.name] = s
	}
	for twin, name := range map[string]string{"keyless": "keyless-redis", "keyed": "keyed-redis"} {
		r, m := byName[name], byName[twin]
		if r == nil || m == nil {
			t.Fatalf("no %s or %s scenario", name, twin)
		}
		if !r.redis || m.redis || r.storage() != "redis" || m.storage() != "memory" {
			t.Errorf("%s on %s, %s on %s", name, r.storage(), twin, m.storage())
		}
		if r.keyed != m.keyed || r.apis != m.apis || r.keys != m.keys || r.reloads != m.reloads || !slices.Equal(r.hooks, m.hooks) ||
			r.path() != m.path() || r.header() != m.header() || !strings.HasPrefix(r.desc, m.desc+", ") {
			t.Errorf("%s differs from %s: %+v vs %+v", name, twin, *r, *m)
		}
	}
	if g := byName["keyless-redis"].goal; g != (goal{"bare", 1.00}) {
		t.Errorf("keyless-redis goal %v", g)
	}
	if g := byName["keyed-redis"].goal; g != (goal{"bare", 0.80}) {
		t.Errorf("keyed-redis goal %v", g)
	}
}
