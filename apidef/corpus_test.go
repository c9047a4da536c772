package apidef_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// corpusFiles returns the Tyk corpus definitions, or nil with the reason when the corpus is
// absent.
func corpusFiles(tb testing.TB) (files []string, reason string) {
	tb.Helper()
	dir := filepath.Join(moduleRoot(tb), "..", "shared", "corpus", "tyk", "apps")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, "Tyk corpus not found at " + dir
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		return nil, "no *.json files in " + dir
	}
	return files, ""
}

func TestCorpus(t *testing.T) {
	files, reason := corpusFiles(t)
	if files == nil {
		t.Skip(reason)
	}
	defs := map[string]*apidef.APIDefinition{}
	for _, f := range files {
		name := filepath.Base(f)
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var a apidef.APIDefinition
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Errorf("%s: does not decode: %v", name, err)
			continue
		}
		defs[name] = &a
		verr := a.Validate()
		valid := "valid"
		if verr != nil {
			valid = "invalid: " + strings.ReplaceAll(verr.Error(), "\n", "; ")
		}
		t.Logf("%s: %s; unsupported: %q; ignored fields: %q", name, valid, a.Unsupported(), apidef.IgnoredFields(raw))
	}

	// Expectations justified by reading the files.
	expectations := []struct {
		file          string
		validContains string // "" means Validate passes, else a substring of its error
		keyless       bool
		unsupported   []string // exact
	}{
		// Keyless, not versioned, one version with empty extended_paths, a plain http target.
		{file: "apps__quickstart.json", keyless: true},
		// Keyed with an auth header, nothing unsupported (enable_batch_request_support is served).
		{file: "apps__app_sample.json"},
		// Keyless with python pre/post hooks: the driver is refused.
		{file: "apps__coprocess_app_sample.json", keyless: true,
			unsupported: []string{`custom_middleware driver "python" (only "goplugin" is supported)`}},
		// Its hooks sit under "custom_middleware_" (Tyk's way of commenting a block out).
		{file: "apps__coprocess_grpc_app_sample_protected.json", keyless: true},
		// Keyless with a jq response processor (Gatehouse reads header_injector and
		// response_body_transform only) and jq transforms.
		{file: "apps__jq.json", keyless: true, unsupported: []string{
			`response_processors[0]: processor "response_body_transform_jq" (only "header_injector" and "response_body_transform" are read)`,
			`version "Default": extended_paths.transform_jq`,
			`version "Default": extended_paths.transform_jq_response`,
		}},
		// Keyless with a go plugin post hook, but no api_id.
		{file: "ci__tests__plugin-compiler__testdata__test-plugin__apidef.json", validContains: "api_id: missing", keyless: true},
		{file: "ci__tests__error-overrides__apps__test-ok.json", keyless: true},
		// A JWT definition with a key in jwt_source is served; one whose jwt_source is
		// "header" (not base64: Tyk logs that and refuses every token) is invalid.
		{file: "ci__tests__error-overrides__apps__test-tke-jwt.json"},
		{file: "ci__tests__error-overrides__apps__test-amf-jwt.json", validContains: "jwt_source: neither an http(s) JWKS URL nor base64"},
		// OAuth and basic auth definitions are served.
		{file: "ci__tests__error-overrides__apps__test-amf-oauth.json"},
		{file: "ci__tests__error-overrides__apps__test-amf-basicauth.json"},
		{file: "ci__tests__error-overrides__apps__test-ihd-basicauth.json"},
	}
	for _, e := range expectations {
		t.Run(e.file, func(t *testing.T) {
			a, ok := defs[e.file]
			if !ok {
				t.Skipf("%s not in the corpus", e.file)
			}
			err := a.Validate()
			switch {
			case e.validContains == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case e.validContains != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", e.validContains)
			case e.validContains != "" && !strings.Contains(err.Error(), e.validContains):
				t.Errorf("Validate() = %v, want it to contain %q", err, e.validContains)
			}
			if a.UseKeylessAccess != e.keyless {
				t.Errorf("UseKeylessAccess = %v, want %v", a.UseKeylessAccess, e.keyless)
			}
			if got := a.Unsupported(); !slices.Equal(got, e.unsupported) {
				t.Errorf("Unsupported() = %q, want %q", got, e.unsupported)
			}
			if !a.Active {
				t.Errorf("Active = false, want true (absent or true in the file)")
			}
		})
	}

	// Every OAuth definition of the corpus is served, with OAuth as its one auth method.
	n := 0
	for name, a := range defs {
		if a.UseKeylessAccess || !a.UseOauth2 {
			continue
		}
		n++
		if got := a.Unsupported(); len(got) != 0 {
			t.Errorf("%s: Unsupported() = %q, want none", name, got)
		}
		if got := a.AuthMethods(); !slices.Equal(got, []string{apidef.AuthOAuthKey}) {
			t.Errorf("%s: AuthMethods() = %q, want only %q", name, got, apidef.AuthOAuthKey)
		}
	}
	if n == 0 {
		t.Error("no OAuth definition in the corpus: the check above checked nothing")
	}
}
