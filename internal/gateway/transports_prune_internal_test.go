package gateway

import (
	"log/slog"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
)

// TestTransportsPruneWaitsForBuilds: pruning between reloads drops a transport no snapshot uses,
// but not while a build is under way (a reload's, or an API's discovered targets'), which may
// hold transports no snapshot serves yet.
func TestTransportsPruneWaitsForBuilds(t *testing.T) {
	trs, err := newTransports(config.Default(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	def := &apidef.APIDefinition{APIID: "a"}
	def.Proxy.Transport.SSLForceCommonNameCheck = true
	target, _ := url.Parse("https://one.example:443")
	count := func() int {
		trs.mu.Lock()
		defer trs.mu.Unlock()
		return len(trs.m)
	}
	empty := &snapshot{apis: map[string]*apiRuntime{}}
	trs.begin()
	if _, err := trs.forTarget(def, target); err != nil {
		t.Fatal(err)
	}
	if trs.prune(empty) || count() != 1 {
		t.Fatalf("a prune during a build dropped its transport (%d left)", count())
	}
	trs.end()
	if !trs.prune(empty) || count() != 0 {
		t.Fatalf("a prune after the build kept a transport no snapshot uses (%d left)", count())
	}
}
