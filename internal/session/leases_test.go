package session_test

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// leasingKV is a store that records what DropLeases is asked to drop.
type leasingKV struct {
	storage.KV
	dropped []string
}

func (l *leasingKV) DropLeases(tags []string) { l.dropped = append(l.dropped, tags...) }

// TestForgetDropsLeases checks that a key changed elsewhere ends what this node holds of its
// limits: by the counter id its rate window and quota are named with, whether keys are stored
// hashed or not.
func TestForgetDropsLeases(t *testing.T) {
	for _, hashKeys := range []bool{true, false} {
		st := memory.New()
		t.Cleanup(func() { _ = st.Close() })
		kv := &leasingKV{KV: st}
		m := session.NewManager(kv, hashKeys)
		stored := "apikey-" + sha("k1")
		if !hashKeys {
			stored = "apikey-k1"
		}
		m.ForgetStorageKeys([]string{stored, "gatehouse-apis", "apikey-"})
		if want := []string{sha("k1")}; !slices.Equal(kv.dropped, want) {
			t.Errorf("hash_keys %t: invalidation of %q dropped leases of %q, want %q", hashKeys, stored, kv.dropped, want)
		}
		kv.dropped = nil
		m.Forget([]string{sha("k2")})
		if want := []string{sha("k2")}; !slices.Equal(kv.dropped, want) {
			t.Errorf("hash_keys %t: Forget dropped leases of %q, want %q", hashKeys, kv.dropped, want)
		}
		if got := session.CounterID(session.ID{Key: "k1"}); got != sha("k1") {
			t.Fatalf("CounterID = %q, want the key's hash", got)
		}
	}
}
