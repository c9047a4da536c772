package redis

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/storage"
)

// Leases: a key far from its limits need not pay a round trip on every request.
//
// When a node sees steady traffic on a key whose rate limit and quota are both large, the limit
// script grants it several hits at once, a lease: it counts them in Redis at once (in the rate
// window's current slot and in the quota counter), and the node serves the next requests of
// that key from the lease with no Redis call. Because a leased hit is counted before it is
// served, and served only while the slot it was counted in lasts, the fleet never lets more
// through than the limits allow: a leased hit is a hit that happened at the moment it was
// counted. What a lease costs is what it can strand: hits counted but never served, when the
// node's traffic moves away or the node dies. Three bounds keep that small:
//
//   - a lease holds at most 1/leaseShare (1 %) of either limit, and no more than the node served
//     of that key, per second, times the lease's life;
//   - a lease lives until the rate window's slot ends (a fiftieth of the window), the quota's
//     window ends, or maxLeaseLife passes, whichever is first;
//   - the last tenth of either limit is never leased: near a limit every request is counted on
//     its own, so the end of a quota is reached exactly, by whichever node asks.
//
// Limits under 2*leaseShare are never leased: their keys are counted request by request, as
// without leases.
//
// What a lease did not serve is given back to Redis with the next call for its pair, when the
// pair goes idle (the sweep), when the lease is dropped (queued for the give-back loop, as a
// drop happens on the request path or a connection's reading goroutine) and on Close. A hit
// given back is one never served: the lease stops serving it before it is given back.
//
// A lease is dropped at once when Redis resets the quota it was taken from (Reset marks the
// counter, in a key each leasing node reads through client-side caching, so Redis tells every
// node), when the key's limits change (the next request carries other limits), when the
// connection to Redis is lost (the store's cache epoch), and when DropLeases names its key.
const (
	// leaseShare: a lease holds at most 1/leaseShare of either limit.
	leaseShare = 100
	// maxLeaseLife bounds a lease's life, and so how stale a node's view of a key's usage gets.
	maxLeaseLife = time.Second
	// leaseIdle is how long a key's lease state is kept after its last request.
	leaseIdle = 2 * time.Second
	// leaseMarkPrefix names the key Reset bumps for a quota counter: leasing nodes read it
	// through client-side caching, so Redis tells them when the counter was reset.
	leaseMarkPrefix = "gatehouse-lease-"
)

// leaseKey names the lease state of a pair of limits.
type leaseKey struct{ rate, quota string }

// leases is this node's lease state, per pair of limits.
type leases struct {
	mu sync.RWMutex
	m  map[leaseKey]*lease
	// by indexes m by the slot key (slotKey) of each pair's names, so that what a key change
	// drops is found without looking at every pair.
	by map[string][]*lease
}

// slotKey is what a Redis Cluster hashes of a key's name: its hash tag when it has one, else
// the whole name. The names of a gateway key's counters carry its hash as their tag.
func slotKey(name string) string {
	if tag, ok := hashTag(name); ok {
		return tag
	}
	return name
}

// slotKeys returns the distinct slot keys of a pair's names ("" for none).
func (k leaseKey) slotKeys() (a, b string) {
	if k.rate != "" {
		a = slotKey(k.rate)
	}
	if k.quota != "" {
		if b = slotKey(k.quota); b == a {
			b = ""
		}
	}
	return a, b
}

// lease is one pair's state: the hits it holds, and what sizes the next one.
type lease struct {
	mu sync.Mutex
	// key names the pair; it never changes.
	key leaseKey
	// at is the lease's position in ls.by under each of key.slotKeys() (a, b), so that
	// unindex removes it in O(1) however many pairs share a slot key (a gateway key's pairs,
	// one per API with limits of its own, all share its hash tag). Guarded by ls.mu.
	at [2]int
	// rate and quota are the limits the lease was granted for: other limits drop it.
	rate, quota storage.Spec
	left        int64     // hits granted and not yet served
	until       time.Time // when they stop being servable (this node's monotonic clock)
	epoch       uint64    // the store's cache epoch when granted
	// rateUsed and quotaUsed are the counts Redis reported with the lease (the lease included);
	// a hit served from it reports them less what is left.
	rateUsed, quotaUsed   int64
	rateReset, quotaReset time.Time
	// slot is the rate window's slot the lease was counted in: with quotaReset, where hits it
	// did not serve are given back.
	slot int64
	// gen changes when the lease is dropped: a grant asked for before then is not kept.
	gen uint64
	// dead: swept from the map; a caller that found it there looks again.
	dead bool
	// renewing is the call asking for a lease, while it runs; nil when none is running.
	renewing *renewal
	// waiting counts the requests waiting for renewing (read by tests).
	waiting atomic.Int32
	// noLease, until then, sends every request on its own: the last call refused, or found the
	// limits too close to lease.
	noLease time.Time
	// The requests seen for the pair, to size leases: cur since curStart, prev in the period
	// of prevSpan before it. last is the latest.
	cur, prev      int64
	curStart, last time.Time
	prevSpan       time.Duration
}

