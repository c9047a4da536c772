package oas

import (
	"strings"
	"testing"
)

// TestSchemeFieldOfWrongType: a security scheme's object in the extension is decoded with its
// errors reported. "enabled": "true" (a string) once read as off, so an API whose requirement
// names an API key and a JWT ran with the key alone.
func TestSchemeFieldOfWrongType(t *testing.T) {
	for _, c := range []struct{ name, scheme, ext string }{
		{"jwt", `"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}`, `"jwt": {"enabled": "true", "source": "c2VjcmV0", "signingMethod": "hmac"}`},
		{"basic", `"basic": {"type": "http", "scheme": "basic"}`, `"basic": {"enabled": true, "cacheTTL": "60"}`},
	} {
		doc, err := Parse([]byte(`{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "paths": {},
  "components": {"securitySchemes": {
    "tok": {"type": "apiKey", "in": "header", "name": "X-Key"},
    ` + c.scheme + `
  }},
  "security": [{"tok": [], "` + c.name + `": []}],
  "x-tyk-api-gateway": {
    "info": {"id": "t", "name": "t", "state": {"active": true}},
    "upstream": {"url": "http://up"},
    "server": {"listenPath": {"value": "/t/"}, "authentication": {"enabled": true, "securitySchemes": {
      "tok": {"enabled": true},
      ` + c.ext + `
    }}}
  }
}`))
		if err == nil {
			_, err = doc.Classic()
		}
		if err == nil || !strings.Contains(err.Error(), "securitySchemes."+c.name) {
			t.Errorf("%s: a scheme field of the wrong type gave %v, want an error naming securitySchemes.%s", c.name, err, c.name)
		}
	}
}
