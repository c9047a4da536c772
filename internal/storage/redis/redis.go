// Package redis is the storage backend that lets several gateways share keys, rate limits,
// quotas, API definitions and notifications: a Redis server, a Redis Cluster or a master found
// through Sentinel, through the github.com/redis/rueidis client.
//
// The store never holds up the gateway. New returns at once and connects in the background,
// retrying until it succeeds; every call is bounded by Options.Timeout; and while Redis does not
// answer (the background probe failed, or the client was never connected) calls fail at once
// with an error matching storage.ErrUnavailable rather than waiting, so keyed requests fail
// closed promptly. Keyless requests touch Redis only for an API's global_rate_limit.
//
// Session reads on the request path (GetCached) use Redis's server-assisted client-side caching
// (RESP3 CLIENT TRACKING): a value read once is kept on this node until Redis says it changed, so
// a keyed request costs no round trip for its session. Counters and windows are kept by Lua
// scripts that read the Redis server's clock, so every node counts alike and a request's rate
// limit and quota cost one round trip together, and none at all while this node serves a key's
// large limits from a lease it took in Redis (lease.go).
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Options configure a Store.
type Options struct {
	// Addrs are the servers as host:port. A standalone client uses the first; a cluster client
	// discovers the cluster from any of them; with MasterName they are the Sentinels.
	Addrs []string
	// MasterName finds the master through Sentinel under this name.
	MasterName string
	// SentinelPassword authenticates to the Sentinels.
	SentinelPassword string
	// Cluster talks to a Redis Cluster.
	Cluster bool
	// Username and Password authenticate to Redis (ACL user, or the password alone).
	Username, Password string
	// Database is the database number (0 with a cluster).
	Database int
	// TLS, when not nil, connects with TLS.
	TLS *tls.Config
	// Timeout bounds connecting and every call. Default 1s.
	Timeout time.Duration
	// PoolSize is the pool of connections per server for calls that cannot be pipelined.
	PoolSize int
	// CacheBytes bounds the client-side cache of each connection. Default 16 MiB.
	CacheBytes int
	// NoCache turns the client-side cache (and Redis's tracking of what it read) off, for a
	// store that is only written to (the analytics Redis).
	NoCache bool
	// ProbeInterval is how often the server is pinged for health. Default 1s.
	ProbeInterval time.Duration
	// Logger receives connection state changes; nil discards them.
	Logger *slog.Logger
	// OnInvalidate, when set, is called with the keys Redis says changed (or expired) after
	// this node read them through GetCached. It is not called when a connection is lost (the
	// client-side cache is dropped then) nor for a flush of the whole database. It runs on a
	// connection's reading goroutine and must not block.
	OnInvalidate func(keys []string)
	// OnRoundTrip, when set, is called after every round trip to Redis (not for a value the
	// client-side cache answered, nor for a call refused at once while Redis is down) with the
	// operation's name (get, set, limit, ping...), its time and its error (nil for any answer,
	// a nil reply among them). It must not block.
	OnRoundTrip func(op string, d time.Duration, err error)
	// NoLeases counts every keyed request's rate limit and quota in Redis on its own, never
	// from a lease this node holds (see Limit): for tests and measurements.
	NoLeases bool
	// Name is the configuration block the options come from, named in logs and advice
	// ("storage" when empty; "analytics_storage").
	Name string
	// DownEffect says in the log what Redis not answering does to traffic; "" is the store's:
	// keyed requests fail closed.
	DownEffect string
	// OnUp, when set, is called when the store connects, with first true the first time, and
	// whenever Redis answers again after the probe found it down. It runs on the probing
	// goroutine and must not block.
	OnUp func(first bool)
}

const (
	defaultTimeout       = time.Second
	defaultCacheBytes    = 16 << 20
	defaultProbeInterval = time.Second
	// cachedTTL bounds how long a value read with GetCached stays cached on this node. Redis
	// invalidates it the moment it changes; the bound only frees memory for keys never read again.
	cachedTTL = time.Hour
	// maxRetryDelay bounds the wait between two attempts to connect (or to subscribe), so a
	// gateway finds Redis again within a few seconds of it coming back.
	maxRetryDelay = 2 * time.Second
)