// renewal is a call asking for a lease, which the pair's other requests wait for.
type renewal struct {
	// done is closed when the call returned.
	done chan struct{}
	// err, set before done is closed, is the call's error, unless only the context of the
	// request that made it ended: the requests waiting for it fail with it rather than make a
	// call of their own, so that while Redis hangs none of them waits twice storage.timeout.
	err error
}

// meterPeriod is the period over which the requests a pair sees are counted to size its
// leases: long enough that a burst of waiting requests served at once does not look like a
// steady rate.
const meterPeriod = 100 * time.Millisecond

// leaseCap returns the most a lease may hold for the limits: 1/leaseShare of the smaller.
func leaseCap(rate, quota storage.Spec) int64 {
	most := int64(math.MaxInt64)
	if rate.Key != "" {
		most = min(most, rate.Limit/leaseShare)
	}
	if quota.Key != "" {
		most = min(most, quota.Limit/leaseShare)
	}
	return most
}

// get returns the state of a pair, creating it.
func (ls *leases) get(rate, quota string) *lease {
	k := leaseKey{rate, quota}
	ls.mu.RLock()
	l := ls.m[k]
	ls.mu.RUnlock()
	if l != nil {
		return l
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l = ls.m[k]; l == nil {
		if ls.m == nil {
			ls.m = map[leaseKey]*lease{}
		}
		l = &lease{key: leaseKey{strings.Clone(rate), strings.Clone(quota)}}
		ls.m[l.key] = l
		if ls.by == nil {
			ls.by = map[string][]*lease{}
		}
		a, b := l.key.slotKeys()
		for j, sk := range [2]string{a, b} {
			if sk != "" {
				l.at[j] = len(ls.by[sk])
				ls.by[sk] = append(ls.by[sk], l)
			}
		}
	}
	return l
}

// unindex removes l from ls.by in O(1): the last lease of each list takes its place. ls is
// locked for writing.
func (ls *leases) unindex(l *lease) {
	a, b := l.key.slotKeys()
	for j, sk := range [2]string{a, b} {
		if sk == "" {
			continue
		}
		list := ls.by[sk]
		if i := l.at[j]; i < len(list) && list[i] == l {
			last := list[len(list)-1]
			list[i] = last
			last.setAt(sk, i)
			list[len(list)-1] = nil
			list = list[:len(list)-1]
		}
		if len(list) == 0 {
			delete(ls.by, sk)
		} else {
			ls.by[sk] = list
		}
	}
}

// setAt records that l is at position i of ls.by[sk]. ls is locked for writing.
func (l *lease) setAt(sk string, i int) {
	if a, _ := l.key.slotKeys(); a == sk {
		l.at[0] = i
	} else {
		l.at[1] = i
	}
}

// drop forgets what the leases of the pairs with a name of slot key sk hold, of those f
// matches, returning the calls that give back what they held and did not serve.
func (ls *leases) drop(sk string, f func(leaseKey) bool, epoch uint64) (back []rueidis.LuaExec) {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	for _, l := range ls.by[sk] {
		if f(l.key) {
			l.mu.Lock()
			if e, ok := l.dropLocked(epoch); ok {
				back = append(back, e)
			}
			l.mu.Unlock()
		}
	}
	return back
}

// sweep forgets the state of pairs with no request since before idle (all of them when idle is
// zero, on Close), returning the calls that give back what their leases did not serve.
func (ls *leases) sweep(idle time.Time, epoch uint64) (back []rueidis.LuaExec) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for k, l := range ls.m {
		l.mu.Lock()
		if idle.IsZero() || l.renewing == nil && l.last.Before(idle) {
			if e, ok := l.takeBack(epoch); ok {
				back = append(back, e)
			}
			l.dead = true
			delete(ls.m, k)
			ls.unindex(l)
		}
		l.mu.Unlock()
	}
	if len(ls.m) == 0 {
		// A map never shrinks: once idle, let the buckets a burst of keys grew go.
		ls.m, ls.by = nil, nil
	}
	return back
}

