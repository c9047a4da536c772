package gateway_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// notesDoc is a keyless Tyk OAS document for the Gateway API; ID, LISTEN, UPSTREAM and OPS (the
// entries of middleware.operations after ping's) are replaced.
const notesDoc = `{
  "openapi": "3.0.3",
  "info": {"title": "Notes", "version": "1"},
  "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "pong"}}}}},
  "x-tyk-api-gateway": {
    "info": {"id": "ID", "name": "Notes", "state": {"active": true}},
    "upstream": {"url": "UPSTREAM"},
    "server": {"listenPath": {"value": "LISTEN", "strip": true}SERVER},
    "middleware": {"operations": {"ping": {"ignoreAuthentication": {"enabled": false}}OPS}}
  }
}`

func notesDocFor(id, listen, upstream, server, ops string) string {
	return strings.NewReplacer(`"ID"`, `"`+id+`"`, "LISTEN", listen, "UPSTREAM", upstream, "SERVER", server, "OPS", ops).Replace(notesDoc)
}

// TestOASPairNotes creates an OAS API through the Gateway API (Tyk's pair of files in
// app_path) whose document sets a field Gatehouse does not know (server.clientCertificate, a
// typo for clientCertificates: mTLS silently off) and an operation entry no path has: the
// answer lists both, and the reload that serves the API logs them, as for a lone document.
func TestOASPairNotes(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	body := notesDocFor("typo", "/typo/", up.URL, `, "clientCertificate": {"enabled": true, "allowlist": ["abc"]}`,
		`, "gone": {"ignoreAuthentication": {"enabled": true}}`)
	// Context variables nothing uses: inert in the Classic form the document maps to.
	body = strings.Replace(body, `"middleware": {`, `"middleware": {"global": {"contextVariables": {"enabled": true}}, `, 1)
	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: body})
	var answer struct {
		Key, Status, Action string
		Notes               []string
	}
	if r.Code != 200 || json.Unmarshal([]byte(r.Body), &answer) != nil || answer.Key != "typo" || answer.Action != "added" {
		t.Fatalf("POST /tyk/apis/oas = %d %s", r.Code, r.Body)
	}
	notes := strings.Join(answer.Notes, "\n")
	for _, want := range []string{"x-tyk-api-gateway.server.clientCertificate", `middleware.operations.gone (no operation in paths has this operationId`, "enable_context_vars (no header transform"} {
		if !strings.Contains(notes, want) {
			t.Errorf("the answer's notes lack %q:\n%s", want, r.Body)
		}
	}
	for _, f := range []string{"typo.json", "typo-oas.json"} {
		if _, err := os.Stat(filepath.Join(g.AppPath, f)); err != nil {
			t.Fatalf("the Gateway API did not write Tyk's pair: %v", err)
		}
	}
	r = g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/oas/typo", Body: body})
	if r.Code != 200 || !strings.Contains(r.Body, "x-tyk-api-gateway.server.clientCertificate") {
		t.Errorf("PUT /tyk/apis/oas/typo = %d %s, want the notes", r.Code, r.Body)
	}

	g.Reload()
	g.Run(t, gt.Case{Name: "the pair serves", Path: "/typo/ping", Code: 200})
	logs := g.Logs()
	for _, want := range []string{
		`msg="API definition sets fields Gatehouse ignores" api_id=typo fields=x-tyk-api-gateway.server.clientCertificate`,
		`msg="API definition sets a field that has no effect" api_id=typo field="middleware.operations.gone (no operation in paths has this operationId`,
		`msg="API definition sets a field that has no effect" api_id=typo field="enable_context_vars (no header transform`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}

	// A clean document gets no notes.
	r = g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: notesDocFor("clean", "/clean/", up.URL, "", "")})
	if r.Code != 200 || strings.Contains(r.Body, "notes") {
		t.Errorf("POST a clean document = %d %s, want no notes", r.Code, r.Body)
	}
}