// Store is a storage.Store on Redis. It is safe for concurrent use.
type Store struct {
	o   Options
	log *slog.Logger

	client    atomic.Pointer[clientBox]
	connected chan struct{} // closed once a client exists

	// up is the verdict of the last probe: false means calls fail at once.
	up atomic.Bool
	// lastReply is when Redis last answered anything (Unix nanoseconds): the probe, or a call
	// that reached it.
	lastReply atomic.Int64
	// epoch counts the times coherence of the client-side cache was restored after it was
	// lost: rueidis drops a connection's cache when the connection closes (or Redis flushes),
	// which sets lost; the next answer from Redis bumps epoch.
	epoch    atomic.Uint64
	lost     atomic.Bool
	state    sync.Mutex
	lastErr  error
	advice   string // what to check about lastErr (advice.go)
	rtt      time.Duration
	reported bool // the current outage was logged
	everUp   bool
	// refused is the last refusal Redis answered for a state of its own (refusal.go).
	refused atomic.Pointer[refusal]

	// leases are what this node holds of keys' limits (lease.go).
	leases leases
	// backQ holds the calls that give back what dropped leases held, for giveBackLoop, which
	// backKick wakes; backWarn spaces out the line saying the queue is full.
	backMu   sync.Mutex
	backQ    []rueidis.LuaExec
	backKick chan struct{}
	backWarn logevery.Gate
	// subs counts the running subscriptions (bus.go), which Close waits for; subMu orders
	// their start with Close. dropped counts the messages too large to hand on, droppedWarn
	// spaces out the line saying so.
	subMu       sync.Mutex
	subs        sync.WaitGroup
	dropped     atomic.Int64
	droppedWarn logevery.Gate
	// beforeRenew, when set (by tests), is called before a call asking for a lease is made.
	beforeRenew func()
	// afterGrant, when set (by tests), is called with what a call asking for a lease was
	// granted, before the lease is locked again.
	afterGrant func(grant)
	// expiryWarn bounds how often a list's expiry that could not be set is logged (list.go).
	expiryWarn logevery.Gate

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// clientBox holds the client, so that it can live in an atomic.Pointer.
type clientBox struct{ c rueidis.Client }

var (
	_ storage.Store      = (*Store)(nil)
	_ storage.Prober     = (*Store)(nil)
	_ storage.CacheEpoch = (*Store)(nil)
	_ storage.Leases     = (*Store)(nil)
)

// New returns a Store and starts connecting to Redis in the background. It fails only for
// options that can never work.
func New(o Options) (*Store, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: no server address")
	}
	if o.Cluster && o.Database != 0 && o.MasterName == "" {
		return nil, errors.New("redis: a Redis Cluster has only database 0")
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = defaultCacheBytes
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = defaultProbeInterval
	}
	// A quiet gateway hears from Redis through the probe alone: often enough that a copy in
	// the client-side cache is never refused for silence while Redis answers (GetCached).
	o.ProbeInterval = min(o.ProbeInterval, max(o.Timeout/2, 10*time.Millisecond))
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Name == "" {
		o.Name = "storage"
	}
	if o.DownEffect == "" {
		o.DownEffect = "keyed requests fail closed with 503 until it is back"
	}
	s := &Store{o: o, log: o.Logger, connected: make(chan struct{}), expiryWarn: logevery.Gate{Every: time.Minute},
		backKick: make(chan struct{}, 1), backWarn: logevery.Gate{Every: time.Minute},
		droppedWarn: logevery.Gate{Every: time.Minute}}
	s.lastErr = errors.New("connecting")
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.run()
	go s.giveBackLoop()
	return s, nil
}

// clientOption is the rueidis configuration for the options.
func (s *Store) clientOption() rueidis.ClientOption {
	o := s.o
	opt := rueidis.ClientOption{
		InitAddress:       o.Addrs,
		Username:          o.Username,
		Password:          o.Password,
		SelectDB:          o.Database,
		TLSConfig:         o.TLS,
		ClientName:        "gatehouse",
		CacheSizeEachConn: o.CacheBytes,
		BlockingPoolSize:  o.PoolSize,
		// A server that stops answering is dropped after a few timeouts, and the connection
		// made again, rather than after the operating system's keep-alive gives up.
		ConnWriteTimeout: max(3*o.Timeout, 3*time.Second),
		// The tracking connections learn of changes to what they cached.
		ClientTrackingOptions: []string{"OPTIN"},
		RetryDelay: func(attempts int, _ rueidis.Completed, _ error) time.Duration {
			return min(time.Duration(attempts)*50*time.Millisecond, maxRetryDelay)
		},
	}
	opt.OnInvalidations = func(msgs []rueidis.RedisMessage) {
		// nil means "everything": a connection lost (its cache with it) or a flushed database.
		if msgs == nil {
			s.lost.Store(true)
			return
		}
		keys := make([]string, 0, len(msgs))
		for _, m := range msgs {
			k, err := m.ToString()
			if err != nil {
				continue
			}
			if counter, ok := strings.CutPrefix(k, leaseMarkPrefix); ok {
				// A quota counter was reset (or its mark expired): its leases end.
				s.dropQuotaLeases(counter)
				continue
			}
			keys = append(keys, k)
		}
		if o.OnInvalidate != nil && len(keys) > 0 {
			o.OnInvalidate(keys)
		}
	}
	if o.NoCache {
		opt.DisableCache, opt.ClientTrackingOptions, opt.CacheSizeEachConn = true, nil, 0
	}
	opt.Dialer.Timeout = o.Timeout
	switch {
	case o.MasterName != "":
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet: o.MasterName, Password: o.SentinelPassword, TLSConfig: o.TLS,
			// Besides following +switch-master events, ask the Sentinels now and then, so that
			// one missed event does not bind the gateway to a demoted master.
			TopologyRefreshInterval: 5 * time.Second,
		}
		opt.Sentinel.Dialer.Timeout = o.Timeout
	case o.Cluster:
	default:
		// Only the first address, as Tyk's single-node client does; and never guess a cluster.
		opt.InitAddress = o.Addrs[:1]
		opt.ForceSingleClient = true
	}
	return opt
}

