package gateway

import (
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oas"
)

// TestBundlesInUse: the bundles a reload asked for and those its APIs run are in use, so that
// Prune keeps the bundle of an API's earlier version that keeps serving while its new bundle
// downloads.
func TestBundlesInUse(t *testing.T) {
	snap := &snapshot{
		bundles: map[string]bool{"new.zip": true},
		apis: map[string]*apiRuntime{
			"kept":  {bundles: []string{"old.zip"}},
			"plain": {},
			"two":   {bundles: []string{"a.zip", "b.zip"}},
		},
	}
	got := slices.Sorted(maps.Keys(bundlesInUse(snap)))
	if want := []string{"a.zip", "b.zip", "new.zip", "old.zip"}; !slices.Equal(got, want) {
		t.Errorf("bundlesInUse = %q, want %q", got, want)
	}
	if snap.bundles["old.zip"] {
		t.Error("bundlesInUse changed the snapshot's own set")
	}
	if got := bundlesInUse(&snapshot{}); got == nil || len(got) != 0 {
		t.Errorf("bundlesInUse of an empty snapshot = %v", got)
	}
}

// TestOpenKey: two hooks share an open only with the same path and the same verified bundle
// content; a hook of an API with bundles, even with no file listed, never shares one without.
func TestOpenKey(t *testing.T) {
	keys := map[string]string{
		"none":  openKey("p.so", nil),
		"empty": openKey("p.so", map[string]string{}),
		"one":   openKey("p.so", map[string]string{"p.so": "aa"}),
		"other": openKey("p.so", map[string]string{"p.so": "bb"}),
		"path":  openKey("q.so", nil),
	}
	seen := map[string]string{}
	for name, k := range keys {
		if other, ok := seen[k]; ok {
			t.Errorf("%s and %s share the open key %q", name, other, k)
		}
		seen[k] = name
	}
	if openKey("p.so", map[string]string{"p.so": "aa", "q.so": "bb"}) != openKey("p.so", map[string]string{"q.so": "bb", "p.so": "aa"}) {
		t.Error("the key depends on the map's order")
	}
}

// TestSansPlugins: what an API's previous version is compared with leaves out its plugins alone:
// a Tyk OAS document's global plugins, but not its request validation (compiled from the
// document, not the Classic form), nor the policies and files compiling reads (deps).
func TestSansPlugins(t *testing.T) {
	doc := func(pluginPath string, validate bool) *oas.Document {
		t.Helper()
		raw := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
		  "paths": {"/pets": {"post": {"operationId": "createPet", "responses": {"200": {"description": "ok"}}}}},
		  "x-tyk-api-gateway": {"info": {"id": "pets", "name": "pets", "state": {"active": true}},
		    "upstream": {"url": "http://127.0.0.1:1"},
		    "server": {"listenPath": {"value": "/pets/", "strip": true}},
		    "middleware": {"global": {"pluginConfig": {"driver": "goplugin"},
		        "prePlugins": [{"enabled": true, "functionName": "Pre", "path": "` + pluginPath + `"}]},
		      "operations": {"createPet": {"validateRequest": {"enabled": ` + strconv.FormatBool(validate) + `}}}}}}`
		d, err := oas.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	digest := func(d *oas.Document, deps [32]byte) [32]byte {
		t.Helper()
		def, err := d.Classic()
		if err != nil {
			t.Fatal(err)
		}
		return sansPlugins(def, d, deps)
	}
	var deps, otherDeps [32]byte
	otherDeps[0] = 1
	base := digest(doc("a.so", false), deps)
	if digest(doc("b.so", false), deps) != base {
		t.Error("a change of the document's global plugins alone changes the digest")
	}
	if digest(doc("b.so", true), deps) == base {
		t.Error("a change of validateRequest (with the plugins) leaves the digest as it was")
	}
	if digest(doc("a.so", false), otherDeps) == base {
		t.Error("a change of the policies or files compiling reads leaves the digest as it was")
	}
}
