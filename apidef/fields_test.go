package apidef_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

func TestUnmarshalJSONActive(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{name: "absent defaults to true", raw: `{"name": "a"}`, want: true},
		{name: "empty object defaults to true", raw: `{}`, want: true},
		{name: "explicit false kept", raw: `{"active": false}`, want: false},
		{name: "explicit true kept", raw: `{"active": true}`, want: true},
		{name: "null leaves the default", raw: `{"active": null}`, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a apidef.APIDefinition
			if err := json.Unmarshal([]byte(tc.raw), &a); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.raw, err)
			}
			if a.Active != tc.want {
				t.Errorf("Unmarshal(%s).Active = %v, want %v", tc.raw, a.Active, tc.want)
			}
		})
	}
}

func TestUnmarshalJSONDecodesFields(t *testing.T) {
	raw := `{"api_id": "x", "active": false, "proxy": {"listen_path": "/x/", "target_url": "http://u"},
		"version_data": {"versions": {"v1": {"name": "v1", "use_extended_paths": true}}},
		"config_data": {"k": "v"}}`
	var a apidef.APIDefinition
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	if a.APIID != "x" || a.Active || a.Proxy.ListenPath != "/x/" || a.Proxy.TargetURL != "http://u" ||
		!a.VersionData.Versions["v1"].UseExtendedPaths || a.ConfigData["k"] != "v" {
		t.Errorf("decoded %+v", a)
	}
}

func TestUnmarshalJSONOverwritesPreviousValue(t *testing.T) {
	a := apidef.APIDefinition{Name: "old", Active: false}
	if err := json.Unmarshal([]byte(`{"api_id": "new"}`), &a); err != nil {
		t.Fatal(err)
	}
	// The definition is decoded afresh: the absent "active" is true, the old name is gone.
	if !a.Active || a.Name != "" || a.APIID != "new" {
		t.Errorf("got Active=%v Name=%q APIID=%q, want true \"\" \"new\"", a.Active, a.Name, a.APIID)
	}
}

func TestUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{name: "syntax", raw: `{"api_id": `},
		{name: "wrong type", raw: `{"active": "yes"}`},
		{name: "array", raw: `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a apidef.APIDefinition
			if err := json.Unmarshal([]byte(tc.raw), &a); err == nil {
				t.Errorf("Unmarshal(%s) = nil, want error", tc.raw)
			}
		})
	}
}

func TestIgnoredFields(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []string
	}{
		{
			name: "unknown non-zero fields sorted",
			raw: `{"zeta": "v", "enable_graphql_batching": true, "alpha": 1, "name": "x",
				"nested": {"a": false, "b": 1}, "list": [1]}`,
			want: []string{"alpha", "enable_graphql_batching", "list", "nested", "zeta"},
		},
		{
			name: "zero values ignored",
			raw: `{"f": false, "s": "", "o": {}, "a": [], "n": null, "z": 0, "zf": 0.0, "ze": 0e10,
				"deep": {"a": false, "b": "", "c": [0, null, {}], "d": {"e": false}}, "spaced": { } }`,
		},
		{
			name: "known fields never listed",
			raw: `{"name": "x", "api_id": "y", "use_keyless": true, "CORS": {"enable": true},
				"proxy": {"listen_path": "/"}, "custom_middleware": {"driver": "goplugin"},
				"upstream_certificates": {"*": "c"}, "is_oas": true, "definition": {"location": "header"}}`,
		},
		{
			name: "unknown nested under known is listed with its path",
			raw:  `{"proxy": {"enable_future_balancing": true, "listen_path": "/x"}, "auth_configs": {"authToken": {"signature": {"algorithm": ""}, "extra": 1}}}`,
			want: []string{"auth_configs.authToken.extra", "proxy.enable_future_balancing"},
		},
		{
			name: "non-zero string inside object",
			raw:  `{"openid_options": {"providers": [], "segregate_by_client": false}, "allowed_access_methods": ["X-A"]}`,
			want: []string{"allowed_access_methods"},
		},
		{
			name: "unknown fields inside endpoint list entries",
			raw: `{"version_data": {"versions": {"Default": {"extended_paths": {
				"white_list": [{"path": "/a", "method_actions": {"GET": {"action": "no_action", "extra": 1}}},
					{"path": "/b", "unknown": true, "zero": false}],
				"go_plugin": [{"path": "/x", "func_name": "F", "plugin_path": "p.so", "timeout": 5}],
				"mock_response": [{"path": "/m", "anything": 1}]}}}}}`,
			want: []string{
				"version_data.versions.Default.extended_paths.go_plugin[0].timeout",
				"version_data.versions.Default.extended_paths.mock_response[0].anything",
				"version_data.versions.Default.extended_paths.white_list[0].method_actions.GET.extra",
				"version_data.versions.Default.extended_paths.white_list[1].unknown",
			},
		},
		{
			name: "unknown fields inside hook lists",
			raw: `{"custom_middleware": {"pre": [{"name": "A", "path": "a.so", "extra": "x"}, null],
				"response": [{"name": "R", "PATH": "r.so", "Other": [1]}], "auth_check": {"name": "C", "more": 1}}}`,
			want: []string{"custom_middleware.auth_check.more", "custom_middleware.pre[0].extra", "custom_middleware.response[0].Other"},
		},
		{
			name: "lists of plain values and free-form objects are not descended",
			raw:  `{"tags": ["a"], "proxy": {"target_list": ["http://a"]}, "config_data": {"anything": {"x": 1}}, "custom_middleware": {"pre": "oops"}}`,
		},
		{name: "not JSON", raw: `{`},
		{name: "not an object", raw: `["a"]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := apidef.IgnoredFields([]byte(tc.raw))
			if !slices.Equal(got, tc.want) {
				t.Errorf("IgnoredFields(%s) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// TestIgnoredFieldsCaseVariants: encoding/json matches object keys to struct fields
// case-insensitively, so a definition spelling a known field in another case ("cors",
// "USE_KEYLESS") is read by the gateway. IgnoredFields is documented to list fields Gatehouse
// does not read, so it must not list these (the log line would claim a field that changes who
// gets in is ignored).
func TestIgnoredFieldsCaseVariants(t *testing.T) {
	raw := []byte(`{"cors": {"enable": true}, "USE_KEYLESS": true, "Name": "x"}`)
	var a apidef.APIDefinition
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	// Precondition: the decoder did read them.
	if !a.CORS.Enable || !a.UseKeylessAccess || a.Name != "x" {
		t.Fatalf("decoder did not read case variants: CORS=%v keyless=%v name=%q", a.CORS, a.UseKeylessAccess, a.Name)
	}
	if got := apidef.IgnoredFields(raw); len(got) != 0 {
		t.Errorf("IgnoredFields(%s) = %q, want none: every one of these fields is read by the decoder", raw, got)
	}
}

func TestAuthTokenConfig(t *testing.T) {
	legacy := apidef.AuthConfig{AuthHeaderName: "Authorization"}
	modern := apidef.AuthConfig{AuthHeaderName: "X-Key", UseParam: true}
	tests := []struct {
		name string
		def  apidef.APIDefinition
		want apidef.AuthConfig
	}{
		{name: "legacy auth", def: apidef.APIDefinition{Auth: legacy}, want: legacy},
		{name: "authToken wins", def: apidef.APIDefinition{Auth: legacy, AuthConfigs: map[string]apidef.AuthConfig{"authToken": modern}}, want: modern},
		{name: "other auth_configs ignored", def: apidef.APIDefinition{Auth: legacy, AuthConfigs: map[string]apidef.AuthConfig{"jwt": modern}}, want: legacy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.def.AuthTokenConfig(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AuthTokenConfig() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCustomAuthEnabled(t *testing.T) {
	tests := []struct {
		name string
		def  apidef.APIDefinition
		want bool
	}{
		{name: "none", def: apidef.APIDefinition{}, want: false},
		{name: "custom_plugin_auth_enabled", def: apidef.APIDefinition{CustomPluginAuthEnabled: true}, want: true},
		{name: "use_go_plugin_auth", def: apidef.APIDefinition{UseGoPluginAuth: true}, want: true},
		{name: "enable_coprocess_auth", def: apidef.APIDefinition{EnableCoProcessAuth: true}, want: true},
		{name: "all three", def: apidef.APIDefinition{CustomPluginAuthEnabled: true, UseGoPluginAuth: true, EnableCoProcessAuth: true}, want: true},
		{name: "keyless wins over custom_plugin_auth_enabled", def: apidef.APIDefinition{UseKeylessAccess: true, CustomPluginAuthEnabled: true}, want: false},
		{name: "keyless wins over use_go_plugin_auth", def: apidef.APIDefinition{UseKeylessAccess: true, UseGoPluginAuth: true}, want: false},
		{name: "keyless wins over enable_coprocess_auth", def: apidef.APIDefinition{UseKeylessAccess: true, EnableCoProcessAuth: true}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.def.CustomAuthEnabled(); got != tc.want {
				t.Errorf("CustomAuthEnabled() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCustomAuthEnabledFromJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bool
	}{
		{name: "custom_plugin_auth_enabled", raw: `{"custom_plugin_auth_enabled": true}`, want: true},
		{name: "use_go_plugin_auth", raw: `{"use_go_plugin_auth": true}`, want: true},
		{name: "enable_coprocess_auth", raw: `{"enable_coprocess_auth": true}`, want: true},
		{name: "keyless", raw: `{"use_keyless": true, "use_go_plugin_auth": true}`, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a apidef.APIDefinition
			if err := json.Unmarshal([]byte(tc.raw), &a); err != nil {
				t.Fatal(err)
			}
			if got := a.CustomAuthEnabled(); got != tc.want {
				t.Errorf("CustomAuthEnabled() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMiddlewareSectionEnabled(t *testing.T) {
	on := []apidef.MiddlewareDefinition{{Name: "Hook"}}
	off := []apidef.MiddlewareDefinition{{Name: "Hook", Disabled: true}}
	tests := []struct {
		name string
		m    apidef.MiddlewareSection
		want bool
	}{
		{name: "empty", m: apidef.MiddlewareSection{}, want: false},
		{name: "driver only", m: apidef.MiddlewareSection{Driver: "goplugin"}, want: false},
		{name: "empty lists", m: apidef.MiddlewareSection{Pre: []apidef.MiddlewareDefinition{}, Post: []apidef.MiddlewareDefinition{}}, want: false},
		{name: "pre", m: apidef.MiddlewareSection{Pre: on}, want: true},
		{name: "post", m: apidef.MiddlewareSection{Post: on}, want: true},
		{name: "post_key_auth", m: apidef.MiddlewareSection{PostKeyAuth: on}, want: true},
		{name: "response", m: apidef.MiddlewareSection{Response: on}, want: true},
		{name: "auth_check", m: apidef.MiddlewareSection{AuthCheck: apidef.MiddlewareDefinition{Name: "Auth"}}, want: true},
		{name: "auth_check disabled", m: apidef.MiddlewareSection{AuthCheck: apidef.MiddlewareDefinition{Name: "Auth", Disabled: true}}, want: false},
		{name: "auth_check without name", m: apidef.MiddlewareSection{AuthCheck: apidef.MiddlewareDefinition{Path: "/p.so"}}, want: false},
		{name: "all disabled", m: apidef.MiddlewareSection{Pre: off, Post: off, PostKeyAuth: off, Response: off}, want: false},
		{name: "one enabled among disabled", m: apidef.MiddlewareSection{Pre: off, Response: append(append([]apidef.MiddlewareDefinition{}, off...), on...)}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.Enabled(); got != tc.want {
				t.Errorf("Enabled() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsZero(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{name: "extended paths zero", got: apidef.ExtendedPathsSet{}.IsZero(), want: true},
		{name: "extended paths empty lists", got: apidef.ExtendedPathsSet{Ignored: []apidef.EndPointMeta{}, Virtual: []json.RawMessage{}}.IsZero(), want: true},
		{name: "extended paths entry", got: apidef.ExtendedPathsSet{BlackList: []apidef.EndPointMeta{{Path: "/x"}}}.IsZero(), want: false},
		{name: "extended paths go_plugin", got: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{{Path: "/x"}}}.IsZero(), want: false},
		{name: "extended paths disabled raw entry", got: apidef.ExtendedPathsSet{Virtual: []json.RawMessage{json.RawMessage(`{"disabled":true}`)}}.IsZero(), want: false},
		{name: "extended paths disabled rate limit", got: apidef.ExtendedPathsSet{RateLimit: []apidef.RateLimitMeta{{Disabled: true}}}.IsZero(), want: false},
		{name: "extended paths cache", got: apidef.ExtendedPathsSet{Cached: []string{"/x"}}.IsZero(), want: false},
		{name: "legacy paths zero", got: apidef.LegacyPaths{WhiteList: []string{}}.IsZero(), want: true},
		{name: "legacy paths entry", got: apidef.LegacyPaths{BlackList: []string{"/x"}}.IsZero(), want: false},
		{name: "middleware zero", got: apidef.MiddlewareSection{Pre: []apidef.MiddlewareDefinition{}}.IsZero(), want: true},
		{name: "middleware driver", got: apidef.MiddlewareSection{Driver: "goplugin"}.IsZero(), want: false},
		{name: "middleware disabled hook", got: apidef.MiddlewareSection{Post: []apidef.MiddlewareDefinition{{Disabled: true}}}.IsZero(), want: false},
		{name: "middleware auth_check path only", got: apidef.MiddlewareSection{AuthCheck: apidef.MiddlewareDefinition{Path: "/p.so"}}.IsZero(), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("IsZero() = %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestIsZeroEveryField sets each field of the types with a hand-written IsZero, one at a time,
// to a non-zero value (one entry for a list) by reflection, and checks that IsZero sees it. The
// omitzero encoding (and so the JSON round trip the gateway uses to copy definitions) drops a
// value IsZero calls zero, so a field added later and missed by IsZero would be lost.
func TestIsZeroEveryField(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[apidef.ExtendedPathsSet](),
		reflect.TypeFor[apidef.LegacyPaths](),
		reflect.TypeFor[apidef.MiddlewareSection](),
	} {
		isZero := func(v reflect.Value) bool {
			return v.Interface().(interface{ IsZero() bool }).IsZero()
		}
		if !isZero(reflect.New(typ).Elem()) {
			t.Errorf("%s{}.IsZero() = false, want true", typ.Name())
		}
		for _, leaf := range leafFields(typ, nil, "") {
			v := reflect.New(typ).Elem()
			fillValue(v.FieldByIndex(leaf.index), 0)
			if isZero(v) {
				t.Errorf("%s with only %s set: IsZero() = true, want false", typ.Name(), leaf.name)
			}
		}
	}
}

type leafField struct {
	index []int
	name  string
}

// leafFields lists the exported fields of struct type t, descending into nested structs, so
// that each can be set alone.
func leafFields(t reflect.Type, index []int, prefix string) []leafField {
	var out []leafField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafFields(f.Type, idx, prefix+f.Name+".")...)
			continue
		}
		out = append(out, leafField{idx, prefix + f.Name})
	}
	return out
}