// run connects, then probes the server until Close.
func (s *Store) run() {
	defer s.wg.Done()
	delay := 50 * time.Millisecond
	for {
		c, rtt, err := s.connect()
		if err == nil {
			s.client.Store(&clientBox{c})
			s.markUp(rtt)
			close(s.connected)
			break
		}
		s.markDown(err)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
	t := time.NewTicker(s.o.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.giveBack(s.leases.sweep(time.Now().Add(-leaseIdle), s.CacheEpoch()))
			if rtt, err := s.ping(); err != nil {
				s.markDown(err)
			} else {
				s.markUp(rtt)
			}
		}
	}
}

// connect makes a client and checks that it reaches the server, returning the round-trip time
// of a PING.
func (s *Store) connect() (rueidis.Client, time.Duration, error) {
	type result struct {
		c   rueidis.Client
		rtt time.Duration
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := rueidis.NewClient(s.clientOption())
		if err != nil && c != nil {
			c.Close() // a standalone client comes back even when it could not connect
			c = nil
		}
		var rtt time.Duration
		if err == nil {
			ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
			start := time.Now()
			err = c.Do(ctx, c.B().Ping().Build()).Error()
			rtt = time.Since(start)
			cancel()
			if err != nil {
				c.Close()
				c = nil
			}
		}
		ch <- result{c, rtt, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.rtt, r.err
	case <-s.ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, 0, s.ctx.Err()
	}
}

func (s *Store) ping() (time.Duration, error) {
	box := s.client.Load()
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	start := time.Now()
	err := box.c.Do(ctx, box.c.B().Ping().Build()).Error()
	s.roundTrip("ping", start, err)
	return time.Since(start), err
}

// roundTrip reports a round trip that started at start to Options.OnRoundTrip.
func (s *Store) roundTrip(op string, start time.Time, err error) {
	if f := s.o.OnRoundTrip; f != nil {
		if rueidis.IsRedisNil(err) {
			err = nil
		}
		f(op, time.Since(start), err)
	}
}

// repliedNow notes that Redis just answered a call.
func (s *Store) repliedNow() {
	s.lastReply.Store(time.Now().UnixNano())
	if s.lost.Load() && s.lost.CompareAndSwap(true, false) {
		s.epoch.Add(1)
	}
}

// replied notes an answer, unless it came from the client-side cache.
func (s *Store) replied(res rueidis.RedisResult) {
	if !res.IsCacheHit() {
		s.repliedNow()
	}
}

// silentFor returns how long Redis has not answered anything.
func (s *Store) silentFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - s.lastReply.Load())
}

// CacheEpoch implements storage.CacheEpoch: it changes when the client-side cache, lost with a
// connection or a flush, is coherent again.
func (s *Store) CacheEpoch() uint64 { return s.epoch.Load() }

func (s *Store) markUp(rtt time.Duration) {
	s.repliedNow()
	s.state.Lock()
	s.rtt, s.lastErr = rtt, nil
	s.up.Store(true)
	back, first := s.reported && s.everUp, !s.everUp
	s.reported, s.everUp = false, true
	s.state.Unlock()
	if back || first {
		s.log.Info(s.o.Name+": connected to Redis", "redis", s.Describe())
		if s.o.OnUp != nil {
			s.o.OnUp(first)
		}
	}
}

func (s *Store) markDown(err error) {
	if s.ctx.Err() != nil {
		return
	}
	s.state.Lock()
	defer s.state.Unlock()
	s.lastErr, s.advice = err, s.adviceFor(err, s.everUp)
	s.up.Store(false)
	if !s.reported {
		s.reported = true
		attrs := []any{"redis", s.Describe(), "error", err}
		if s.advice != "" {
			attrs = append(attrs, "check", s.advice)
		}
		s.log.Error(s.o.Name+": Redis is unavailable; "+s.o.DownEffect, attrs...)
	}
}

