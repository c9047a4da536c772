package sdktest_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestStdlibOnly enforces the rule that the packages plugins link against use the standard
// library alone: a plugin is built against exactly these packages (see source.go, which embeds
// their source for the plugin compiler), so a third-party or other internal import would reach
// every plugin, or fail plugin builds outright.
func TestStdlibOnly(t *testing.T) {
	const mod = "github.com/gatehouse/gatehouse/"
	allowed := []string{mod + "apidef", mod + "sdk", mod + "sdk/sdktest", mod + "internal/reqctx"}
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, allowed...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deps := strings.Fields(string(out))
	for _, want := range allowed {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps did not list %s itself; got %q", want, deps)
		}
	}
	for _, p := range deps {
		if !slices.Contains(allowed, p) {
			t.Errorf("%s is imported by a package plugins link against (apidef, sdk, sdk/sdktest, internal/reqctx), which may use only the standard library; remove the import", p)
		}
	}
}
