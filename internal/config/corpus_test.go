package config

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// corpusDir returns the directory of sample tyk.conf files beside the project
// (../shared/corpus/tyk/conf from the module root), skipping the test when it is absent.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("module root not found; skipping the Tyk config corpus")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus", "tyk", "conf")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("Tyk config corpus not found at %s; skipping", corpus)
	}
	return corpus
}

var lineNumber = regexp.MustCompile(`line \d+, column \d+`)

// TestCorpus loads every sample: each must either load (with its unused keys as warnings) or
// fail with an error that names the file and says what is wrong.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s (%v)", dir, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, warnings, err := Load(path, nil)
			if err != nil {
				if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "policy_source") {
					t.Errorf("error %q does not name the file", err)
				}
				t.Logf("rejected: %v", err)
				return
			}
			if len(warnings) == 0 {
				t.Errorf("a Tyk config loaded without warnings; its unused keys should be reported")
			}
			if c.ListenPort == 0 || c.AppPath == "" {
				t.Errorf("loaded config is incomplete: %+v", c)
			}
		})
	}
}

func TestCorpusStandalone(t *testing.T) {
	path := filepath.Join(corpusDir(t), "ci__install__data__tyk.standalone.conf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not in the corpus", filepath.Base(path))
	}
	c, warnings := mustLoad(t, path, nil)
	for _, want := range []string{
		`unknown config key "enable_jsvm" ignored`,
		`unknown config key "storage.optimisation_max_idle" ignored`,
	} {
		if !slices.Contains(warnings, want) {
			t.Errorf("warnings lack %q; got %q", want, warnings)
		}
	}
	// The sample enables the bundle downloader without a base URL, which Tyk accepts.
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "bundle_base_url is empty") }) {
		t.Errorf("warnings lack the empty bundle_base_url note; got %q", warnings)
	}
	for _, g := range []struct{ key, got, want string }{
		{"storage.type", c.Storage.Type, "redis"},
		{"storage.host", c.Storage.Host, "tyk-redis"},
		{"policies.policy_source", c.Policies.PolicySource, "file"},
		{"policies.policy_record_name", c.Policies.PolicyRecordName, "/opt/tyk-gateway/policies/policies.json"},
		{"app_path", c.AppPath, "/opt/tyk-gateway/apps/"},
		{"listen_address (Gatehouse default)", c.ListenAddress, "127.0.0.1"},
	} {
		if g.got != g.want {
			t.Errorf("%s = %q, want %q", g.key, g.got, g.want)
		}
	}
	if c.SecretProblem() == "" {
		t.Errorf("SecretProblem() = \"\" for Tyk's sample secret")
	}
}

func TestCorpusTrailingComma(t *testing.T) {
	path := filepath.Join(corpusDir(t), "ci__images__hybrid__tyk__tyk.conf.example")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s not in the corpus", filepath.Base(path))
	}
	_, _, err = Load(path, nil)
	wantErrContains(t, err, path, "trailing comma")
	if !lineNumber.MatchString(err.Error()) {
		t.Errorf("error %q has no line and column", err)
	}

	// The same sample without its trailing comma (the test's edit, not Load's) is valid JSON
	// that asks for Tyk's "mongo" policy source, which must be refused.
	fixed := bytes.Replace(data, []byte("500,\n}"), []byte("500\n}"), 1)
	if bytes.Equal(fixed, data) {
		t.Skip("the sample changed; cannot remove its trailing comma")
	}
	_, warnings, err := Load(writeConf(t, string(fixed)), nil)
	wantErrContains(t, err, `policies.policy_source "mongo"`, "not supported", `"file"`)
	if !slices.Contains(warnings, `unknown config key "tyk_js_path" ignored`) {
		t.Errorf("warnings lack the unknown keys; got %q", warnings)
	}
}

func TestCorpusTemplatePlaceholder(t *testing.T) {
	path := filepath.Join(corpusDir(t), "ci__install__data__tyk.self_contained.conf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not in the corpus", filepath.Base(path))
	}
	_, _, err := Load(path, nil)
	wantErrContains(t, err, path, "line 2, column 18", "invalid character 'L'")
}

// TestCorpusErrorOverrides: the tyk.conf of Tyk's own error override tests loads, its rules with
// it, the Classic field names read.
func TestCorpusErrorOverrides(t *testing.T) {
	path := filepath.Join(corpusDir(t), "ci__tests__error-overrides__configs__tyk.conf")
	c, _, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var n int
	for _, rules := range c.ErrorOverrides {
		n += len(rules)
	}
	if n < 20 || c.ErrorOverrides["5xx"][0].Match.Flag != "URS" || c.ErrorOverrides["404"][0].Match.BodyField != "error.code" {
		t.Errorf("error_overrides read as %d rules: %+v", n, c.ErrorOverrides)
	}
}
