package secrets

import "testing"

func TestMatch(t *testing.T) {
	env := map[string]string{"TYK_SECRET_UPSTREAM_TOKEN": "tok", "TYK_SECRET_A.B-C": "dots"}
	r := New(map[string]string{"db": "pw", "x[1": "odd"}, func(k string) string { return env[k] })
	for _, tc := range []struct {
		in             string
		n              int
		value, missing string
		ok             bool
	}{
		{"$secret_env.upstream_token rest", 26, "tok", "", true},
		{"$secret_env.a.b-C/x", 17, "dots", "", true},
		{"$secret_conf.db;", 15, "pw", "", true},
		{"$secret_conf.x[1]", 16, "odd", "", true}, // Tyk's pattern takes '[' in a conf name
		{"$secret_env.unset", 17, "", "$secret_env.unset", true},
		{"$secret_conf.none", 17, "", "$secret_conf.none", true},
		{"$secret_env.", 0, "", "", false},
		{"$secret_vault.a", 0, "", "", false},
		{"$tyk_meta.a", 0, "", "", false},
	} {
		n, v, miss, ok := r.Match(tc.in)
		if n != tc.n || v != tc.value || miss != tc.missing || ok != tc.ok {
			t.Errorf("Match(%q) = %d %q %q %v, want %d %q %q %v", tc.in, n, v, miss, ok, tc.n, tc.value, tc.missing, tc.ok)
		}
	}
	var none *Resolver
	if n, v, miss, ok := none.Match("$secret_conf.db"); n != 15 || v != "" || miss != "$secret_conf.db" || !ok {
		t.Errorf("nil resolver: %d %q %q %v", n, v, miss, ok)
	}
	if got := Describe("$secret_env.up"); got != "$secret_env.up (environment variable TYK_SECRET_UP)" {
		t.Errorf("Describe = %q", got)
	}
}
