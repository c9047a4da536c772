package redis

import (
	"fmt"
	"strings"
	"time"
)

// Redis can answer PINGs and still refuse what the gateway asks, for a state of its own that an
// operator must change: out of memory under a noeviction policy (OOM), a replica taken for the
// master (READONLY), snapshots that fail to save (MISCONF), too few replicas to write
// (NOREPLICAS). Such a refusal is storage.ErrUnavailable (requests that need Redis get 503, as
// when it does not answer), logged once with what to do rather than once per request, and
// reported by Refusing while it lasts, since the probe's PING passes.

// refusalQuiet is how long after the last refusal the state is taken to have ended: a refusal
// after a quiet spell this long is logged again.
const refusalQuiet = 30 * time.Second

type refusal struct {
	at  time.Time
	err error
}

// refusalAdvice says what to do about an answer of Redis refusing for a state of its own, ""
// for any other answer. block names the configuration block.
func refusalAdvice(msg, block string) string {
	switch {
	case strings.HasPrefix(msg, "OOM "):
		return "Redis is at its maxmemory and its maxmemory-policy refuses writes: raise maxmemory or free memory; until then, requests that must be counted or read a key not held here get 503"
	case strings.HasPrefix(msg, "READONLY "):
		return "the server is a read-only replica (after a failover?): point " + block + ".host and " + block + ".port at the master, or set " + block + ".master_name to follow it through Sentinel"
	case strings.HasPrefix(msg, "MISCONF "):
		return "Redis cannot save its snapshots and stops writes (stop-writes-on-bgsave-error): fix its disk or persistence settings"
	case strings.HasPrefix(msg, "NOREPLICAS "):
		return "Redis's min-replicas-to-write is not met: check its replicas"
	}
	return ""
}

// noteRefusal records a refusal, and logs it when it starts a new spell of them.
func (s *Store) noteRefusal(err error) {
	now := time.Now()
	prev := s.refused.Swap(&refusal{at: now, err: err})
	if prev != nil && now.Sub(prev.at) < refusalQuiet {
		return
	}
	s.log.Error(s.o.Name+": Redis answers but refuses what the gateway asks; "+s.o.DownEffect,
		"redis", s.Describe(), "error", err, "check", refusalAdvice(err.Error(), s.o.Name))
}

// Refusing returns the last refusal of Redis (see refusalAdvice), with what to do, while they
// last: nil once none came for refusalQuiet.
func (s *Store) Refusing() error {
	r := s.refused.Load()
	if r == nil || time.Since(r.at) >= refusalQuiet {
		return nil
	}
	return fmt.Errorf("%w (%s)", r.err, refusalAdvice(r.err.Error(), s.o.Name))
}
