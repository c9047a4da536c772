package redis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestClaims: a claim one node holds is the other's to read, not to take or write, until it is
// given up or its time runs out; the state written stays for the next holder; spaces are apart;
// more ids than one script call takes are all answered in order.
func TestClaims(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a, b := open(t, Options{Addrs: []string{srv.Addr}}), open(t, Options{Addrs: []string{srv.Addr}})
	ctx := t.Context()

	held, states, err := a.Claim(ctx, "s", "a", []string{"x", "y"}, 10*time.Second)
	if err != nil || !slices.Equal(held, []bool{true, true}) || states[0] != nil || states[1] != nil {
		t.Fatalf("a's first claim: held %v states %q err %v", held, states, err)
	}
	if ok, err := a.PutClaimed(ctx, "s", "a", "x", []byte("down"), time.Minute); !ok || err != nil {
		t.Fatalf("a writes what it holds: %v %v", ok, err)
	}
	held, states, err = b.Claim(ctx, "s", "b", []string{"x", "z"}, 10*time.Second)
	if err != nil || !slices.Equal(held, []bool{false, true}) || string(states[0]) != "down" {
		t.Fatalf("b's claim: held %v states %q err %v", held, states, err)
	}
	if ok, err := b.PutClaimed(ctx, "s", "b", "x", []byte("up"), time.Minute); ok || err != nil {
		t.Fatalf("b wrote a's claim: %v %v", ok, err)
	}
	// Another space is another set of claims.
	if held, _, err := b.Claim(ctx, "t", "b", []string{"x"}, 10*time.Second); err != nil || !held[0] {
		t.Fatalf("b in another space: %v %v", held, err)
	}
	// a renews; b still cannot take it; a gives it up (b's own claim left alone); b takes it
	// and finds a's state.
	if held, _, _ := a.Claim(ctx, "s", "a", []string{"x"}, 10*time.Second); !held[0] {
		t.Fatal("a lost its claim on renewing")
	}
	if err := a.Unclaim(ctx, "s", "a", []string{"x", "z"}); err != nil {
		t.Fatal(err)
	}
	// b still holds z: a third node cannot take it.
	if held, _, _ := a.Claim(ctx, "s", "c", []string{"z"}, 10*time.Second); held[0] {
		t.Fatal("a's Unclaim gave up b's claim")
	}
	held, states, err = b.Claim(ctx, "s", "b", []string{"x", "z"}, 10*time.Second)
	if err != nil || !slices.Equal(held, []bool{true, true}) || string(states[0]) != "down" {
		t.Fatalf("b after a gave x up: held %v states %q err %v", held, states, err)
	}
	// A claim not renewed ends after its time.
	if held, _, _ := a.Claim(ctx, "s", "a", []string{"short"}, 100*time.Millisecond); !held[0] {
		t.Fatal("a could not claim a new id")
	}
	time.Sleep(250 * time.Millisecond)
	if held, _, _ := b.Claim(ctx, "s", "b", []string{"short"}, 10*time.Second); !held[0] {
		t.Fatal("b could not take a claim whose time ran out")
	}
	if ok, _ := a.PutClaimed(ctx, "s", "a", "short", []byte("late"), time.Minute); ok {
		t.Fatal("a wrote a claim it lost")
	}

	// More ids than one call takes.
	ids := make([]string, 2*claimBatch+3)
	for i := range ids {
		ids[i] = fmt.Sprint("n", i)
	}
	if held, _, err := a.Claim(ctx, "many", "a", ids[:claimBatch+1], 10*time.Second); err != nil || slices.Contains(held, false) {
		t.Fatalf("a's claims: %v", err)
	}
	if ok, _ := a.PutClaimed(ctx, "many", "a", ids[claimBatch], []byte("last of a"), time.Minute); !ok {
		t.Fatal("a could not write")
	}
	held, states, err = b.Claim(ctx, "many", "b", ids, 10*time.Second)
	if err != nil || len(held) != len(ids) {
		t.Fatalf("b's claims: %d answers, %v", len(held), err)
	}
	for i := range ids {
		if held[i] != (i > claimBatch) {
			t.Fatalf("b holds %s: %v", ids[i], held[i])
		}
	}
	if string(states[claimBatch]) != "last of a" {
		t.Fatalf("state of %s: %q", ids[claimBatch], states[claimBatch])
	}

	// Keys of another type at a claim's names (another client of Redis): the claim is taken,
	// the state is no state, and the other ids of the call are answered.
	rc := a.client.Load().c
	for _, cmd := range [][]string{{"HSET", claimKey("w", "h"), "f", "v"}, {"LPUSH", stateKey("w", "l"), "v"}} {
		if err := rc.Do(ctx, rc.B().Arbitrary(cmd...).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	held, states, err = a.Claim(ctx, "w", "a", []string{"h", "l", "n"}, 10*time.Second)
	if err != nil || !slices.Equal(held, []bool{true, true, true}) || states[1] != nil {
		t.Fatalf("claims over keys of other types: held %v states %q err %v", held, states, err)
	}
	if ok, err := a.PutClaimed(ctx, "w", "a", "l", []byte("1 0 0"), time.Minute); !ok || err != nil {
		t.Fatalf("writing over a state of another type: %v %v", ok, err)
	}
	if err := a.Unclaim(ctx, "w", "a", []string{"h", "l", "n"}); err != nil {
		t.Fatal(err)
	}

	// Bad calls are errors, not keys outside the space's slot.
	for _, space := range []string{"", "a}b", "{x"} {
		if _, _, err := a.Claim(ctx, space, "a", []string{"x"}, time.Second); err == nil {
			t.Errorf("space %q was accepted", space)
		}
	}
	if _, _, err := a.Claim(ctx, "s", "", []string{"x"}, time.Second); err == nil {
		t.Error("a claim without a holder was accepted")
	}
	if _, _, err := a.Claim(ctx, "s", "a", []string{"x"}, 0); err == nil {
		t.Error("a claim without a time to live was accepted")
	}
}

// TestClaimRenewAndMembers: Renew renews what a node holds and takes nothing, telling the free
// claims from those another node holds; Members counts each node for its time to live, by
// Redis's clock, forgets those that left or stopped calling, and replaces a key of another
// type.
func TestClaimRenewAndMembers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a, b := open(t, Options{Addrs: []string{srv.Addr}}), open(t, Options{Addrs: []string{srv.Addr}})
	ctx := t.Context()

	if _, _, err := a.Claim(ctx, "s", "a", []string{"mine"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.PutClaimed(ctx, "s", "a", "mine", []byte("st"), time.Minute); !ok {
		t.Fatal("a could not write")
	}
	held, free, states, err := b.Renew(ctx, "s", "b", []string{"mine", "nobody's"}, 10*time.Second)
	if err != nil || !slices.Equal(held, []bool{false, false}) || !slices.Equal(free, []bool{false, true}) || string(states[0]) != "st" {
		t.Fatalf("b's renew: held %v free %v states %q err %v", held, free, states, err)
	}
	// Renew took nothing: a third node can still claim the free one.
	if held, _, _ := a.Claim(ctx, "s", "c", []string{"nobody's"}, 10*time.Second); !held[0] {
		t.Fatal("Renew took a free claim")
	}
	// a's renewal keeps its claim past the first time to live.
	if _, _, err := a.Claim(ctx, "s", "a", []string{"short"}, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if held, free, _, err := a.Renew(ctx, "s", "a", []string{"short"}, 300*time.Millisecond); err != nil || !held[0] || free[0] {
		t.Fatalf("a's renew: held %v free %v err %v", held, free, err)
	}
	time.Sleep(200 * time.Millisecond)
	if held, _, _ := b.Claim(ctx, "s", "b", []string{"short"}, 10*time.Second); held[0] {
		t.Fatal("a claim renewed 200 ms ago for 300 ms was taken")
	}

	members := func(st *Store, holder string, ttl time.Duration) []string {
		t.Helper()
		m, err := st.Members(ctx, "s", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if got := members(a, "a", 10*time.Second); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("members after a: %q", got)
	}
	if got := members(b, "b", 300*time.Millisecond); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("members after b: %q", got)
	}
	// b stops calling: it is forgotten after its time to live; a leaves.
	time.Sleep(400 * time.Millisecond)
	if got := members(a, "a", 10*time.Second); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("members once b's time ran out: %q", got)
	}
	if got := members(b, "b", 10*time.Second); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("members with b back: %q", got)
	}
	if err := a.Leave(ctx, "s", "a"); err != nil {
		t.Fatal(err)
	}
	if got := members(b, "b", 10*time.Second); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("members once a left: %q", got)
	}
	// Another space is another set of nodes.
	if got, err := a.Members(ctx, "t", "a", time.Second); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("members of another space: %q %v", got, err)
	}
	// A key of another type at the set's name is replaced.
	rc := a.client.Load().c
	if err := rc.Do(ctx, rc.B().Arbitrary("SET", membersKey("w"), "x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Members(ctx, "w", "a", time.Second); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("members over a string: %q %v", got, err)
	}
	if _, err := a.Members(ctx, "s", "a", 0); err == nil {
		t.Error("a member without a time to live was accepted")
	}
	if _, err := a.Members(ctx, "{x", "a", time.Second); err == nil {
		t.Error("a space that is no hash tag was accepted")
	}
}