// takeBack empties the lease, returning the call that gives back what it held: none when it
// was granted under another cache epoch than epoch, the store's now (Redis was lost since: the
// window it was counted in may have gone with Redis's data, and hits given back would be taken
// from another's counted since). l is locked.
func (l *lease) takeBack(epoch uint64) (rueidis.LuaExec, bool) {
	if l.left <= 0 || l.epoch != epoch {
		l.left = 0
		return rueidis.LuaExec{}, false
	}
	e := giveBackCall(l.rate, l.quota, giveBack{hits: l.left, slot: l.slot, end: l.quotaReset.UnixMilli()})
	l.left = 0
	return e, true
}

// giveBackCall is the call that gives back b, hits of a lease for rate and quota it did not
// serve.
func giveBackCall(rate, quota storage.Spec, b giveBack) rueidis.LuaExec {
	which, slotLen := "", "0"
	var keys []string
	if rate.Key != "" {
		name, slot := windowName(rate)
		which, slotLen, keys = "r", slot, append(keys, name)
	}
	if quota.Key != "" {
		which, keys = which+"q", append(keys, quota.Key)
	}
	return rueidis.LuaExec{Keys: keys, Args: []string{which, strconv.FormatInt(b.hits, 10),
		strconv.FormatInt(b.slot, 10), strconv.FormatInt(b.end, 10), slotLen}}
}

// maxQueuedBack bounds the give-backs of dropped leases waiting for the give-back loop: past
// it (Redis silent while keys keep changing), what more leases held stays counted until its
// window ends, as a lease of a gateway that dies does.
const maxQueuedBack = 1 << 16

// queueBack hands calls that give back what dropped leases held to the give-back loop
// (giveBackLoop): a lease is dropped on the request path and on a connection's reading
// goroutine, which must not wait for Redis.
func (s *Store) queueBack(back []rueidis.LuaExec) {
	if len(back) == 0 {
		return
	}
	s.backMu.Lock()
	n := min(len(back), maxQueuedBack-len(s.backQ))
	s.backQ = append(s.backQ, back[:max(n, 0)]...)
	s.backMu.Unlock()
	if n < len(back) {
		if held, ok := s.backWarn.Allow(time.Now()); ok {
			s.log.Warn("storage: too many dropped leases wait to give back their unserved hits; "+
				"these stay counted until their window ends", "dropped", len(back)-max(n, 0), "held_back_lines", held)
		}
	}
	select {
	case s.backKick <- struct{}{}:
	default:
	}
}

// takeQueuedBack empties the queue of give-backs.
func (s *Store) takeQueuedBack() []rueidis.LuaExec {
	s.backMu.Lock()
	defer s.backMu.Unlock()
	q := s.backQ
	s.backQ = nil
	return q
}

// giveBackLoop gives back what dropped leases held, as they are queued, until the store closes.
func (s *Store) giveBackLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.backKick:
			s.giveBack(s.takeQueuedBack())
		}
	}
}

// giveBack runs calls that give back what leases did not serve, bounded by the timeout. They
// are never retried: a hit given back twice would be a hit granted twice.
func (s *Store) giveBack(back []rueidis.LuaExec) {
	box := s.client.Load()
	if len(back) == 0 || box == nil || !s.up.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	start := time.Now()
	var err error
	for _, r := range giveBackExec.ExecMulti(ctx, box.c, back...) {
		if err = r.Error(); err != nil {
			break
		}
	}
	s.roundTrip("give_back", start, err)
	if err != nil {
		s.log.Debug("storage: could not give back unserved leased hits; they stay counted until their window ends", "error", err)
	}
}

// dropLocked ends the lease: nothing more is served from it, and a grant asked for before is
// not kept. It returns the call that gives back what it held, which the caller queues
// (queueBack). l is locked.
func (l *lease) dropLocked(epoch uint64) (rueidis.LuaExec, bool) {
	e, ok := l.takeBack(epoch)
	l.gen, l.noLease = l.gen+1, time.Time{}
	return e, ok
}

