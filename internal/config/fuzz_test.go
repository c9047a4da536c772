package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fuzzUnknownKey is a key no config field has, in any letter case.
const fuzzUnknownKey = "zz_fuzz_unknown_key"

// FuzzLoad writes the input as a config file and loads it. Load must not panic; it returns
// either a config that passes Validate and no error, or an error and no config. Unknown keys are
// never fatal: adding one (at the top level and inside the objects Gatehouse reads) to an input
// that is a JSON object changes neither the outcome nor the config, and is reported.
//
// Seeds: testdata/fuzz/FuzzLoad and the Tyk-style fixtures in testdata/tyk.
func FuzzLoad(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join(confFixtures, "*.conf"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range fixtures {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tyk.conf")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, _, err := Load(path, nil)
		checkOutcome(t, "input", c, err)

		// The same object re-encoded (so that duplicate keys resolve alike in what is
		// compared), without and then with unknown keys added at the top level and inside the
		// sections Gatehouse reads.
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		if _, taken := obj[fuzzUnknownKey]; taken {
			return
		}
		baseObj := map[string]json.RawMessage{}
		extObj := map[string]json.RawMessage{}
		for k, v := range obj {
			baseObj[k], extObj[k] = v, v
		}
		added := []string{fuzzUnknownKey}
		extObj[fuzzUnknownKey] = json.RawMessage(`{"nested": [1, "two", null]}`)
		for _, section := range []string{"storage", "http_server_options", "policies", "analytics_config"} {
			var sub map[string]json.RawMessage
			if raw, ok := obj[section]; !ok || json.Unmarshal(raw, &sub) != nil || sub == nil {
				continue
			}
			if _, taken := sub[fuzzUnknownKey]; taken {
				return
			}
			baseObj[section] = mustMarshal(t, sub)
			sub[fuzzUnknownKey] = json.RawMessage(`true`)
			extObj[section] = mustMarshal(t, sub)
			added = append(added, section+"."+fuzzUnknownKey)
		}
		base, extended := mustMarshal(t, baseObj), mustMarshal(t, extObj)

		basePath := filepath.Join(dir, "base.conf")
		extPath := filepath.Join(dir, "extended.conf")
		if err := os.WriteFile(basePath, base, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(extPath, extended, 0o600); err != nil {
			t.Fatal(err)
		}
		cb, wb, errb := Load(basePath, nil)
		checkOutcome(t, "re-encoded input", cb, errb)
		ce, we, erre := Load(extPath, nil)
		checkOutcome(t, "input with unknown keys", ce, erre)

		// Errors name the file they come from; compare them with the names made alike.
		eb := strings.ReplaceAll(errString(errb), basePath, "FILE")
		ee := strings.ReplaceAll(errString(erre), extPath, "FILE")
		if eb != ee {
			t.Fatalf("adding unknown keys changed the error\ninput: %q\nwithout: %s\nwith:    %s", extended, eb, ee)
		}
		if !equalConfigs(cb, ce) {
			t.Fatalf("adding unknown keys changed the config\ninput: %q\nwithout: %+v\nwith:    %+v", extended, cb, ce)
		}
		if errb == nil {
			for _, k := range added {
				want := `unknown config key "` + k + `" ignored`
				if !slices.Contains(we, want) {
					t.Fatalf("warnings lack %q\ninput: %q\nwarnings: %q", want, extended, we)
				}
			}
			if len(we) != len(wb)+len(added) {
				t.Fatalf("adding %d unknown keys gave %d more warnings, not %d\nwithout: %q\nwith:    %q", len(added), len(we)-len(wb), len(added), wb, we)
			}
		}
	})
}

// checkOutcome fails unless Load returned exactly one of a config and an error, and the config
// passes Validate.
func checkOutcome(t *testing.T, what string, c *Config, err error) {
	t.Helper()
	switch {
	case c == nil && err == nil:
		t.Fatalf("%s: Load returned neither a config nor an error", what)
	case c != nil && err != nil:
		t.Fatalf("%s: Load returned a config with the error %v", what, err)
	case c != nil:
		if verr := c.Validate(); verr != nil {
			t.Fatalf("%s: Load returned a config that fails Validate: %v\nconfig: %+v", what, verr, c)
		}
	case strings.Contains(err.Error(), "unknown config key"):
		t.Fatalf("%s: an unknown key was fatal: %v", what, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding the input: %v", err)
	}
	return out
}

// equalConfigs reports whether two loaded configs are both nil or equal (relative paths resolve
// against the same directory, so they compare equal too).
func equalConfigs(a, b *Config) bool {
	return reflect.DeepEqual(a, b)
}