// WaitConnected waits until the store has connected once, or ctx ends.
func (s *Store) WaitConnected(ctx context.Context) error {
	select {
	case <-s.connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %s", storage.ErrUnavailable, s.downReason())
	}
}

func (s *Store) downReason() string {
	s.state.Lock()
	defer s.state.Unlock()
	if s.lastErr == nil {
		return "Redis did not answer in time"
	}
	return withAdvice("Redis at "+s.Describe()+": "+s.lastErr.Error(), s.advice)
}

// Probe reports the last probe's verdict: the round-trip time of a PING, or why Redis is
// unavailable. It does not wait for the network.
func (s *Store) Probe(context.Context) (time.Duration, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	s.state.Lock()
	defer s.state.Unlock()
	if !s.up.Load() {
		return 0, fmt.Errorf("%w: %s", storage.ErrUnavailable, withAdvice(s.lastErrText(), s.advice))
	}
	return s.rtt, nil
}

func (s *Store) lastErrText() string {
	if s.lastErr == nil {
		return "unknown error"
	}
	return s.lastErr.Error()
}

// Describe names the Redis deployment for /hello and logs (never its password).
func (s *Store) Describe() string {
	switch {
	case s.o.MasterName != "":
		return fmt.Sprintf("sentinel master %q via %s", s.o.MasterName, strings.Join(s.o.Addrs, ","))
	case s.o.Cluster:
		return "cluster " + strings.Join(s.o.Addrs, ",")
	default:
		return s.o.Addrs[0]
	}
}

var errClosed = errors.New("redis: store is closed")

// conn returns the client and a context bounded by the timeout, or an error at once when Redis
// is known to be unavailable.
func (s *Store) conn(ctx context.Context) (rueidis.Client, context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, nil, errClosed
	}
	box := s.client.Load()
	if box == nil || !s.up.Load() {
		return nil, nil, nil, fmt.Errorf("%w: %s", storage.ErrUnavailable, s.downReason())
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	return box.c, ctx, cancel, nil
}

// result notes an answer from Redis (an error Redis sent is one) and classifies the error.
func (s *Store) result(op string, err error) error {
	re, answered := rueidis.IsRedisErr(err)
	if err == nil || answered {
		s.repliedNow()
	}
	if answered && refusalAdvice(re.Error(), s.o.Name) != "" {
		s.noteRefusal(re)
	}
	return wrap(s.o.Name, op, err)
}

// wrap classifies an error from a call: a network or time-out error is storage.ErrUnavailable,
// and so is an answer saying Redis cannot serve for now (transient): LOADING (a restarted
// server reading its dataset), TRYAGAIN, CLUSTERDOWN, MASTERDOWN or BUSY (a script running).
func wrap(block, op string, err error) error {
	if err == nil {
		return nil
	}
	if re, isRedis := rueidis.IsRedisErr(err); isRedis {
		if transient(re) {
			return fmt.Errorf("redis: %s: %w: %w", op, storage.ErrUnavailable, err)
		}
		if strings.HasPrefix(re.Error(), "NOPERM") {
			return fmt.Errorf("redis: %s: %w (%s)", op, err, noPermAdvice(block))
		}
		if advice := refusalAdvice(re.Error(), block); advice != "" {
			// Redis answers, but cannot serve what the gateway needs until an operator acts:
			// unavailable, as a server that does not answer, and said once (noteRefusal).
			return fmt.Errorf("redis: %s: %w: %w (%s)", op, storage.ErrUnavailable, err, advice)
		}
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return fmt.Errorf("redis: %s: %w: %w", op, storage.ErrUnavailable, err)
}

// transient reports whether an error Redis answered says it cannot serve for now rather than
// that the command is wrong.
func transient(re *rueidis.RedisError) bool {
	if re.IsLoading() || re.IsTryAgain() || re.IsClusterDown() {
		return true
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "BUSY ")
}

// Close stops the background work and closes the connections.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// Nothing is served from a lease once closed: what they held goes back to Redis, with what
	// dropped leases held that the give-back loop has not given back yet.
	s.giveBack(s.leases.sweep(time.Time{}, s.CacheEpoch()))
	s.cancel()
	s.wg.Wait()
	// A subscription that started before closed was set has counted itself by now.
	s.subMu.Lock()
	s.subMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
	s.subs.Wait()
	s.giveBack(s.takeQueuedBack())
	if box := s.client.Load(); box != nil {
		box.c.Close()
	}
	return nil
}
