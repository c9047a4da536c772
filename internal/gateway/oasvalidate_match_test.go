package gateway_test

import (
	"strings"
	"testing"

	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// matchDoc is a keyless Tyk OAS API validating POST /pets (a strict body) and GET /pets/{id}
// (an integer id); LISTEN, UPSTREAM and IGNORECASE are replaced.
const matchDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Match", "version": "1"},
  "paths": {
    "/pets": {"post": {"operationId": "createPet",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {
        "type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {"name": {"type": "string"}}}}}},
      "responses": {"201": {"description": "created"}}}},
    "/pets/{id}": {"get": {"operationId": "getPet",
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "responses": {"200": {"description": "ok"}}}}
  },
  "x-tyk-api-gateway": {
    "info": {"id": "ID", "name": "Match", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "LISTEN", "strip": true}},
    "middleware": {
      "global": {"ignoreCase": {"enabled": IGNORECASE}},
      "operations": {
        "createPet": {"validateRequest": {"enabled": true}},
        "getPet": {"validateRequest": {"enabled": true, "errorResponseCode": 400}}
      }
    }
  }
}`

// TestOASValidateFindsEveryReading sends requests that the Classic endpoint matcher (the block
// lists, the per-endpoint middleware) reads as a validating operation, though they do not
// spell it as the document does: a lower-case method, HEAD for GET, matrix parameters that
// servlet containers strip, and, with ignoreCase, another case. Each must be validated (and
// refused), not forwarded unchecked.
func TestOASValidateFindsEveryReading(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	for _, api := range []struct{ id, listen, ignoreCase string }{
		{"exact", "/exact/", "false"},
		{"nocase", "/nocase/", "true"},
	} {
		g.WriteFile(api.id+".json", []byte(strings.NewReplacer("\"ID\"", `"`+api.id+`"`, "LISTEN", api.listen,
			"UPSTREAM", up.URL, "IGNORECASE", api.ignoreCase).Replace(matchDoc)))
	}
	g.Reload()
	js := map[string]string{"Content-Type": "application/json"}
	bad := `{"name": "Rex", "extra": 1}`
	g.Run(t,
		gt.Case{Name: "POST, bad body", Method: "POST", Path: "/exact/pets", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "POST, good body", Method: "POST", Path: "/exact/pets", Body: `{"name": "Rex"}`, Headers: js, Code: 200},
		gt.Case{Name: "lower-case method", Method: "post", Path: "/exact/pets", Body: bad, Headers: js, Code: 422,
			BodyMatch: `request validation error: request body has an error`},
		gt.Case{Name: "mixed-case method", Method: "Post", Path: "/exact/pets", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "lower-case method, path parameter", Method: "get", Path: "/exact/pets/abc", Code: 400,
			BodyMatch: `parameter \\"id\\" in path has an error`},
		gt.Case{Name: "HEAD is validated as GET", Method: "HEAD", Path: "/exact/pets/abc", Code: 400},
		gt.Case{Name: "HEAD, valid parameter", Method: "HEAD", Path: "/exact/pets/12", Code: 200},
		gt.Case{Name: "matrix parameter on the operation's path", Method: "POST", Path: "/exact/pets;a", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "matrix parameter with a value", Method: "POST", Path: "/exact/pets;jsessionid=1", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "matrix parameter, good body", Method: "POST", Path: "/exact/pets;a", Body: `{"name": "Rex"}`, Headers: js, Code: 200},
		gt.Case{Name: "matrix parameter before a parameter", Method: "GET", Path: "/exact/pets;a/abc", Code: 400},
		gt.Case{Name: "matrix parameter below a validating path", Method: "POST", Path: "/exact/pets;a/extra", Body: bad, Headers: js, Code: 422,
			BodyMatch: `no matching operation was found for request: POST /exact/pets;a/extra`},
		gt.Case{Name: "lower-case method below a validating path", Method: "post", Path: "/exact/pets/extra", Body: bad, Headers: js, Code: 422,
			BodyMatch: `no matching operation was found for request: POST /exact/pets/extra`},
		// Without ignoreCase, the Classic matcher does not read /PETS as /pets either.
		gt.Case{Name: "another case, case-sensitive API", Method: "POST", Path: "/exact/PETS", Body: bad, Headers: js, Code: 200},
		gt.Case{Name: "another case, ignoreCase", Method: "POST", Path: "/nocase/PETS", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "another case and a matrix parameter, ignoreCase", Method: "post", Path: "/nocase/Pets;a", Body: bad, Headers: js, Code: 422},
		gt.Case{Name: "another case, ignoreCase, path parameter", Method: "HEAD", Path: "/nocase/PETS/abc", Code: 400},
		gt.Case{Name: "another case, ignoreCase, good body", Method: "POST", Path: "/nocase/PETS", Body: `{"name": "Rex"}`, Headers: js, Code: 200},
	)
}
