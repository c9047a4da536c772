package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

func TestPushList(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var ops []string
	s := open(t, Options{Addrs: []string{srv.Addr}, OnRoundTrip: func(op string, _ time.Duration, err error) {
		if op == "rpush" {
			ops = append(ops, fmt.Sprint(err))
		}
	}})
	ctx := context.Background()

	// More values than one RPUSH carries, binary ones among them.
	var vals [][]byte
	for i := range 600 {
		vals = append(vals, []byte{0xde, 0x00, byte(i), byte(i >> 8), 0x0d, 0x0a})
	}
	if err := s.PushList(ctx, "analytics-x", vals, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := redistest.CLI(t, srv.Addr, "llen", "analytics-x"); strings.TrimSpace(n) != "600" {
		t.Fatalf("LLEN = %q, want 600", n)
	}
	c, _, cancel, err := s.conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	got, err := c.Do(ctx, c.B().Lrange().Key("analytics-x").Start(0).Stop(-1).Build()).AsStrSlice()
	if err != nil || len(got) != 600 {
		t.Fatalf("LRANGE: %d values, %v", len(got), err)
	}
	for i, v := range got {
		if v != string(vals[i]) {
			t.Fatalf("value %d = %q, want %q: the order or the bytes changed", i, v, vals[i])
		}
	}
	ttl := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(redistest.CLI(t, srv.Addr, "ttl", "analytics-x")))
		return n
	}
	if n := ttl(); n <= 0 || n > 60 {
		t.Errorf("TTL = %d, want 1 to 60", n)
	}

	// A list that has a TTL keeps it; one without gets it.
	redistest.CLI(t, srv.Addr, "expire", "analytics-x", "5000")
	if err := s.PushList(ctx, "analytics-x", vals[:1], time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := ttl(); n <= 60 {
		t.Errorf("TTL = %d after a push: a TTL already set must stay", n)
	}
	redistest.CLI(t, srv.Addr, "persist", "analytics-x")
	if err := s.PushList(ctx, "analytics-x", vals[:1], time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := ttl(); n <= 0 || n > 60 {
		t.Errorf("TTL = %d, want 1 to 60 on a list that had none", n)
	}
	// No TTL asked: none set.
	if err := s.PushList(ctx, "analytics-y", vals[:1], 0); err != nil {
		t.Fatal(err)
	}
	if n := strings.TrimSpace(redistest.CLI(t, srv.Addr, "ttl", "analytics-y")); n != "-1" {
		t.Errorf("TTL without expiry = %s, want -1", n)
	}
	if len(ops) != 4 || ops[0] != "<nil>" {
		t.Errorf("round trips reported: %q, want 4 without error", ops)
	}

	// Redis down: an error matching storage.ErrUnavailable, at once once the probe knows.
	srv.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.PushList(ctx, "analytics-x", vals[:1], time.Minute)
		if errors.Is(err, storage.ErrUnavailable) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PushList with Redis down = %v, want storage.ErrUnavailable", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPushListExpiryRefused: an ACL user that may push but not run TTL and EXPIRE in the expiry
// script gets its values written, and PushList says so (no error: nothing was lost), logging
// the refusal once.
func TestPushListExpiryRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--user", "pump", "on", ">pw", "~*",
		"+rpush", "+eval", "+ping", "+hello", "+client", "+llen"}})
	var log testkit.SyncBuffer
	s := open(t, Options{Addrs: []string{srv.Addr}, Username: "pump", Password: "pw", NoCache: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	for range 3 {
		if err := s.PushList(t.Context(), "analytics-acl", [][]byte{[]byte("a"), []byte("b")}, time.Minute); err != nil {
			t.Fatalf("PushList = %v, want the values written", err)
		}
	}
	if n := redistest.CLI(t, srv.Addr, "--user", "pump", "--pass", "pw", "--no-auth-warning", "llen", "analytics-acl"); strings.TrimSpace(n) != "6" {
		t.Errorf("LLEN = %q, want 6", n)
	}
	if n := strings.Count(log.String(), "a list's expiry could not be set"); n != 1 {
		t.Errorf("the refused expiry was logged %d times, want once:\n%s", n, log.String())
	}
}
