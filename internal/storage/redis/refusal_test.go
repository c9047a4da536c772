package redis

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestRefusalsSaidOnce: a Redis that answers but refuses writes, out of memory under noeviction
// or a replica taken for the master, makes each call fail as unavailable (so requests get 503,
// not 500), with what to do; the log says it once however many calls it refuses, and Refusing
// reports it while it lasts (the probe's PING passes). Reads it still serves are served.
func TestRefusalsSaidOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, advice string
		refuse       []string
	}{
		{"oom", "raise maxmemory", []string{"CONFIG", "SET", "maxmemory", "1"}},
		{"replica", "read-only replica", []string{"REPLICAOF", "127.0.0.1", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", "noeviction"}})
			var log testkit.SyncBuffer
			s := open(t, Options{Addrs: []string{srv.Addr}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err := s.Set(t.Context(), "kept", []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Refusing(); err != nil {
				t.Fatalf("Refusing = %v before any refusal", err)
			}
			redistest.CLI(t, srv.Addr, tc.refuse...)
			for i := range 50 {
				err := s.Set(t.Context(), "k", []byte("v"), time.Minute)
				if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), tc.advice) {
					t.Fatalf("write %d = %v, want unavailable, saying %q", i, err, tc.advice)
				}
			}
			if v, err := s.Get(t.Context(), "kept"); err != nil || string(v) != "v" {
				t.Errorf("Get = %q, %v: reads it serves are served", v, err)
			}
			if err := s.Refusing(); err == nil || !strings.Contains(err.Error(), tc.advice) {
				t.Errorf("Refusing = %v, want the refusal with %q", err, tc.advice)
			}
			if _, err := s.Probe(t.Context()); err != nil {
				t.Errorf("Probe = %v: Redis answers", err)
			}
			if n := strings.Count(log.String(), "Redis answers but refuses"); n != 1 {
				t.Errorf("the refusals were logged %d times, want once:\n%s", n, log.String())
			}
		})
	}
}
