package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Key names in the shared store.
const (
	// entryPrefix starts a cached response's key: entryPrefix + api + ":" + ns + ":" + epoch +
	// ":" + the request's key.
	entryPrefix = "gatehouse-cache:"
	// epochPrefix starts the key holding an API's epoch: a flush writes a new one, and the
	// responses kept under the old one are never read again (they expire with their TTL).
	epochPrefix = "gatehouse-cache-epoch:"
)

// epochTTL is how long an API's epoch lives: then a new one starts, which is a flush (one miss
// per response kept, whose TTL is far shorter), and an API no gateway serves any more leaves no
// key behind.
const epochTTL = 7 * 24 * time.Hour

// maxWrites bounds the responses being written to the shared store at once; past it a response
// is served and not kept, rather than queued without bound while the store is slow.
const maxWrites = 64

// warnEvery bounds how often the shared cache logs that its store does not answer.
const warnEvery = time.Minute

// Shared keeps cached responses in a store every gateway of the fleet reads (Redis): a response
// one gateway kept answers the same request on any other, and a flush on one holds for all.
// When the store does not answer, requests are served by the upstream and nothing is kept.
type Shared struct {
	kv       storage.KV
	timeout  time.Duration
	log      *slog.Logger
	writes   chan struct{}
	warn     logevery.Gate
	badEntry logevery.Gate
	now      func() time.Time
}

// NewShared returns a cache on kv. timeout bounds a write made after the response (reads are
// bounded by the request's context and the store's own timeout).
func NewShared(kv storage.KV, timeout time.Duration, log *slog.Logger, now func() time.Time) *Shared {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Shared{kv: kv, timeout: timeout, log: log, writes: make(chan struct{}, maxWrites), warn: logevery.Gate{Every: warnEvery}, badEntry: logevery.Gate{Every: warnEvery}, now: now}
}

var _ Backend = (*Shared)(nil)

// failed logs, at most once a minute, that the store did not answer.
func (s *Shared) failed(what string, err error) {
	if held, ok := s.warn.Allow(s.now()); ok {
		s.log.Warn("response cache: the shared store did not answer; requests go to their upstreams and nothing is kept until it does (logged at most once a minute)",
			"while", what, "error", err, "also_failed_since_last_warning", held)
	}
}

// epoch returns api's current epoch, from this gateway's coherent copy when it has one. An
// API without one gets a new random one (the first gateway to write it wins): an epoch lost
// (evicted, deleted, or not yet replicated at a failover) is never read again as an earlier
// one, whose flushed responses would then be served.
func (s *Shared) epoch(ctx context.Context, api string) (string, error) {
	v, _, err := s.kv.GetCached(ctx, epochPrefix+api)
	if err == nil {
		return string(v), nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	e := newEpoch()
	switch err := s.kv.Create(ctx, epochPrefix+api, []byte(e), epochTTL); {
	case err == nil:
		return e, nil
	case errors.Is(err, storage.ErrExists):
		v, err := s.kv.Get(ctx, epochPrefix+api)
		return string(v), err
	default:
		return "", err
	}
}

// newEpoch returns a random epoch.
func newEpoch() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func entryKey(api, ns, epoch, key string) string {
	return entryPrefix + api + ":" + ns + ":" + epoch + ":" + key
}

// Lookup implements Backend.
func (s *Shared) Lookup(ctx context.Context, api, ns, key string) (*Response, Mark) {
	epoch, err := s.epoch(ctx, api)
	if err != nil {
		if ctx.Err() == nil { // not a client that left
			s.failed("reading the API's epoch", err)
		}
		return nil, Mark{skip: true}
	}
	m := Mark{epoch: epoch}
	v, err := s.kv.Get(ctx, entryKey(api, ns, epoch, key))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, m
	case err != nil:
		if ctx.Err() == nil {
			s.failed("reading a response", err)
		}
		return nil, Mark{skip: true}
	}
	res, err := decodeResponse(v)
	if err != nil {
		// Not what a gateway writes: not served, and written over by the next response kept.
		if held, ok := s.badEntry.Allow(s.now()); ok {
			s.log.Warn("response cache: an entry in the shared store is not a cached response; it is not served (logged at most once a minute)",
				"api_id", api, "error", err, "also_refused_since_last_warning", held)
		}
		return nil, m
	}
	return res, m
}

