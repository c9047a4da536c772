package apistore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apistore"
)

// TestLoadOAS reads testdata/oas-apps: Tyk's pair of files (pets.json with is_oas beside
// pets-oas.json), a lone OAS document (single.json), a lone companion (ghost-oas.json), a broken
// document, a Classic file with is_oas and no document, one whose document names another API,
// a Classic file and a plain OpenAPI document.
func TestLoadOAS(t *testing.T) {
	dir := filepath.Join("testdata", "oas-apps")
	entries, err := apistore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]apistore.Entry{}
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Base(e.File))
		byName[filepath.Base(e.File)] = e
	}
	// mismatch-oas.json and pets-oas.json are read with their Classic files, not on their own.
	want := []string{"broken.json", "classic.json", "ghost-oas.json", "mismatch.json", "nodoc.json", "pets.json", "plain-openapi.json", "single.json"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries = %q, want %q", names, want)
	}

	pets := byName["pets.json"]
	if pets.Err != nil || pets.Def() == nil || !pets.Def().IsOAS || pets.OAS == nil || pets.OASErr != nil ||
		filepath.Base(pets.OASFile) != "pets-oas.json" || pets.OAS.Ext.Info.ID != "pets" {
		t.Errorf("pets.json: %+v", pets)
	}
	// The Classic file drives: its raw content is the entry's.
	if raw, _ := os.ReadFile(filepath.Join(dir, "pets.json")); string(pets.Raw) != string(raw) {
		t.Errorf("pets.json: Raw is not the Classic file")
	}

	single := byName["single.json"]
	if single.Err != nil || single.Def() == nil || single.OAS == nil || single.OASFile != "" ||
		single.Def().APIID != "single" || !single.Def().IsOAS || single.Def().Proxy.ListenPath != "/single/" {
		t.Errorf("single.json: %+v", single)
	}
	// Raw is the Classic form, as the Gateway API lists it.
	var classic map[string]any
	if json.Unmarshal(single.Raw, &classic) != nil || classic["api_id"] != "single" || classic["is_oas"] != true {
		t.Errorf("single.json: Raw = %s, want the Classic form", single.Raw)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "single.json")); string(single.OAS.Raw) != string(raw) {
		t.Errorf("single.json: the document is not the file")
	}

	for name, want := range map[string][]string{
		"ghost-oas.json":     {"not loaded", "ghost.json", "-oas.json"},
		"broken.json":        {"a Tyk OAS definition that cannot be read", "line 9"},
		"plain-openapi.json": {"x-tyk-api-gateway: missing"},
	} {
		e := byName[name]
		if e.Err == nil || e.Def() != nil {
			t.Errorf("%s: want an error and no definition, got %v, %+v", name, e.Err, e.Def())
			continue
		}
		for _, w := range want {
			if !strings.Contains(e.Err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, e.Err, w)
			}
		}
	}
	for name, want := range map[string]string{
		"nodoc.json":    "its OAS document nodoc-oas.json is missing",
		"mismatch.json": `describes API "someone-else", not "mismatch"`,
	} {
		e := byName[name]
		// The Classic file decodes (so the refusal names its API); the gateway refuses it.
		if e.Err != nil || e.Def() == nil || e.OAS != nil || e.OASErr == nil || !strings.Contains(e.OASErr.Error(), want) {
			t.Errorf("%s: Err %v, OAS %v, OASErr %v; want OASErr containing %q", name, e.Err, e.OAS, e.OASErr, want)
		}
	}
	if e := byName["classic.json"]; e.Err != nil || e.OAS != nil || e.Def().IsOAS {
		t.Errorf("classic.json: %+v", e)
	}
}

// TestOASUnsupported: the pair's Classic file drives the middleware, so what its document
// switches on beyond the OAS-only middleware (validateRequest, implemented) is the Classic
// file's to say; a lone document is checked in full.
func TestOASUnsupported(t *testing.T) {
	dir := t.TempDir()
	doc := `{"openapi": "3.0.3", "info": {"title": "a", "version": "1"},
		"paths": {"/a": {"get": {"operationId": "getA"}}},
		"x-tyk-api-gateway": {"info": {"id": "%s", "name": "a", "state": {"active": true}},
			"upstream": {"url": "http://a.test"}, "server": {"listenPath": {"value": "/%s/"}},
			"middleware": {"operations": {"getA": {"validateRequest": {"enabled": true}, "virtualEndpoint": {"enabled": true}}}}}}`
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pair.json", `{"api_id": "pair", "is_oas": true, "use_keyless": true, "proxy": {"listen_path": "/pair/", "target_url": "http://a.test"}}`)
	write("pair-oas.json", strings.ReplaceAll(doc, "%s", "pair"))
	write("lone.json", strings.ReplaceAll(doc, "%s", "lone"))
	entries, err := apistore.New(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	pair, _ := apistore.Find(entries, "pair")
	lone, _ := apistore.Find(entries, "lone")
	if got := pair.OASUnsupported(); len(got) != 0 {
		t.Errorf("pair: OASUnsupported() = %q, want nothing", got)
	}
	if got := lone.OASUnsupported(); len(got) != 1 || !strings.Contains(got[0], "virtualEndpoint") {
		t.Errorf("lone: OASUnsupported() = %q, want virtualEndpoint alone", got)
	}

	// Deleting the pair removes both files.
	if err := apistore.New(dir).Delete("pair"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pair.json", "pair-oas.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Delete (%v)", f, err)
		}
	}
}
