package admin

import "testing"

// TestRedactKey: a key in /tyk/keys/{key} and a refresh token in /tyk/oauth/refresh/{token}
// never reach the log; other paths are logged as they are.
func TestRedactKey(t *testing.T) {
	for path, want := range map[string]string{
		"/tyk/keys/SECRETKEY":               "/tyk/keys/{key}",
		"/tyk/keys/create":                  "/tyk/keys/create",
		"/tyk/keys/":                        "/tyk/keys/",
		"/tyk/oauth/refresh/SECRETREFRESH1": "/tyk/oauth/refresh/{refresh_token}",
		"/tyk/oauth/clients/oa/c1":          "/tyk/oauth/clients/oa/c1",
		"/tyk/apis/a":                       "/tyk/apis/a",
	} {
		if got := redactKey(path); got != want {
			t.Errorf("redactKey(%s) = %s, want %s", path, got, want)
		}
	}
}