// TestOASGuardWithoutOperationRefused: a guard (block, allow, internal, validateRequest,
// requestSizeLimit, rateLimit) enabled on an operationId no path has would guard
// nothing (Tyk ignores it without a word): the Gateway API refuses it with a 400 naming the
// operationId, and a pair of files in app_path holding one is not served. Disabled, or a
// setting that fails closed (ignoreAuthentication), it is only noted.
func TestOASGuardWithoutOperationRefused(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	for _, tc := range []struct{ name, ops string }{
		{"block", `"delPet": {"block": {"enabled": true}}`},
		{"allow", `"delPet": {"allow": {"enabled": true}}`},
		{"internal", `"delPet": {"internal": {"enabled": true}}`},
		{"validateRequest", `"delPet": {"validateRequest": {"enabled": true}}`},
		{"requestSizeLimit", `"delPet": {"requestSizeLimit": {"enabled": true, "value": 10}}`},
		{"rateLimit", `"delPet": {"rateLimit": {"enabled": true, "rate": 1, "per": "1s"}}`},
	} {
		g.Run(t, gt.Case{Name: tc.name, Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: notesDocFor("orphan", "/orphan/", up.URL, "", ", "+tc.ops), Code: 400,
			BodyMatch: `middleware.operations.delPet.` + tc.name + ` is enabled, but no operation in paths has operationId \\"delPet\\"`})
	}
	// Thousands of them: the refusal names the first 50 and counts the rest.
	var many strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&many, `, "gone%04d": {"block": {"enabled": true}}`, i)
	}
	r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: notesDocFor("many", "/many/", up.URL, "", many.String())})
	if r.Code != 400 || !strings.Contains(r.Body, "and 1950 more") || len(r.Body) > 10<<10 {
		t.Errorf("2,000 unanchored guards: %d, %d bytes, want 400 naming 50 and counting the rest:\n%.500s", r.Code, len(r.Body), r.Body)
	}
	g.Run(t,
		gt.Case{Name: "disabled: noted only", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: notesDocFor("off", "/off/", up.URL, "", `, "delPet": {"block": {"enabled": false}}`), Code: 200,
			BodyMatch: `middleware.operations.delPet \(no operation in paths`},
		gt.Case{Name: "failing closed: noted only", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: notesDocFor("closed", "/closed/", up.URL, "", `, "delPet": {"ignoreAuthentication": {"enabled": true}}`), Code: 200},
		// A mock guards nothing: without its operation the request goes upstream.
		gt.Case{Name: "a mock: noted only", Admin: true, Method: "POST", Path: "/tyk/apis/oas",
			Body: notesDocFor("mocked", "/mocked/", up.URL, "", `, "delPet": {"mockResponse": {"enabled": true, "code": 200}}`), Code: 200,
			BodyMatch: `middleware.operations.delPet \(no operation in paths`},
	)

	// A pair of files (as Tyk or an older Gatehouse wrote it) with one is refused at load.
	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/off"}); r.Code != 200 {
		t.Fatalf("GET /tyk/apis/off = %d %s", r.Code, r.Body)
	} else {
		g.WriteFile("pair.json", []byte(strings.ReplaceAll(strings.ReplaceAll(r.Body, `"off"`, `"pair"`), "/off/", "/pair/")))
	}
	g.WriteFile("pair-oas.json", []byte(notesDocFor("pair", "/pair/", up.URL, "", `, "delPet": {"validateRequest": {"enabled": true}}`)))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "the pair is not served", Path: "/pair/ping", Code: 404},
		gt.Case{Name: "the others are", Path: "/off/ping", Code: 200},
	)
	if logs := g.Logs(); !strings.Contains(logs, `api_id=pair`) || !strings.Contains(logs, `middleware.operations.delPet.validateRequest is enabled, but no operation in paths has operationId \"delPet\"`) {
		t.Errorf("the log does not say why the pair was refused:\n%s", logs)
	}
}
