package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/middleware/cache"
	"github.com/gatehouse/gatehouse/internal/observe"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/storage/redis"
)

// openStore opens the store the configuration names. A Redis store connects in the background:
// the gateway starts whether or not Redis answers.
func openStore(cfg *config.Config, now func() time.Time, log *slog.Logger, onUp func(first bool), onInvalidate func([]string), obs observe.Observer) (storage.Store, error) {
	switch cfg.Storage.Type {
	case "", "memory":
		log.Info("storage: memory (one gateway): keys, OAuth clients and tokens, org sessions, uploaded certificates and limit counters are lost when the gateway stops; storage.type redis keeps them")
		return memory.New(memory.WithClock(now)), nil
	case "redis":
		o, err := redisOptions("storage", cfg.Storage, cfg.StorageTimeout(), log, obs)
		if err != nil {
			return nil, err
		}
		o.OnUp, o.OnInvalidate = onUp, onInvalidate
		return redis.New(o)
	default:
		return nil, fmt.Errorf("storage.type %q is not supported", cfg.Storage.Type)
	}
}

// openAnalyticsStore opens the Redis of analytics_storage, where records and uptime analytics
// go with enable_separate_analytics_store; nil without it. It connects in the background, as
// the store does: while it does not answer, records are dropped and counted, and requests never
// wait for it.
func openAnalyticsStore(cfg *config.Config, log *slog.Logger, obs observe.Observer) (*redis.Store, error) {
	if !cfg.SeparateAnalyticsStore() {
		return nil, nil
	}
	o, err := redisOptions("analytics_storage", cfg.AnalyticsStorage, cfg.AnalyticsStorageTimeout(), log, obs)
	if err != nil {
		return nil, err
	}
	o.DownEffect = "analytics records are dropped and counted until it is back; requests are served"
	// Nothing is read from it: no client-side cache.
	o.NoCache = true
	return redis.New(o)
}

// openResponseCache chooses where the APIs' cached responses are kept: in this gateway's
// memory, or with enable_separate_cache_store and cache_storage.type "redis", in that Redis,
// shared by the fleet as Tyk shares its cache. Never by default in the store's Redis, as Tyk
// keeps it: any client can add entries, which would compete with keys and limits for its
// memory (evicting keys, or refusing their counters' writes).
func (g *Gateway) openResponseCache() error {
	if g.cfg.ResponseCacheStore() != "redis" {
		g.respLocal = cache.NewStore(0, g.now)
		g.respCache = g.respLocal
		return nil
	}
	timeout := g.cfg.CacheStorageTimeout()
	o, err := redisOptions("cache_storage", g.cfg.CacheStorage, timeout, g.log, g.obs)
	if err != nil {
		return err
	}
	o.DownEffect = "requests to cached APIs go to their upstreams, and nothing is cached, until it is back"
	o.CacheBytes = cacheClientCache // the epochs alone are read through it
	if g.cacheStore, err = redis.New(o); err != nil {
		return err
	}
	g.respShared = cache.NewShared(g.cacheStore, timeout, g.log, g.now)
	g.respCache = g.respShared
	g.cacheFlushes = make(chan struct{}, maxCacheFlushes)
	return nil
}

// maxCacheFlushes bounds the shared-cache flushes other gateways asked for under way at once.
const maxCacheFlushes = 8

// cacheClientCache bounds the client-side cache of the response cache's Redis client, which
// holds the APIs' epochs only.
const cacheClientCache = 1 << 20

// redisOptions maps a block of tyk.conf's Redis keys (storage, cache_storage,
// analytics_storage), named name, to the Redis store's options. Its round trips are reported to
// obs (when not nil) under the block's name.
func redisOptions(name string, s config.StorageConfig, timeout time.Duration, log *slog.Logger, obs observe.Observer) (redis.Options, error) {
	addrs := s.Addrs
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	}
	o := redis.Options{
		Name:             name,
		Addrs:            addrs,
		MasterName:       s.MasterName,
		SentinelPassword: s.SentinelPassword,
		Cluster:          s.EnableCluster,
		Username:         s.Username,
		Password:         s.Password,
		Database:         s.Database,
		Timeout:          timeout,
		PoolSize:         s.OptimisationMaxActive,
		Logger:           log,
	}
	if s.UseSSL {
		t, err := redisTLS(name, s)
		if err != nil {
			return redis.Options{}, err
		}
		o.TLS = t
	}
	if obs != nil {
		o.OnRoundTrip = obs.Redis(name)
	}
	return o, nil
}

// redisTLS builds the TLS configuration of the connections to a block's Redis. A file that
// cannot be read stops the start: connecting without the certificate the operator asked for is
// not an option.
func redisTLS(name string, s config.StorageConfig) (*tls.Config, error) {
	lo, hi := s.TLSVersions()
	t := &tls.Config{MinVersion: lo, MaxVersion: hi}
	if s.SSLInsecureSkipVerify {
		t.InsecureSkipVerify = true
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file %s holds no PEM certificate", name, s.CAFile)
		}
		t.RootCAs = pool
	}
	if s.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file and key_file: %w", name, err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// waitForStore gives a store on the network up to its timeout to connect before the first
// snapshot is built, so that a gateway starting beside a running Redis serves the fleet's
// definitions at once. One that does not connect in time is not waited for: the gateway starts
// and resynchronises when it connects.
func (g *Gateway) waitForStore() (connected bool) {
	w, ok := g.store.(interface{ WaitConnected(context.Context) error })
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.StorageTimeout())
	defer cancel()
	if err := w.WaitConnected(ctx); err != nil {
		g.log.Warn("starting without Redis: keyless APIs and those in app_path serve; keyed requests fail closed with 503 until it answers", "error", err)
		return false
	}
	return true
}

// waitForOwnStores gives the Redis servers of their own blocks (analytics_storage,
// cache_storage) up to their timeouts to connect (they have been connecting since they were
// opened, beside the storage block's), so that the first records are not dropped and the first
// cached requests not sent upstream for a connection not yet made. One that does not connect is
// not waited for.
func (g *Gateway) waitForOwnStores() {
	for _, s := range []struct {
		store   *redis.Store
		timeout time.Duration
		without string
	}{
		{g.analyticsStore, g.cfg.AnalyticsStorageTimeout(), "starting without the analytics Redis (analytics_storage): records are dropped and counted until it answers"},
		{g.cacheStore, g.cfg.CacheStorageTimeout(), "starting without the response cache's Redis (cache_storage): requests to cached APIs go to their upstreams until it answers"},
	} {
		if s.store == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.store.WaitConnected(ctx)
		cancel()
		if err != nil {
			g.log.Warn(s.without, "error", err)
		}
	}
}

// forgetStorageKeys drops the sessions decoded for keys Redis says changed, so that what this
// gateway remembers of a key follows Redis even when it is served from memory
// (storage.fallback_to_cached_sessions).
func (g *Gateway) forgetStorageKeys(keys []string) {
	if m := g.sessionsForStore.Load(); m != nil {
		m.ForgetStorageKeys(keys)
	}
}

// localWindows returns the node-local windows an API's global rate limit falls back on while
// Redis is down, or nil with the memory store.
func (g *Gateway) localWindows() storage.Windows {
	if g.local == nil {
		return nil
	}
	return g.local
}
