package compiler

import (
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/plugin"
)

// recorded returns the build settings go build records for flags and environment.
func recorded(flags, env []string) map[string]string {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			v = "true"
		}
		out[k] = v
	}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

// TestBuildCopiesEveryComparedSetting gives the gateway each setting the pre-flight check
// compares, in turn: the compiler's flags and environment carry it, so a plugin it builds cannot
// differ from the gateway in it. And the compiler sets nothing the check does not compare, but
// the build mode and the target.
func TestBuildCopiesEveryComparedSetting(t *testing.T) {
	compared := map[string]bool{"-buildmode": true, "GOOS": true, "GOARCH": true}
	for _, s := range plugin.BuildSettings {
		compared[s.Key] = true
		goarch := runtime.GOARCH
		if len(s.Archs) > 0 {
			goarch = s.Archs[0]
		}
		want := "some-value"
		if s.Bool {
			want = "true"
		}
		gw := &Gateway{Settings: map[string]string{s.Key: want}}
		got := recorded(gw.buildFlags(goarch), gw.buildEnv("linux", goarch))
		if got[s.Key] != want {
			t.Errorf("a gateway built with %s=%s builds plugins with %q", s.Key, want, got[s.Key])
		}
	}
	gw, err := Running()
	if err != nil {
		t.Fatal(err)
	}
	for k := range recorded(gw.buildFlags(runtime.GOARCH), gw.buildEnv(runtime.GOOS, runtime.GOARCH)) {
		if !compared[k] {
			t.Errorf("the compiler sets %s, which the pre-flight check does not compare", k)
		}
	}
}
