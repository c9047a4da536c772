package gateway_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// appFiles returns every file in the gateway's app_path by name with its content.
func appFiles(t *testing.T, g *gt.Gateway) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(g.AppPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(g.AppPath, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// sameFiles fails t when app_path is not byte for byte as before.
func sameFiles(t *testing.T, g *gt.Gateway, before map[string]string, after string) {
	t.Helper()
	now := appFiles(t, g)
	if maps.Equal(now, before) {
		return
	}
	for name, was := range before {
		if got, ok := now[name]; !ok {
			t.Errorf("after %s: %s is gone", after, name)
		} else if got != was {
			t.Errorf("after %s: %s changed to %s", after, name, got)
		}
	}
	for name := range now {
		if _, ok := before[name]; !ok {
			t.Errorf("after %s: %s was written", after, name)
		}
	}
}

// refused sends a Gateway API write and checks that it gets a 400 whose message says each of want.
func refused(t *testing.T, g *gt.Gateway, method, path, body string, want ...string) {
	t.Helper()
	r := g.Do(gt.Case{Admin: true, Method: method, Path: path, Body: body})
	var reply struct{ Status, Message string }
	if r.Code != 400 || json.Unmarshal([]byte(r.Body), &reply) != nil || reply.Status != "error" {
		t.Errorf("%s %s: want 400 with an error, got %d %s", method, path, r.Code, r.Body)
		return
	}
	for _, w := range want {
		if !strings.Contains(reply.Message, w) {
			t.Errorf("%s %s: the message %q does not say %q", method, path, reply.Message, w)
		}
	}
}

// catDoc is catalogueDoc as OAS API id, at listen.
func catDoc(up *gt.Upstream, id, listen string) string {
	doc := strings.NewReplacer("UPSTREAM", up.URL, "LISTEN", listen).Replace(catalogueDoc)
	return strings.Replace(doc, `"info": {"name": "Catalogue"`, `"info": {"id": "`+id+`", "name": "Catalogue"`, 1)
}

// TestCreateRefusesIDNamingACompanionFile: an OAS API cat is stored as cat.json beside its
// document cat-oas.json. Creating an API with api_id cat-oas (or any id ending in -oas or -mcp)
// would write <id>.json, a name the loader reads as another API's document, never as a
// definition: through POST /tyk/apis, POST /tyk/apis/oas and the import it gets a 400 saying
// why, nothing is written, and cat keeps its document and serves after a reload.
func TestCreateRefusesIDNamingACompanionFile(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	if r := g.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: catDoc(up, "cat", "/cat/")}); r.Code != 200 {
		t.Fatalf("create OAS API cat: %d %s", r.Code, r.Body)
	}
	g.Reload()
	before := appFiles(t, g)
	if got := slices.Sorted(maps.Keys(before)); !slices.Equal(got, []string{"cat-oas.json", "cat.json"}) {
		t.Fatalf("app_path holds %q", got)
	}

	classic := func(id, listen string) string {
		return `{"api_id": "` + id + `", "name": "other", "use_keyless": true, "active": true,
			"proxy": {"listen_path": "` + listen + `", "target_url": "` + up.URL + `"}}`
	}
	why := []string{"cannot be created", "never as a definition of its own", "choose an api_id that does not end in -oas or -mcp"}
	refused(t, g, "POST", "/tyk/apis", classic("cat-oas", "/other/"), append([]string{"cat-oas.json", "cat.json"}, why...)...)
	refused(t, g, "POST", "/tyk/apis", classic("cat-mcp", "/other/"), append([]string{"cat-mcp.json"}, why...)...)
	refused(t, g, "POST", "/tyk/apis/oas", catDoc(up, "dog-oas", "/dog/"), append([]string{"dog-oas.json", "dog.json"}, why...)...)
	imported := strings.ReplaceAll(plainDoc, "UPSTREAM", up.URL)
	refused(t, g, "POST", "/tyk/apis/oas/import?apiID=imp-mcp&listenPath=/imp/", imported, append([]string{"imp-mcp.json"}, why...)...)
	sameFiles(t, g, before, "the refused creates")

	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/oas/cat"}); r.Code != 200 {
		t.Errorf("GET /tyk/apis/oas/cat = %d %s", r.Code, r.Body)
	}
	g.Reload()
	if r := g.Do(gt.Case{Path: "/cat/ping"}); r.Code != 200 || r.Body != "pong" {
		t.Errorf("after a reload, the OAS API cat does not serve: GET /cat/ping = %d %s", r.Code, r.Body)
	}
}

