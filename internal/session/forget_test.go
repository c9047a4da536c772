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
