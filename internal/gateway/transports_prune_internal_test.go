package gateway

import (
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
)

// TestTransportsPruneSparesRecent: pruning between reloads keeps a transport no snapshot uses
// yet when it was handed out after the time given (a build under way holds it), and drops it
// once it is older; retain, at the end of a reload, drops it whatever its age.
func TestTransportsPruneSparesRecent(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	trs, err := newTransports(config.Default(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	trs.now = func() time.Time { return now }
	def := &apidef.APIDefinition{APIID: "a"}
	def.Proxy.Transport.SSLForceCommonNameCheck = true
	target, _ := url.Parse("https://one.example:443")
	if _, err := trs.forTarget(def, target); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		trs.mu.Lock()
		defer trs.mu.Unlock()
		return len(trs.m)
	}
	empty := &snapshot{apis: map[string]*apiRuntime{}}
	trs.prune(empty, now.Add(-time.Minute))
	if count() != 1 {
		t.Fatal("prune dropped a transport handed out after the time given")
	}
	trs.prune(empty, now.Add(time.Second))
	if count() != 0 {
		t.Fatal("prune kept a transport no snapshot uses, handed out before the time given")
	}
	if _, err := trs.forTarget(def, target); err != nil {
		t.Fatal(err)
	}
	trs.retain(empty)
	if count() != 0 || len(trs.handed) != 0 {
		t.Fatalf("retain kept %d transports (%d hand-out times)", count(), len(trs.handed))
	}
}