// TestCreateRefusesAnotherAPIsFile: app_path/httpbin.json, a file named as the operator chose,
// defines API "1". Creating API httpbin, Classic or OAS, would write httpbin.json over it: it
// gets a 400 naming the file and the API that holds it, nothing is written (not the OAS
// document either), and API 1 serves on. Likewise for an OAS API whose <id>-oas.json is a file
// there already, and for a file that does not load. An update of API 1 still writes over its
// own file.
func TestCreateRefusesAnotherAPIsFile(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	data, _ := json.MarshalIndent(gt.API("1", "/one/", up.URL), "", "  ")
	g.WriteFile("httpbin.json", data)
	g.WriteFile("broken.json", []byte(`{"api_id": "broken",`))
	g.WriteFile("dog-oas.json", []byte(`{"openapi": "3.0.3"}`)) // no dog.json: a document of no API
	g.Reload()
	if r := g.Do(gt.Case{Path: "/one/x"}); r.Code != 200 {
		t.Fatalf("API 1 does not serve: %d %s", r.Code, r.Body)
	}
	before := appFiles(t, g)

	classic := func(id, listen string) string {
		return `{"api_id": "` + id + `", "name": "` + id + `", "use_keyless": true, "active": true,
			"proxy": {"listen_path": "` + listen + `", "target_url": "` + up.URL + `"}}`
	}
	taken := []string{"httpbin.json", `holds the definition of API "1"`, "nothing was written", "choose another api_id", "rename httpbin.json"}
	refused(t, g, "POST", "/tyk/apis", classic("httpbin", "/httpbin/"), taken...)
	refused(t, g, "POST", "/tyk/apis/oas", catDoc(up, "httpbin", "/httpbin/"), taken...)
	refused(t, g, "POST", "/tyk/apis/oas/import?apiID=httpbin&listenPath=/httpbin/", strings.ReplaceAll(plainDoc, "UPSTREAM", up.URL), taken...)
	refused(t, g, "POST", "/tyk/apis/oas", catDoc(up, "dog", "/dog/"), "dog-oas.json", "a document no API loads", "choose another api_id")
	refused(t, g, "POST", "/tyk/apis", classic("broken", "/broken/"), "broken.json", "does not load", "choose another api_id")
	sameFiles(t, g, before, "the refused creates")

	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/1"}); r.Code != 200 {
		t.Errorf("GET /tyk/apis/1 = %d %s", r.Code, r.Body)
	}
	g.Reload()
	if r := g.Do(gt.Case{Path: "/one/x"}); r.Code != 200 {
		t.Errorf("after a reload, API 1 does not serve: %d %s", r.Code, r.Body)
	}

	// An update writes over the API's own file, whatever its name.
	if r := g.Do(gt.Case{Admin: true, Method: "PUT", Path: "/tyk/apis/1", Body: classic("1", "/uno/")}); r.Code != 200 {
		t.Fatalf("PUT /tyk/apis/1 = %d %s", r.Code, r.Body)
	}
	now := appFiles(t, g)
	if got := slices.Sorted(maps.Keys(now)); !slices.Equal(got, slices.Sorted(maps.Keys(before))) {
		t.Errorf("after the PUT, app_path holds %q", got)
	}
	if !strings.Contains(now["httpbin.json"], `"/uno/"`) {
		t.Errorf("the PUT did not write over httpbin.json: %s", now["httpbin.json"])
	}
	g.Reload()
	if r := g.Do(gt.Case{Path: "/uno/x"}); r.Code != 200 {
		t.Errorf("after the PUT and a reload, API 1 does not serve at /uno/: %d %s", r.Code, r.Body)
	}
}