// result is the answer for a hit served from the lease: the counts Redis gave with it, less the
// hits still held.
func (l *lease) result() storage.LimitResult {
	r := storage.LimitResult{Rate: storage.Usage{Allowed: true}, Quota: storage.Usage{Allowed: true}}
	if l.rate.Key != "" {
		r.Rate.Used, r.Rate.Reset = l.rateUsed-l.left, l.rateReset
	}
	if l.quota.Key != "" {
		r.Quota.Used, r.Quota.Reset = l.quotaUsed-l.left, l.quotaReset
	}
	return r
}

// count counts a request for the pair.
func (l *lease) count(now time.Time) {
	if d := now.Sub(l.curStart); d >= meterPeriod {
		l.prev, l.prevSpan, l.cur, l.curStart = l.cur, d, 0, now
	}
	l.cur++
}

// demand returns the requests per second this node saw for the pair over the last one or two
// meter periods, 0 when too few to tell.
func (l *lease) demand(now time.Time) int64 {
	span := l.prevSpan + now.Sub(l.curStart)
	if n := l.prev + l.cur; n >= 2 && span >= meterPeriod/2 {
		return int64(math.Ceil(float64(n) / span.Seconds()))
	}
	return 0
}

// Limit counts a hit against a window and a counter at once, in one round trip, or serves it
// from a lease this node holds for them with none (see leases).
func (s *Store) Limit(ctx context.Context, rate, quota storage.Spec) (storage.LimitResult, error) {
	if err := checkSpecs("limit", rate, quota); err != nil {
		return storage.LimitResult{}, err
	}
	most := leaseCap(rate, quota)
	if most < 2 || s.o.NoLeases || (rate.Key == "" && quota.Key == "") || rate.Smooth.On() {
		r, _, err := s.limit(ctx, rate, quota, "limit", 0, 0, giveBack{})
		return r, err
	}
	l := s.leases.get(rate.Key, quota.Key)
	for {
		l.mu.Lock()
		if l.dead {
			l.mu.Unlock()
			l = s.leases.get(rate.Key, quota.Key)
			continue
		}
		now := time.Now()
		l.last = now
		if l.rate != rate || l.quota != quota {
			if e, ok := l.dropLocked(s.CacheEpoch()); ok {
				s.queueBack([]rueidis.LuaExec{e})
			}
			l.rate, l.quota = rate, quota
			l.cur, l.prev, l.prevSpan, l.curStart = 0, 0, 0, now
		}
		if l.left > 0 && now.Before(l.until) && s.leasesUsable(l.epoch) {
			l.left--
			l.count(now)
			r := l.result()
			l.mu.Unlock()
			return r, nil
		}
		if rn := l.renewing; rn != nil {
			l.waiting.Add(1)
			l.mu.Unlock()
			select {
			case <-rn.done:
				l.waiting.Add(-1)
				if rn.err != nil {
					return storage.LimitResult{}, rn.err
				}
				continue
			case <-ctx.Done():
				l.waiting.Add(-1)
				return storage.LimitResult{}, ctx.Err()
			}
		}
		l.count(now)
		demand := l.demand(now)
		if demand == 0 || now.Before(l.noLease) {
			// Alone, in parallel with others: nothing to wait for.
			l.mu.Unlock()
			r, _, err := s.limit(ctx, rate, quota, "limit", 0, 0, giveBack{})
			return r, err
		}
		return s.renew(ctx, l, demand, most)
	}
}

