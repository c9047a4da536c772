package apidef_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// FuzzAPIDefinition checks that no input makes decoding, checking or encoding a definition
// panic, and that a decoded definition encodes to a stable form.
func FuzzAPIDefinition(f *testing.F) {
	// Our own Tyk-shaped fixtures always seed the fuzzer; Tyk's corpus too when present.
	fixtures, err := filepath.Glob(filepath.Join(fixtureDir, "*", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range fixtures {
		f.Add(readFixture(f, strings.TrimPrefix(filepath.ToSlash(file), fixtureDir+"/")))
	}
	if files, _ := corpusFiles(f); files != nil {
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	for _, s := range []string{
		`{}`,
		`null`,
		`[]`,
		`{"active": false}`,
		`{"api_id": "a", "proxy": {"listen_path": "/a/", "target_url": "http://u", "enable_load_balancing": true, "target_list": ["tyk://x", ""]}}`,
		`{"api_id": ".x", "use_keyless": false, "auth": {"use_param": true, "use_cookie": true, "use_certificate": true},
		  "auth_configs": {"authToken": {"use_param": true}}, "global_rate_limit": {"rate": -1, "per": 0}}`,
		`{"version_data": {"not_versioned": false, "default_version": "v3", "versions": {"v1": {"expires": "x",
		  "override_target": "ftp://x", "extended_paths": {"mock_response": [{"disabled": true}, 1, "x", null],
		  "white_list": [{"path": "/a", "method_actions": {"GET": {"action": "reply"}}}]}}, "v2": {}}}}`,
		`{"custom_middleware": {"driver": "python", "pre": [{"name": "a"}], "auth_check": {"name": "b"}},
		  "upstream_certificates": {"*": "c"}, "pinned_public_keys": null, "response_processors": [ ],
		  "CORS": {"enable": true}, "graphql": {"enabled": true}, "config_data": {"a": [1, 2.5, {"b": null}], "c": 1e300}}`,
		`{"unknown": {"a": false}, "other": [0, ""], "x": "\u00e9\ud800", "cors": {"enabled": true}}`,
		`{"global_rate_limit": {"rate": -0, "per": 1e-320}, "session_lifetime": -9223372036854775808}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var a apidef.APIDefinition
		uerr := json.Unmarshal(data, &a)
		_ = a.Validate()
		_ = a.Unsupported()
		_ = apidef.IgnoredFields(data)
		_ = a.AuthTokenConfig()
		_ = a.CustomAuthEnabled()
		first, merr := json.Marshal(&a)
		if uerr != nil {
			return
		}
		if merr != nil {
			t.Fatalf("Marshal after a successful Unmarshal: %v\ninput: %q", merr, data)
		}
		var b apidef.APIDefinition
		if err := json.Unmarshal(first, &b); err != nil {
			t.Fatalf("Unmarshal of our own encoding: %v\nencoding: %s", err, first)
		}
		second, err := json.Marshal(&b)
		if err != nil {
			t.Fatalf("second Marshal: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("encoding is not stable\ninput:  %q\nfirst:  %s\nsecond: %s", data, first, second)
		}
	})
}

// TestMarshalRoundTripStable is the deterministic form of the fuzz property: encoding a decoded
// definition, decoding that and encoding again gives the same bytes.
func TestMarshalRoundTripStable(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "minimal", raw: `{"api_id": "a"}`},
		{name: "explicit inactive", raw: `{"active": false}`},
		{name: "raw messages are compacted once", raw: `{"upstream_certificates": { "*" : "c" }, "response_processors": null}`},
		{name: "empty custom_middleware lists", raw: `{"custom_middleware": {"pre": [], "driver": "goplugin"}}`},
		{name: "empty extended_paths lists", raw: `{"version_data": {"versions": {"v1": {"extended_paths": {"ignored": [], "white_list": [], "black_list": []}}}}}`},
		{name: "empty legacy paths lists", raw: `{"version_data": {"versions": {"v1": {"paths": {"ignored": []}}}}}`},
		{name: "empty config_data", raw: `{"config_data": {}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a, b apidef.APIDefinition
			if err := json.Unmarshal([]byte(tc.raw), &a); err != nil {
				t.Fatal(err)
			}
			first, err := json.Marshal(&a)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(first, &b); err != nil {
				t.Fatal(err)
			}
			second, err := json.Marshal(&b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Errorf("encoding of %s is not stable\nfirst:  %s\nsecond: %s", tc.raw, first, second)
			}
		})
	}
}
