package basicauth

import (
	"slices"
	"sync"
	"time"
)

// addrBook follows, per client address, the username and address pairs it holds live: pairs
// whose failures still count or which are locked (until), or which have checks in flight.
// An address holds at most MaxPerAddress of them, so a flood of usernames from one address
// cannot fill the limiter's shards with locked pairs (which would refuse other clients' new
// usernames). Past the bound, that address's new usernames are refused, not its live pairs
// dropped: dropping them would let an attacker clear their own lockouts by flooding. The
// book keeps its own expiry times, so it never locks a shard while holding its own lock.
type addrBook struct {
	mu sync.Mutex
	m  map[[16]byte]*addrEntries
	// max bounds the addresses followed; when full, an address with no locked pair and no
	// check in flight makes room, and a new address is refused when there is none.
	max int
	// fullUntil: when no address could be dropped, the earliest time one can (a full scan
	// is not repeated before then unless an address leaves on its own).
	fullUntil time.Time
}

type addrEntries struct {
	pairs []addrPair
}

type addrPair struct {
	pair     [16]byte
	until    time.Time // live until then (zero: only while checks are in flight)
	locked   time.Time // locked out until then: its address keeps its place in the book
	inFlight int
}

func (p *addrPair) live(now time.Time) bool { return p.inFlight > 0 || now.Before(p.until) }

// admit reserves a check of pair from addr: false when addr already holds MaxPerAddress live
// pairs and pair is not one of them (or the book is full of live addresses). After a true,
// the caller must call finish exactly once.
func (b *addrBook) admit(addr, pair [16]byte, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[addr]
	if !ok {
		if len(b.m) >= b.max && !b.evict(now) {
			return false
		}
		e = &addrEntries{}
		b.m[addr] = e
	}
	for i := range e.pairs {
		if e.pairs[i].pair == pair {
			e.pairs[i].inFlight++
			return true
		}
	}
	if len(e.pairs) >= MaxPerAddress {
		e.pairs = slices.DeleteFunc(e.pairs, func(p addrPair) bool { return !p.live(now) })
		if len(e.pairs) >= MaxPerAddress {
			return false
		}
	}
	e.pairs = append(e.pairs, addrPair{pair: pair, inFlight: 1})
	return true
}

// finish ends a check admitted for pair from addr: the pair stays live until until (when
// later than what the book had; a lockout's end when locked), or is forgotten (a success
// cleared its failures).
func (b *addrBook) finish(addr, pair [16]byte, until time.Time, locked, forget bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[addr]
	if !ok {
		return // cannot happen: an address with a check in flight is never dropped
	}
	i := slices.IndexFunc(e.pairs, func(p addrPair) bool { return p.pair == pair })
	if i < 0 {
		return // cannot happen, likewise
	}
	p := &e.pairs[i]
	p.inFlight--
	if forget {
		p.until, p.locked = time.Time{}, time.Time{}
		b.fullUntil = time.Time{} // its address may make room now
	} else if until.After(p.until) {
		p.until = until
	}
	if locked && until.After(p.locked) {
		p.locked = until
	}
	if !p.live(now) {
		e.pairs = slices.Delete(e.pairs, i, i+1)
	}
	if len(e.pairs) == 0 {
		delete(b.m, addr)
		b.fullUntil = time.Time{}
	}
}

// evict drops one address none of whose pairs is locked at now or has a check in flight (as
// the shards drop an entry that is only counting failures: a book that addresses failing once
// each could fill would keep every other client's new address out); false when there is none.
// The failures of the pairs it forgets still count in the shards.
func (b *addrBook) evict(now time.Time) bool {
	if now.Before(b.fullUntil) {
		return false
	}
	var next time.Time
	busy := false // an address has a check in flight: it may leave on its own soon
	for a, e := range b.m {
		var last time.Time // when e's last lockout ends
		inFlight := false
		for _, p := range e.pairs {
			if p.inFlight > 0 {
				inFlight = true
				break
			}
			if p.locked.After(last) {
				last = p.locked
			}
		}
		if !inFlight && !now.Before(last) {
			delete(b.m, a)
			b.fullUntil = time.Time{}
			return true
		}
		if inFlight {
			busy = true
		} else if next.IsZero() || last.Before(next) {
			next = last
		}
	}
	if !busy {
		b.fullUntil = next
	}
	return false
}