// renew asks for a lease sized for demand and serves this hit from it; other requests for the
// pair wait for the answer meanwhile. l is locked, and unlocked on return.
func (s *Store) renew(ctx context.Context, l *lease, demand, most int64) (storage.LimitResult, error) {
	rate, quota := l.rate, l.quota
	// What the last lease did not serve is given back with this call: counted in Redis, it
	// would stay there, unserved, until the quota's window ends.
	var back giveBack
	if l.left > 0 && l.epoch == s.CacheEpoch() {
		back = giveBack{hits: l.left, slot: l.slot, end: l.quotaReset.UnixMilli()}
	}
	rn := &renewal{done: make(chan struct{})}
	l.renewing, l.left = rn, 0
	gen := l.gen
	l.mu.Unlock()

	sent := time.Now()
	epoch := s.CacheEpoch()
	// Read first, so that from now on Redis tells this node when the quota is reset.
	marked := quota.Key == "" || s.watchReset(ctx, quota.Key) == nil
	if !marked {
		demand = 0
	}
	if s.beforeRenew != nil {
		s.beforeRenew()
	}
	r, g, err := s.limit(ctx, rate, quota, "limit", demand, most, back)
	if s.afterGrant != nil {
		s.afterGrant(g)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	l.renewing = nil
	if err != nil && ctx.Err() == nil {
		rn.err = err
	}
	close(rn.done)
	if err != nil {
		return r, err
	}
	now := time.Now()
	switch {
	case !r.Allowed() || (g.hits <= 1 && demand > 0):
		// Refused, or too close to a limit to lease: until the slot or the quota's window
		// moves on, the others ask on their own rather than queue behind one another.
		l.noLease = now.Add(noLeaseFor(rate, quota))
	case g.hits > 1 && l.gen == gen && l.rate == rate && l.quota == quota:
		l.left = g.hits - 1
		l.until = sent.Add(g.life)
		l.epoch = epoch
		l.rateUsed, l.rateReset = r.Rate.Used, r.Rate.Reset
		l.quotaUsed, l.quotaReset = r.Quota.Used, r.Quota.Reset
		l.slot = g.slot
		r = l.result()
	default:
		// Dropped meanwhile (a reset, other limits): what was granted beyond this hit is not
		// served, and goes back to Redis (after a reset, the counter's window it was counted in
		// is gone: the script gives nothing back to the new one). The answer for this hit
		// reports the counts less what was granted with it.
		if g.hits > 1 {
			s.queueBack([]rueidis.LuaExec{giveBackCall(rate, quota, giveBack{hits: g.hits - 1, slot: g.slot, end: r.Quota.Reset.UnixMilli()})})
			r.Rate.Used = max(r.Rate.Used-(g.hits-1), 0)
			r.Quota.Used = max(r.Quota.Used-(g.hits-1), 0)
		}
	}
	return r, nil
}

// noLeaseFor is how long a pair that could not be leased is asked about one hit at a time: a
// slot of its rate window, at most maxLeaseLife.
func noLeaseFor(rate, quota storage.Spec) time.Duration {
	d := maxLeaseLife
	if rate.Key != "" {
		d = min(d, storage.SlotLength(rate.Window))
	}
	return d
}

// leasesUsable reports whether a lease granted at epoch may still be served: Redis answers, and
// the client-side cache that carries resets has not been lost since.
func (s *Store) leasesUsable(epoch uint64) bool {
	return s.up.Load() && !s.lost.Load() && !s.closed.Load() && s.epoch.Load() == epoch && s.silentFor() <= s.o.Timeout
}

// watchReset reads the reset mark of a quota counter through client-side caching, so that Redis
// tells this node when Reset bumps it. Once read, it is answered from this node's memory.
func (s *Store) watchReset(ctx context.Context, counter string) error {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	start := time.Now()
	res := c.DoCache(ctx, c.B().Hget().Key(leaseMarkPrefix+counter).Field("n").Cache(), cachedTTL)
	err = res.Error()
	if !res.IsCacheHit() {
		s.roundTrip("lease_mark", start, err)
	}
	if err != nil && !rueidis.IsRedisNil(err) {
		return s.result("lease_mark", err)
	}
	s.replied(res)
	return nil
}

// DropLeases forgets what this node holds of the limits of the keys whose names have one of
// tags as their hash tag ({tag}): the gateway calls it when keys change, so that what a key's
// change does to its limits applies on this node at once. Each tag costs a map lookup, however
// many keys the node holds leases for.
func (s *Store) DropLeases(tags []string) {
	for _, t := range tags {
		if t == "" {
			continue
		}
		s.queueBack(s.leases.drop(t, func(k leaseKey) bool {
			// A name without a tag is indexed by itself: it may equal t and not carry it.
			return hasTag(k.rate, t) || hasTag(k.quota, t)
		}, s.CacheEpoch()))
	}
}

// hasTag reports whether name's hash tag is tag.
func hasTag(name, tag string) bool {
	got, ok := hashTag(name)
	return ok && got == tag
}

// dropQuotaLeases forgets the leases taken from a quota counter.
func (s *Store) dropQuotaLeases(counter string) {
	s.queueBack(s.leases.drop(slotKey(counter), func(k leaseKey) bool { return k.quota == counter }, s.CacheEpoch()))
}
