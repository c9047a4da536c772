package bundle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

func TestCheckManifest(t *testing.T) {
	def := func(name, path string) apidef.MiddlewareDefinition {
		return apidef.MiddlewareDefinition{Name: name, Path: path}
	}
	tests := []struct {
		name   string
		edit   func(m *apidef.BundleManifest)
		list   []string
		errHas []string // nil: no error
	}{
		{name: "a valid Go plugin manifest", list: []string{"plugin.so"}},
		{name: "hook file in a sub-folder", list: []string{"lib/x.so"}},
		{name: "hook path written ./plugin.so", list: []string{"plugin.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "./plugin.so" }},
		{name: "only an auth_check hook", list: []string{"plugin.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Pre = nil
				m.CustomMiddleware.AuthCheck = def("Auth", "plugin.so")
			}},
		{name: "only a traffic_logs hook", list: []string{"plugin.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Pre = nil
				m.CustomMiddleware.TrafficLogs = def("Logs", "plugin.so")
			}},
		{name: "no driver", list: []string{"plugin.so"}, errHas: []string{"driver"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Driver = "" }},
		{name: "no hooks", list: []string{"plugin.so"}, errHas: []string{"no hooks"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre = nil }},
		{name: "only disabled hooks", list: []string{"plugin.so"}, errHas: []string{"no hooks"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Disabled = true }},
		{name: "no driver and no hooks: both reported", list: []string{"plugin.so"}, errHas: []string{"driver", "no hooks"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware = apidef.MiddlewareSection{} }},
		{name: "pre hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"other.so", "file_list"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "other.so" }},
		{name: "post hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"post.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{def("Post", "post.so")}
			}},
		{name: "post_key_auth hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"pka.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.PostKeyAuth = []apidef.MiddlewareDefinition{def("PKA", "pka.so")}
			}},
		{name: "response hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"resp.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Response = []apidef.MiddlewareDefinition{def("Resp", "resp.so")}
			}},
		{name: "auth_check hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"auth.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.AuthCheck = def("Auth", "auth.so") }},
		{name: "traffic_logs hook file not in file_list", list: []string{"plugin.so"}, errHas: []string{"logs.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.TrafficLogs = def("Logs", "logs.so") }},
		{name: "hook file named with another case than in file_list", list: []string{"plugin.so"}, errHas: []string{"Plugin.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "Plugin.so" }},
		{name: "hook file outside the bundle", list: []string{"plugin.so"}, errHas: []string{"../plugin.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "../plugin.so" }},
		{name: "absolute hook file", list: []string{"plugin.so"}, errHas: []string{"/usr/lib/plugin.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "/usr/lib/plugin.so" }},
		{name: "hook file with an empty file_list", list: nil, errHas: []string{"plugin.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Pre = []apidef.MiddlewareDefinition{def("Pre", "plugin.so")}
			}},
		{name: "a disabled hook's file need not be listed", list: []string{"plugin.so"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Off", Path: "off.so", Disabled: true}}
			}},
		{name: "another driver's hook files need not be listed", list: []string{"middleware.py"},
			edit: func(m *apidef.BundleManifest) {
				m.CustomMiddleware.Driver = "python"
				m.CustomMiddleware.Pre[0].Path = ""
				m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{def("Post", "other.py")}
			}},
		{name: "a hook path whose versioned name alone is listed (Tyk's usual manifest)", list: []string{"p1_v0.1.0_linux_amd64.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "p1.so" }},
		{name: "a hook path whose versioned names for other gateways are listed", list: []string{"lib/p1_v5.3.0_linux_arm64.so", "lib/p1_5.3.0_linux_amd64.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "lib/p1.so" }},
		{name: "a hook path without .so whose versioned name is listed", list: []string{"my_plugin_v0.1.0_linux_amd64.so"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "./my_plugin" }},
		{name: "the versioned name of another plugin", list: []string{"p2_v0.1.0_linux_amd64.so"}, errHas: []string{`"p1.so"`, "file_list"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "p1.so" }},
		{name: "the versioned name in another folder", list: []string{"lib/p1_v0.1.0_linux_amd64.so"}, errHas: []string{`"p1.so"`, "file_list"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "p1.so" }},
		{name: "a name that is not a versioned one", list: []string{"p1_v0.1.0.so", "p1__linux_amd64.so", "p1_v0.1.0_linux_amd64.so.bak"}, errHas: []string{`"p1.so"`, "file_list"},
			edit: func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "p1.so" }},
		{name: "a name listed twice", list: []string{"plugin.so", "lib.so", "plugin.so"}, errHas: []string{"plugin.so", "twice"}},
		{name: "names differing only by case", list: []string{"plugin.so", "PLUGIN.so"}, errHas: []string{"PLUGIN.so", "twice"}},
		{name: "a file that is the folder of another", list: []string{"plugin.so", "lib", "lib/x.so"}, errHas: []string{`"lib"`, "folder"}},
		{name: "a file that is the folder of another, in another case", list: []string{"plugin.so", "Lib/x.so", "lib"}, errHas: []string{`"lib"`, "folder"}},
		{name: "folders differing only in case", list: []string{"plugin.so", "Lib/a.so", "lib/b.so"}},
		{name: "a climbing name in file_list", list: []string{"plugin.so", "../etc/passwd"}, errHas: []string{"../etc/passwd"}},
		{name: "an absolute name in file_list", list: []string{"plugin.so", "/etc/passwd"}, errHas: []string{"/etc/passwd"}},
		{name: "a backslash name in file_list", list: []string{"plugin.so", `..\x.so`}, errHas: []string{`x.so`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := goManifest(tt.list...)
			if len(tt.list) == 0 {
				m.CustomMiddleware.Pre = []apidef.MiddlewareDefinition{def("Pre", "plugin.so")}
			}
			if tt.edit != nil {
				tt.edit(m)
			}
			err := bundle.CheckManifest(m)
			if tt.errHas == nil {
				if err != nil {
					t.Fatalf("CheckManifest = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckManifest = nil, want an error mentioning %q", tt.errHas)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("CheckManifest = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"plugin.so", true},
		{"lib/x.so", true},
		{"a/b/c/d.so", true},
		{"..foo", true}, // not a climbing element (Tyk's prefix check wrongly refuses it)
		{"foo..", true},
		{"a..b/c", true},
		{".hidden", true},
		{"with space.so", true},
		{"ünïcode.so", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 255) + "/" + strings.Repeat("b", 255), true},

		{"", false},
		{"/abs", false},
		{"/", false},
		{"..", false},
		{".", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{"a/./b", false},
		{"./a", false},
		{`..\x`, false},
		{`a\b`, false},
		{`C:x`, false},
		{`C:\x`, false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\x1fb", false},
		{"a\x7fb", false},
		{strings.Repeat("a", 513), false},
		{strings.Repeat("a", 256), false},
		{"lib/" + strings.Repeat("a", 256) + "/x.so", false},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, "/", "|"), func(t *testing.T) {
			err := bundle.CheckName(tt.name)
			if tt.ok && err != nil {
				t.Fatalf("CheckName(%q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("CheckName(%q) = nil, want an error", tt.name)
			}
		})
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	junk := filepath.Join(dir, "junk.json")
	writeFiles(t, dir, map[string][]byte{
		"good.json": []byte(`{"file_list":["p.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"p.so"}]},"checksum":"c","signature":"s"}`),
		"junk.json": []byte(`{"file_list": [`),
	})
	m, err := bundle.ReadManifest(good)
	if err != nil {
		t.Fatalf("ReadManifest = %v", err)
	}
	if len(m.FileList) != 1 || m.FileList[0] != "p.so" || m.CustomMiddleware.Pre[0].Name != "Pre" || m.Checksum != "c" || m.Signature != "s" || m.Seal != nil {
		t.Errorf("ReadManifest = %+v", m)
	}
	if _, err := bundle.ReadManifest(junk); err == nil || !strings.Contains(err.Error(), "junk.json") {
		t.Errorf("ReadManifest(junk) = %v, want an error naming the file", err)
	}
	if _, err := bundle.ReadManifest(filepath.Join(dir, "missing.json")); !os.IsNotExist(err) {
		t.Errorf("ReadManifest(missing) = %v, want not-exist", err)
	}
}
