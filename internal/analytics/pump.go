package analytics

import (
	"cmp"
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

// ListKey is the Redis list tyk-pump reads msgpack records from (its default key prefix
// "analytics-" and Tyk's "tyk-system-analytics"). With several keys, records go to ListKey_0
// to ListKey_9.
const ListKey = "analytics-tyk-system-analytics"

// MinBufferSize is the smallest records_buffer_size, as in Tyk.
const MinBufferSize = 1000

// flushEvery is how long a record may wait in a worker's batch before it is written.
const flushEvery = 200 * time.Millisecond

// maxQueuedBytes bounds the variable-length data (raw requests and responses, user agents,
// hosts, paths, tags and the other strings) held by queued and unwritten records: past it
// records are dropped, whatever room the queue has.
const maxQueuedBytes = 64 << 20

// closeTimeout bounds how long Close spends writing what is still queued.
const closeTimeout = 5 * time.Second

// Pusher appends values to a list, as the Redis store does (redis.Store.PushList).
type Pusher interface {
	PushList(ctx context.Context, key string, values [][]byte, ttl time.Duration) error
}

// PumpOptions configure a Pump; the fields are tyk.conf's analytics_config keys.
type PumpOptions struct {
	// Workers encode and write records, each its own batch (pool_size); 0 means 1.
	Workers int
	// BufferSize is how many records may wait for the workers (records_buffer_size); below
	// MinBufferSize it is MinBufferSize. Each worker writes up to BufferSize/Workers at once.
	BufferSize int
	// TTL is set on a list that has none (storage_expiration_time); 0 or less sets none.
	TTL time.Duration
	// MultipleKeys spreads batches over ListKey_0 to ListKey_9
	// (enable_multiple_analytics_keys).
	MultipleKeys bool
	// NodeTags are a segmented gateway's tags (db_app_conf_options), added to every record's
	// tags as Tyk's workers add them; nil for a gateway that is not segmented.
	NodeTags []string
	// Logger receives write failures; nil discards them.
	Logger *slog.Logger
	// Where names the Redis in log messages; "" is "Redis".
	Where string
}

// Pump writes records to the Redis list tyk-pump reads. Record never blocks: records wait in
// a bounded queue for the workers, which encode them and push them in batches; when the queue
// is full, or Redis cannot take a batch (down, or slower than the timeout), the records are
// dropped and counted, so requests never wait on analytics.
type Pump struct {
	queue
	p      Pusher
	o      PumpOptions
	batch  int
	wg     sync.WaitGroup
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

// NewPump starts a Pump writing through p.
func NewPump(p Pusher, o PumpOptions) *Pump {
	o.Workers = max(o.Workers, 1)
	o.BufferSize = max(o.BufferSize, MinBufferSize)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	pm := &Pump{queue: newQueue(o.BufferSize, cmp.Or(o.Where, "Redis"), o.Logger), p: p, o: o, batch: max(o.BufferSize/o.Workers, 1)}
	pm.ctx, pm.cancel = context.WithCancel(context.Background())
	pm.wg.Add(o.Workers)
	for range o.Workers {
		go pm.work()
	}
	return pm
}

// tagOverhead is what a tag costs besides its text (its string header in the slice).
const tagOverhead = 16

// recordSize is what r holds beyond its fixed fields: every string, and the tags. A client
// controls several of them (User-Agent, Host, paths, tag_headers), so all count against
// maxQueuedBytes, not only the raw request and response.
func recordSize(r *sdk.AnalyticsRecord) int64 {
	n := len(r.Method) + len(r.Host) + len(r.Path) + len(r.RawPath) + len(r.UserAgent) +
		len(r.APIKey) + len(r.APIVersion) + len(r.APIName) + len(r.APIID) + len(r.OrgID) + len(r.OauthID) +
		len(r.RawRequest) + len(r.RawResponse) + len(r.IPAddress) + len(r.Alias) +
		len(r.OriginalPath) + len(r.ListenPath)
	for _, t := range r.Tags {
		n += tagOverhead + len(t)
	}
	return int64(n)
}

// Close writes what is queued (for at most a few seconds) and stops the workers. Records
// given to Record after Close are dropped.
func (pm *Pump) Close() error {
	pm.once.Do(func() {
		pm.close()
		t := time.AfterFunc(closeTimeout, pm.cancel)
		pm.wg.Wait()
		t.Stop()
		pm.cancel()
	})
	return nil
}

func (pm *Pump) work() {
	defer pm.wg.Done()
	b := &batch{vals: make([][]byte, 0, pm.batch)}
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case q := <-pm.ch:
			pm.add(b, q)
		case <-pm.stop:
			for {
				select {
				case q := <-pm.ch:
					pm.add(b, q)
				default:
					pm.flush(b)
					return
				}
			}
		case <-tick.C:
			pm.flush(b)
		}
	}
}

// batch is a worker's encoded records not yet written, and their recordSize.
type batch struct {
	vals [][]byte
	raw  int64
}

// add encodes q's record into b, and writes b when it is full.
func (pm *Pump) add(b *batch, q queuedRecord) {
	b.vals = append(b.vals, Encode(q.r, pm.o.NodeTags...))
	b.raw += q.size
	if len(b.vals) >= pm.batch {
		pm.flush(b)
	}
}

// flush writes b and empties it.
func (pm *Pump) flush(b *batch) {
	if len(b.vals) == 0 {
		return
	}
	batch := b.vals
	defer func() {
		pm.taken(b.raw)
		clear(b.vals)
		b.vals, b.raw = b.vals[:0], 0
	}()
	key := ListKey
	if pm.o.MultipleKeys {
		key += "_" + strconv.Itoa(rand.IntN(10))
	}
	pm.wrote(int64(len(batch)), pm.p.PushList(pm.ctx, key, batch, pm.o.TTL))
}

// Encode returns r as tyk-pump reads it from Redis: msgpack, with the tags Tyk's analytics
// workers add (a segmented node's tags nodeTags, key-, org- and api-) and paths that start with
// a slash. It does not change r.
func Encode(r *sdk.AnalyticsRecord, nodeTags ...string) []byte {
	rec := *r
	tags := make([]string, 0, len(r.Tags)+len(nodeTags)+3)
	tags = append(tags, r.Tags...)
	tags = append(tags, nodeTags...)
	if rec.APIKey != "" {
		tags = append(tags, "key-"+rec.APIKey)
	}
	if rec.OrgID != "" {
		tags = append(tags, "org-"+rec.OrgID)
	}
	rec.Tags = append(tags, "api-"+rec.APIID)
	rec.Path = slashed(rec.Path)
	rec.RawPath = slashed(rec.RawPath)
	rec.OriginalPath = slashed(rec.OriginalPath)
	return appendRecord(make([]byte, 0, 1024+len(rec.RawRequest)+len(rec.RawResponse)), &rec)
}

func slashed(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}
