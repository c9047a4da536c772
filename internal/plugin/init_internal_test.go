package plugin

import "testing"

func TestInitPackage(t *testing.T) {
	for fn, want := range map[string]string{
		"example.com/shared.init":              "example.com/shared",
		"example.com/shared.init.0":            "example.com/shared",
		"example.com/a/b.init.12":              "example.com/a/b",
		"gopkg.in/yaml%2ev3.init.0":            "gopkg.in/yaml.v3",
		"example.com/shared.Setup":             "",
		"example.com/shared.init.func1":        "",
		"example.com/shared.init.0.func1":      "",
		"example.com/shared.(*T).init":         "",
		"main.init.0":                          "main",
		"runtime.doInit1":                      "",
		"example.com/noinit":                   "",
		"example.com/shared.initialise":        "",
		"example.com/shared.init.":             "",
		"example.com/shared.glob..func1":       "",
		"example.com/with.dot/shared%2ex.init": "example.com/with.dot/shared.x",
	} {
		if got := initPackage(fn); got != want {
			t.Errorf("initPackage(%q) = %q, want %q", fn, got, want)
		}
	}
}
