package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// recorder collects what a node was told to do.
type recorder struct {
	mu      sync.Mutex
	reloads []string
	keys    [][]string
	resyncs int
	got     chan struct{}
}

func (r *recorder) options(o Options) Options {
	r.got = make(chan struct{}, 100)
	o.OnReload = func(cmd string) { r.mu.Lock(); r.reloads = append(r.reloads, cmd); r.mu.Unlock(); r.got <- struct{}{} }
	o.OnKeys = func(h []string) { r.mu.Lock(); r.keys = append(r.keys, h); r.mu.Unlock(); r.got <- struct{}{} }
	o.OnResync = func() { r.mu.Lock(); r.resyncs++; r.mu.Unlock() }
	return o
}

func (r *recorder) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: nothing received", what)
	}
}

func (r *recorder) wantNothing(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.got:
		t.Fatalf("%s: the node acted on it", what)
	case <-time.After(100 * time.Millisecond):
	}
}

// start runs a node on bus until the test ends, and waits until it listens.
func start(t *testing.T, bus *memory.Store, secret string) (*Node, *recorder) {
	t.Helper()
	r := &recorder{}
	n, err := New(r.options(Options{Bus: bus, Secret: secret}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The memory bus subscribes synchronously; give the goroutine a moment to get there.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if n.subsMade() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node did not subscribe")
		}
	}
	return n, r
}

func (n *Node) subsMade() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.subs
}

func TestNotificationsReachOtherNodes(t *testing.T) {
	bus := memory.New()
	defer bus.Close()
	a, ra := start(t, bus, "shared")
	b, rb := start(t, bus, "shared")
	ctx := t.Context()

	if err := a.Publish(ctx, GroupReload, ""); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, "group reload")
	ra.wantNothing(t, "the sender's own group reload")
	if err := a.Publish(ctx, KeySpaceUpdate, "h1,h2"); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, "key space update")
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.reloads) != 1 || rb.reloads[0] != GroupReload || len(rb.keys) != 1 || len(rb.keys[0]) != 2 || rb.keys[0][1] != "h2" {
		t.Errorf("node b got reloads %q and keys %q", rb.reloads, rb.keys)
	}
	// b saw a, last with its key space update; a heard from no one.
	if p := b.Peers(); len(p) != 1 || p[0].Node != a.ID() || p[0].LastCommand != KeySpaceUpdate || p[0].LastSeen.IsZero() {
		t.Errorf("node b's peers: %+v, want node a (%s) with its last command", p, a.ID())
	}
	if p := a.Peers(); len(p) != 0 {
		t.Errorf("node a heard from %+v, want no one", p)
	}
}

// TestPeersBounded: a node remembers at most maxPeers others, forgetting the one heard from
// longest ago.
func TestPeersBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	bus := memory.New()
	defer bus.Close()
	n, err := New(Options{Bus: bus, Secret: "s", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxPeers + 10 {
		now = now.Add(time.Second)
		n.heard(fmt.Sprintf("node-%03d", i), GroupReload)
	}
	p := n.Peers()
	if len(p) != maxPeers {
		t.Fatalf("%d peers remembered, want %d", len(p), maxPeers)
	}
	if p[0].Node != fmt.Sprintf("node-%03d", maxPeers+9) || p[len(p)-1].Node != "node-010" {
		t.Errorf("peers run from %s to %s, want the most recent first and the 10 oldest forgotten", p[0].Node, p[len(p)-1].Node)
	}
}

// TestForgedAndReplayedRefused publishes what a client of Redis without the secret could: a
// notification signed with another secret, Tyk's own format, an old one, a recorded one sent
// again. None is acted on.
func TestForgedAndReplayedRefused(t *testing.T) {
	bus := memory.New()
	defer bus.Close()
	nb, rb := start(t, bus, "shared")
	ctx := t.Context()
	raw := func(n Notification) []byte {
		data, _ := json.Marshal(n)
		return data
	}
	signed := func(n Notification, secret string) Notification {
		n.Algorithm = Algorithm
		n.Signature = n.sign(signingKey(secret))
		return n
	}
	now := time.Now().UnixMilli()
	good := signed(Notification{Command: GroupReload, Node: "attacker", Time: now}, "shared")
	tyk, _ := json.Marshal(map[string]any{"command": "GroupReload", "payload": "", "signature": "abc", "algorithm": 5})
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"another secret", raw(signed(Notification{Command: GroupReload, Node: "x", Time: now}, "guess"))},
		{"unsigned", raw(Notification{Command: GroupReload, Node: "x", Time: now, Algorithm: Algorithm})},
		{"Tyk's format", tyk},
		{"not JSON", []byte("GroupReload")},
		{"too old", raw(signed(Notification{Command: GroupReload, Node: "x", Time: now - 2*MaxAge.Milliseconds()}, "shared"))},
		{"from the future", raw(signed(Notification{Command: GroupReload, Node: "x", Time: now + 2*MaxAge.Milliseconds()}, "shared"))},
		{"payload changed after signing", raw(func() Notification { n := good; n.Command = PolicyChanged; return n }())},
	} {
		if err := bus.Publish(ctx, Channel, c.msg); err != nil {
			t.Fatal(err)
		}
		rb.wantNothing(t, c.name)
	}
	// A good one is acted on once; the same bytes again are a replay.
	if err := bus.Publish(ctx, Channel, raw(good)); err != nil {
		t.Fatal(err)
	}
	rb.wait(t, "a well-signed notification")
	if err := bus.Publish(ctx, Channel, raw(good)); err != nil {
		t.Fatal(err)
	}
	rb.wantNothing(t, "the same notification replayed")
	// Only the well-signed notification's sender counts as a node of the fleet.
	if p := nb.Peers(); len(p) != 1 || p[0].Node != "attacker" {
		t.Errorf("peers after forged notifications: %+v, want only the well-signed one's node", p)
	}
}

func TestResyncAfterResubscribing(t *testing.T) {
	r := &recorder{}
	bus := memory.New()
	defer bus.Close()
	n, err := New(r.options(Options{Bus: bus, Secret: "s"}))
	if err != nil {
		t.Fatal(err)
	}
	n.subscribed()
	if r.resyncs != 0 {
		t.Errorf("the first subscription resynchronised")
	}
	n.subscribed()
	n.subscribed()
	if r.resyncs != 2 {
		t.Errorf("%d resyncs after two resubscriptions, want 2", r.resyncs)
	}
}

func TestNoSecret(t *testing.T) {
	bus := memory.New()
	defer bus.Close()
	if _, err := New(Options{Bus: bus}); err == nil {
		t.Error("New without a secret: no error")
	}
}
