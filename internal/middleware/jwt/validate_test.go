package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	jwtlib "github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
)

func claimsOf(t *testing.T, s string) jwtlib.MapClaims {
	t.Helper()
	var c jwtlib.MapClaims
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClaimChecks: Tyk's registered and custom claim checks, by their documented behaviour.
func TestClaimChecks(t *testing.T) {
	rules := func(r apidef.ClaimRule) apidef.JWTClaimValidation {
		return apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{"c": r}}
	}
	nested := apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{
		"user.profile.dept":        {Type: "exact_match", AllowedValues: []any{"Engineering"}},
		"permissions.1.resource":   {Type: "exact_match", AllowedValues: []any{"reports"}},
		`https://acme\.test/roles`: {Type: "contains", AllowedValues: []any{"admin"}},
	}}
	exact := rules(apidef.ClaimRule{Type: "exact_match", AllowedValues: []any{"admin", float64(42), true, []any{"a", "b"}}})
	contains := rules(apidef.ClaimRule{Type: "contains", AllowedValues: []any{"ENG", "write:api", float64(7)}})
	for _, tc := range []struct {
		name   string
		v      apidef.JWTClaimValidation
		claims string
		want   string // "" passes; else a part of the refusal
	}{
		{"issuer allowed", apidef.JWTClaimValidation{AllowedIssuers: []string{"a", "b"}}, `{"iss": "b"}`, ""},
		{"issuer not allowed", apidef.JWTClaimValidation{AllowedIssuers: []string{"a"}}, `{"iss": "A"}`, "iss claim"},
		{"issuer missing", apidef.JWTClaimValidation{AllowedIssuers: []string{"a"}}, `{}`, "iss claim"},
		{"issuer not a string", apidef.JWTClaimValidation{AllowedIssuers: []string{"1"}}, `{"iss": 1}`, "iss claim"},
		{"audience string", apidef.JWTClaimValidation{AllowedAudiences: []string{"api"}}, `{"aud": "api"}`, ""},
		{"audience list", apidef.JWTClaimValidation{AllowedAudiences: []string{"api"}}, `{"aud": ["web", "api"]}`, ""},
		{"audience list without", apidef.JWTClaimValidation{AllowedAudiences: []string{"api"}}, `{"aud": ["web"]}`, "aud claim"},
		{"audience missing", apidef.JWTClaimValidation{AllowedAudiences: []string{"api"}}, `{}`, "aud claim"},
		{"subject", apidef.JWTClaimValidation{AllowedSubjects: []string{"svc"}}, `{"sub": "svc"}`, ""},
		{"subject not allowed", apidef.JWTClaimValidation{AllowedSubjects: []string{"svc"}}, `{"sub": "user"}`, "sub claim"},
		{"jti present", apidef.JWTClaimValidation{RequireJTI: true}, `{"jti": ""}`, ""},
		{"jti missing", apidef.JWTClaimValidation{RequireJTI: true}, `{}`, "jti claim is missing"},
		{"jti null", apidef.JWTClaimValidation{RequireJTI: true}, `{"jti": null}`, "jti claim is missing"},

		{"required empty string", rules(apidef.ClaimRule{Type: "required"}), `{"c": ""}`, ""},
		{"required empty list", rules(apidef.ClaimRule{Type: "required"}), `{"c": []}`, ""},
		{"required false", rules(apidef.ClaimRule{Type: "required"}), `{"c": false}`, ""},
		{"required zero", rules(apidef.ClaimRule{Type: "required"}), `{"c": 0}`, ""},
		{"required null", rules(apidef.ClaimRule{Type: "required"}), `{"c": null}`, `claim c is missing`},
		{"required missing", rules(apidef.ClaimRule{Type: "required"}), `{}`, `claim c is missing`},

		{"exact string", exact, `{"c": "admin"}`, ""},
		{"exact case", exact, `{"c": "Admin"}`, `claim c fails its exact_match check`},
		{"exact number", exact, `{"c": 42.0}`, ""},
		{"exact type", exact, `{"c": "42"}`, "exact_match"},
		{"exact bool", exact, `{"c": true}`, ""},
		{"exact bool text", exact, `{"c": "true"}`, "exact_match"},
		{"exact whole list", exact, `{"c": ["a", "b"]}`, ""},
		{"exact part of list", exact, `{"c": ["a"]}`, "exact_match"},

		{"contains list", contains, `{"c": ["read:x", "write:api"]}`, ""},
		{"contains list number", contains, `{"c": [1, 7]}`, ""},
		{"contains list without", contains, `{"c": ["write:apis-not", "ENGINEERING"]}`, "contains"},
		{"contains substring", contains, `{"c": "ENG-BACKEND"}`, ""},
		{"contains substring without", contains, `{"c": "eng-backend"}`, "contains"},
		{"contains number as text", contains, `{"c": 1725}`, ""},
		{"contains object as text", contains, `{"c": {"team": "ENG"}}`, ""},

		{"nested all pass", nested, `{"user": {"profile": {"dept": "Engineering"}}, "permissions": [{"resource": "users"}, {"resource": "reports"}],
			"https://acme.test/roles": ["admin"]}`, ""},
		{"nested missing", nested, `{"user": {}, "permissions": [{"resource": "users"}, {"resource": "reports"}], "https://acme.test/roles": ["admin"]}`,
			`claim user.profile.dept is missing`},
		{"index out of range", nested, `{"user": {"profile": {"dept": "Engineering"}}, "permissions": [{"resource": "reports"}], "https://acme.test/roles": ["admin"]}`,
			`claim permissions.1.resource is missing`},
		{"index not canonical", apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{"p.01": {Type: "required"}}}, `{"p": [1, 2]}`, `claim p.01 is missing`},
		// As gjson reads paths: a top-level claim named with a dot never stands in for the
		// nested one a rule names.
		{"a dotted name does not stand in", apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{"user.role": {Type: "exact_match", AllowedValues: []any{"admin"}}}},
			`{"user": {"role": "guest"}, "user.role": "admin"}`, `claim user.role fails its exact_match check`},
		{"an unescaped namespaced claim is a path", apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{"https://acme.test/roles": {Type: "required"}}},
			`{"https://acme.test/roles": ["admin"]}`, `is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newClaimChecks(tc.v, nil).check(claimsOf(t, tc.claims), time.Now())
			if tc.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			var ce *chain.Error
			if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized || !strings.Contains(ce.Message, tc.want) ||
				!strings.HasPrefix(ce.Message, "Key not authorized: ") || ce.Flag != "TCV" {
				t.Errorf("err = %#v, want 401 TCV saying %q", err, tc.want)
			}
		})
	}
}

// TestClaimChecksNonBlocking: a non-blocking check that fails lets the token through and warns,
// at most once every warnEvery, with how many failed meanwhile; blocking checks still refuse.
func TestClaimChecksNonBlocking(t *testing.T) {
	var logs bytes.Buffer
	c := newClaimChecks(apidef.JWTClaimValidation{Custom: map[string]apidef.ClaimRule{
		"team": {Type: "required", NonBlocking: true},
		"role": {Type: "exact_match", AllowedValues: []any{"admin"}},
	}}, slog.New(slog.NewTextHandler(&logs, nil)))
	now := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		if err := c.check(claimsOf(t, `{"role": "admin"}`), now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("a non-blocking failure refused the token: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "non-blocking claim check"); n != 1 || !strings.Contains(logs.String(), `claim team is missing`) {
		t.Errorf("five failures within warnEvery logged %d times:\n%s", n, logs.String())
	}
	if err := c.check(claimsOf(t, `{"role": "admin"}`), now.Add(warnEvery+time.Second)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "also_failed_since_last_warning=4") {
		t.Errorf("the second warning does not count the four in between:\n%s", logs.String())
	}
	if err := c.check(claimsOf(t, `{"role": "editor"}`), now); err == nil {
		t.Error("a blocking check passed a token it should refuse")
	}
}
