package prom

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestGatewayLinksNoMetricsLibrary keeps out of the gateway binary what writing the metrics
// ourselves took out of it: a binary that loads plugins keeps every exported method of every
// type it links, so the Prometheus client and protobuf's runtime cost every gateway 5 MB of
// binary and about 5 MiB of resident memory, metrics on or off (docs/performance-log.md, A smaller binary),
// and each module is one more that plugins must match. protowire (the OpenTelemetry exporter's)
// is allowed: it is a small package of functions.
func TestGatewayLinksNoMetricsLibrary(t *testing.T) {
	const cmd = "github.com/gatehouse/gatehouse/cmd/gatehouse"
	out, err := exec.Command("go", "list", "-deps", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", cmd, err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, cmd) || !slices.Contains(deps, "github.com/gatehouse/gatehouse/internal/observe/prom") {
		t.Fatalf("go list -deps did not list the gateway and this package; got %d packages", len(deps))
	}
	banned := []string{
		"github.com/prometheus/", "github.com/beorn7/perks", "github.com/munnerz/goautoneg",
		"google.golang.org/protobuf/proto", "google.golang.org/protobuf/internal/impl",
		"google.golang.org/protobuf/reflect/", "expvar",
	}
	for _, p := range deps {
		for _, b := range banned {
			if p == b || strings.HasPrefix(p, b) && (strings.HasSuffix(b, "/") || strings.HasPrefix(p, b+"/")) {
				t.Errorf("the gateway links %s again (`go mod why %s` says through what); see docs/performance-log.md, A smaller binary", p, p)
			}
		}
	}
}