// TestRepeatedAPIID: two files of app_path with one api_id are both refused, whichever served
// before and however either changes (a keyless copy of a keyed API beside it must never take its
// place, edited or restarted); the Gateway API refuses to read, change or delete that id, naming
// both files; once one goes, the other serves.
func TestRepeatedAPIID(t *testing.T) {
	up := gt.NewUpstream(t)
	keyed := gt.Keyed(gt.API("dup", "/dup/", up.URL))
	keyless := gt.API("dup", "/dup/", up.URL)
	encode := func(d any) []byte {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	g := gt.Start(t, gt.Options{})
	g.WriteFile("z-dup.json", encode(keyed))
	g.Reload()
	g.Run(t, gt.Case{Name: "the keyed API", Path: "/dup/x", Code: 401})
	g.WriteFile("a-dup.json", encode(keyless))
	g.Reload()
	g.Run(t,
		gt.Case{Name: "neither serves", Path: "/dup/x", Code: 404},
		gt.Case{Name: "reported", Admin: true, Path: "/hello", Code: 200, BodyMatch: `a-dup.json and z-dup.json define api_id \\"dup\\"; none of them is served`},
		gt.Case{Name: "read refused", Admin: true, Path: "/tyk/apis/dup", Code: 409, BodyMatch: `a-dup.json and z-dup.json define api_id \\"dup\\"`},
		gt.Case{Name: "delete refused", Admin: true, Method: "DELETE", Path: "/tyk/apis/dup", Code: 409, BodyMatch: `a-dup.json and z-dup.json define api_id \\"dup\\"`},
		gt.Case{Name: "update refused", Admin: true, Method: "PUT", Path: "/tyk/apis/dup", Body: string(encode(keyless)), Code: 400, BodyMatch: `a-dup.json and z-dup.json define`},
	)
	// The real file edited: still neither.
	keyed.Name = "edited"
	g.WriteFile("z-dup.json", encode(keyed))
	g.Reload()
	g.Run(t, gt.Case{Name: "the keyed file edited: neither serves", Path: "/dup/x", Code: 404})
	if files := appFiles(t, g); len(files) != 2 || !strings.Contains(files["z-dup.json"], "use_keyless\":false") {
		t.Errorf("app_path after the refusals: %v", slices.Sorted(maps.Keys(files)))
	}
	// A fresh start with both: neither. One gone: the other serves.
	fresh := gt.Start(t, gt.Options{})
	fresh.WriteFile("z-dup.json", encode(keyed))
	fresh.WriteFile("a-dup.json", encode(keyless))
	fresh.Reload()
	fresh.Run(t, gt.Case{Name: "fresh: neither serves", Path: "/dup/x", Code: 404})
	if err := os.Remove(filepath.Join(fresh.AppPath, "a-dup.json")); err != nil {
		t.Fatal(err)
	}
	fresh.Reload()
	fresh.Run(t,
		gt.Case{Name: "one file left: it serves", Path: "/dup/x", Code: 401},
		gt.Case{Name: "one file left: delete works", Admin: true, Method: "DELETE", Path: "/tyk/apis/dup", Code: 200},
	)
}

// TestDeepJSONNotIndented: a definition or key holding a deeply nested value is stored and
// answered about its own size: indenting it would grow with depth × size (a 20 KB array nested
// 10,000 deep indents to 200 MB).
func TestDeepJSONNotIndented(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{})
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	def := `{"api_id": "deep", "name": "deep", "use_keyless": true, "active": true, "x_deep": ` + deep + `,
		"proxy": {"listen_path": "/deep/", "target_url": "` + up.URL + `"},
		"version_data": {"not_versioned": true, "versions": {"Default": {"name": "Default"}}}}`
	g.Run(t, gt.Case{Name: "create", Admin: true, Method: "POST", Path: "/tyk/apis", Body: def, Code: 200})
	stored := appFiles(t, g)["deep.json"]
	if len(stored) > 2*len(def) || !strings.Contains(stored, deep) {
		t.Errorf("deep.json is %d bytes for a %d-byte definition (or lost the value)", len(stored), len(def))
	}
	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/apis/deep"}); r.Code != 200 || len(r.Body) > 2*len(def) || !strings.Contains(r.Body, deep) {
		t.Errorf("GET /tyk/apis/deep: %d, %d bytes for a %d-byte definition", r.Code, len(r.Body), len(def))
	}
	key := `{"access_rights": {"deep": {"api_id": "deep"}}, "meta_data": {"x": ` + deep + `}}`
	g.Run(t, gt.Case{Name: "key", Admin: true, Method: "POST", Path: "/tyk/keys/deepkey", Body: key, Code: 200})
	if r := g.Do(gt.Case{Admin: true, Path: "/tyk/keys/deepkey"}); r.Code != 200 || len(r.Body) > 4*len(key) || !strings.Contains(r.Body, deep) {
		t.Errorf("GET /tyk/keys/deepkey: %d, %d bytes for a %d-byte key", r.Code, len(r.Body), len(key))
	}
	// A body over the limit is answered 413, naming it.
	huge := strings.Repeat(" ", 5<<20) + "{}"
	g.Run(t,
		gt.Case{Name: "an OAS document over 4 MiB", Admin: true, Method: "POST", Path: "/tyk/apis/oas", Body: huge, Code: 413, BodyMatch: "OAS document is larger than 4096 KiB"},
		gt.Case{Name: "a definition over 4 MiB", Admin: true, Method: "POST", Path: "/tyk/apis", Body: huge, Code: 413, BodyMatch: "definition is larger than 4096 KiB"},
	)
}