// Keep implements Backend: the response is written in the background, at most maxWrites at
// once.
func (s *Shared) Keep(m Mark, api, ns, key string, res *Response, ttl time.Duration) {
	if m.skip || ttl <= 0 {
		return
	}
	select {
	case s.writes <- struct{}{}:
	default:
		return
	}
	data := encodeResponse(res)
	go func() {
		defer func() { <-s.writes }()
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		if err := s.kv.Set(ctx, entryKey(api, ns, m.epoch, key), data, ttl); err != nil {
			s.failed("keeping a response", err)
		}
	}()
}

// Flush implements Backend: the API gets a new epoch, so that no gateway reads the responses
// kept before (they expire with their TTL). How many there were is not counted.
func (s *Shared) Flush(ctx context.Context, api string) (int, error) {
	return 0, s.kv.Set(ctx, epochPrefix+api, []byte(newEpoch()), epochTTL)
}

// Wait waits for the writes under way (for tests, and a gateway closing).
func (s *Shared) Wait() {
	for range maxWrites {
		s.writes <- struct{}{}
	}
	for range maxWrites {
		<-s.writes
	}
}

// The encoding of a cached response in the shared store: a version byte, the status, the
// number of header names, each name with its values (lengths as uvarints), then the body.
const (
	encodingVersion = 1
	// maxHeaderNames and maxHeaderBytes bound what an entry read back may hold: the store is
	// shared with other clients, and an entry is decoded on a request's path.
	maxHeaderNames = 1000
	maxHeaderBytes = 1 << 20
	// valueCost is what each header name and value is counted for beyond its bytes, so that an
	// entry of many empty values cannot decode into far more memory than maxHeaderBytes.
	valueCost = 32
	// maxEntry bounds an entry read back whole.
	maxEntry = MaxEntryBytes + maxHeaderBytes + 64
)

func encodeResponse(res *Response) []byte {
	n := 16 + len(res.Body)
	for k, vs := range res.Header {
		n += len(k) + 10
		for _, v := range vs {
			n += len(v) + 5
		}
	}
	b := make([]byte, 0, n)
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(res.Status))
	b = binary.AppendUvarint(b, uint64(len(res.Header)))
	for k, vs := range res.Header {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return append(b, res.Body...)
}

var errBadEntry = errors.New("malformed cache entry")

// decodeResponse reads what encodeResponse wrote, refusing anything else without panicking.
func decodeResponse(b []byte) (*Response, error) {
	if len(b) == 0 || len(b) > maxEntry || b[0] != encodingVersion {
		return nil, errBadEntry
	}
	b = b[1:]
	next := func(limit uint64) (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > limit {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	text := func() (string, bool) {
		l, ok := next(uint64(len(b)))
		if !ok || l > uint64(len(b)) { // b is shorter now by the length's own bytes
			return "", false
		}
		s := string(b[:l])
		b = b[l:]
		return s, true
	}
	status, ok := next(999)
	if !ok || status < 200 {
		return nil, errBadEntry // no 1xx: an entry is a final answer
	}
	names, ok := next(maxHeaderNames)
	if !ok {
		return nil, errBadEntry
	}
	h := make(http.Header, names)
	size := 0
	for range names {
		k, ok := text()
		if !ok || !token(k) || perRequest(k) || framing[http.CanonicalHeaderKey(k)] {
			return nil, errBadEntry // never kept (Done, or a hop's header): not what a gateway wrote
		}
		count, ok := next(uint64(len(b)))
		if !ok {
			return nil, errBadEntry
		}
		vs := make([]string, 0, min(count, 64))
		for range count {
			v, ok := text()
			if !ok || strings.ContainsAny(v, "\r\n\x00") {
				return nil, errBadEntry
			}
			vs = append(vs, v)
			size += len(v) + valueCost
		}
		size += len(k) + valueCost
		if size > maxHeaderBytes {
			return nil, errBadEntry
		}
		h[k] = vs
	}
	if len(b) > MaxEntryBytes {
		return nil, errBadEntry
	}
	// A Content-Length, under any spelling, is one number and says the body's length (or the
	// entry has no body: a HEAD's), or the entry is refused: two framings that disagree could
	// desynchronise a proxy in front of the gateway.
	for k, vs := range h {
		if http.CanonicalHeaderKey(k) != "Content-Length" {
			continue
		}
		if len(vs) != 1 {
			return nil, errBadEntry
		}
		if n, err := strconv.ParseUint(vs[0], 10, 63); err != nil || n != uint64(len(b)) && len(b) > 0 {
			return nil, errBadEntry
		}
	}
	return &Response{Status: int(status), Header: h, Body: b}, nil
}

// framing are the headers of a connection or its framing, which a proxy never passes on and a
// cached answer never carries (Content-Length, checked against the body, apart).
var framing = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true,
}

// token reports whether s is an HTTP token, as a header name must be.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
