package session_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// outageKV is a store that can be made unreachable, as a Redis that stops answering.
type outageKV struct {
	storage.KV
	down atomic.Bool
}

func (o *outageKV) Get(ctx context.Context, key string) ([]byte, error) {
	if o.down.Load() {
		return nil, storage.ErrUnavailable
	}
	return o.KV.Get(ctx, key)
}

func (o *outageKV) GetCached(ctx context.Context, key string) ([]byte, time.Time, error) {
	if o.down.Load() {
		return nil, time.Time{}, storage.ErrUnavailable
	}
	return o.KV.GetCached(ctx, key)
}

// TestForgetByHash: Forget, given the hash of a key (as the fleet's notifications carry it),
// drops the manager's decoding of that key whether keys are stored hashed or not, so that a key
// changed elsewhere is not served from memory while the store is down; the decodings of other
// keys stay.
func TestForgetByHash(t *testing.T) {
	for _, hashKeys := range []bool{true, false} {
		st := memory.New()
		t.Cleanup(func() { _ = st.Close() })
		kv := &outageKV{KV: st}
		m := session.NewManager(kv, hashKeys)
		m.ServeCachedWhenUnavailable()
		ctx := t.Context()
		for _, k := range []string{"changed-key", "other-key"} {
			id := session.ID{Key: k}
			if err := m.Put(ctx, id, &apidef.SessionState{OrgID: "o1"}, 0); err != nil {
				t.Fatal(err)
			}
			if _, _, err := m.Lookup(ctx, k); err != nil {
				t.Fatalf("hash_keys %t: lookup of %s: %v", hashKeys, k, err)
			}
		}
		m.Forget([]string{session.HashKey("changed-key"), session.HashKey("never-seen"), "not a hash"})
		kv.down.Store(true)
		if s, _, err := m.Lookup(ctx, "changed-key"); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("hash_keys %t: the forgotten key with the store down: %+v, %v; want ErrUnavailable", hashKeys, s, err)
		}
		if s, _, err := m.Lookup(ctx, "other-key"); err != nil || s.OrgID != "o1" {
			t.Errorf("hash_keys %t: another key with the store down: %+v, %v; want its decoding", hashKeys, s, err)
		}
	}
}

// racingKV is an outageKV with a cache epoch (storage.CacheEpoch, as Redis's client-side
// cache has) whose next GetCached runs afterRead once it has read a value and before it returns
// it: what reaches the node while a read is on its way back.
type racingKV struct {
	*outageKV
	epoch     atomic.Uint64
	afterRead func()
}

func (r *racingKV) CacheEpoch() uint64 { return r.epoch.Load() }

func (r *racingKV) GetCached(ctx context.Context, key string) ([]byte, time.Time, error) {
	v, until, err := r.outageKV.GetCached(ctx, key)
	if f := r.afterRead; f != nil && err == nil {
		r.afterRead = nil
		f()
	}
	return v, until, err
}

// TestFallbackNotServedAfterChangeDuringRead: a key read through the store's node-local copy
// just as it is deleted elsewhere is served to that request (the read came first), but is
// never served from memory once the store is down: neither when the deletion's invalidation
// (ForgetStorageKeys) reached the manager before the read was decoded, nor when the store lost
// and restored its coherence (a new cache epoch) meanwhile, the invalidation lost with it.
func TestFallbackNotServedAfterChangeDuringRead(t *testing.T) {
	const key = "the-key"
	sk := session.KeyPrefix + session.HashKey(key)
	for _, tc := range []struct {
		name      string
		afterRead func(kv *racingKV, m *session.Manager)
		served    bool
	}{
		{"nothing happens (the fallback serves)", nil, true},
		{"invalidated", func(kv *racingKV, m *session.Manager) {
			kv.Delete(context.Background(), sk)
			m.ForgetStorageKeys([]string{sk})
		}, false},
		{"coherence lost and restored", func(kv *racingKV, m *session.Manager) {
			kv.Delete(context.Background(), sk)
			kv.epoch.Add(1)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			t.Cleanup(func() { _ = st.Close() })
			kv := &racingKV{outageKV: &outageKV{KV: st}}
			m := session.NewManager(kv, true)
			m.ServeCachedWhenUnavailable()
			ctx := t.Context()
			// Stored as another gateway would: this manager has written nothing, so it reads
			// through the node-local copy at once.
			if err := st.Set(ctx, sk, []byte(`{"org_id":"o1"}`), 0); err != nil {
				t.Fatal(err)
			}
			if tc.afterRead != nil {
				kv.afterRead = func() { tc.afterRead(kv, m) }
			}
			if s, _, err := m.Lookup(ctx, key); err != nil || s.OrgID != "o1" {
				t.Fatalf("the lookup under way: %+v, %v; want the key as read", s, err)
			}
			kv.down.Store(true)
			s, _, err := m.Lookup(ctx, key)
			if tc.served && (err != nil || s.OrgID != "o1") {
				t.Errorf("the store down: %+v, %v; want the decoding served", s, err)
			}
			if !tc.served && !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("the store down, the key deleted during the read: %+v, %v; want ErrUnavailable", s, err)
			}
		})
	}
}
