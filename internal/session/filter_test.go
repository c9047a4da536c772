package session_test

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"
	"testing"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// tykOrgKey is a key of Tyk's generated form with hash_key_function set: the base64 of
// {"org":...,"id":...,"h":...}, which carries its org.
func tykOrgKey(org, id string) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"org":"` + org + `","id":"` + id + `","h":"sha256"}`))
}

// TestManagerListFiltered checks Tyk's ?filter= of GET /tyk/keys on each store: by name, the
// keys whose name begins with the filter, or whose base64 JSON names the filter as its org;
// with hash_keys, the filter is hashed as a key is, naming one key.
func TestManagerListFiltered(t *testing.T) {
	stores := map[string]func(t *testing.T) storage.KV{
		"memory": func(t *testing.T) storage.KV {
			s := memory.New(memory.WithSweepInterval(0))
			t.Cleanup(func() { s.Close() })
			return s
		},
		"redis": func(t *testing.T) storage.KV {
			_, s := redisStore(t)
			return s
		},
	}
	b64 := tykOrgKey("org1", "0123456789abcdef")
	b64Other := tykOrgKey("org2", "0123456789abcdef")
	// The key of an org named like the start of such keys: both prefixes of the filter "eyJ"
	// match it.
	b64Eyj := tykOrgKey("eyJ", "0123456789abcdef")
	names := []string{"org1aaaa", "org1bbbb", "org12ccc", "org2dddd", "xorg1eee", b64, b64Other, b64Eyj}
	for storeName, open := range stores {
		t.Run(storeName, func(t *testing.T) {
			ctx := context.Background()
			kv := open(t)
			// Something else in the store that starts like a key's name.
			if err := kv.Set(ctx, "org1-not-a-key", []byte("x"), 0); err != nil {
				t.Fatal(err)
			}
			t.Run("by name", func(t *testing.T) {
				m := session.NewManager(kv, false)
				for _, n := range names {
					if err := m.Put(ctx, session.ID{Key: n}, sampleSession(), 0); err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() {
					for _, n := range names {
						m.Delete(ctx, session.ID{Key: n})
					}
				})
				for _, tc := range []struct {
					filter string
					want   []string
				}{
					{"", names},
					// A prefix, as in Tyk: org12's keys begin with org1 too.
					{"org1", []string{"org1aaaa", "org1bbbb", "org12ccc", b64}},
					{"org2", []string{"org2dddd", b64Other}},
					{"org1a", []string{"org1aaaa"}},
					{"org1aaaa", []string{"org1aaaa"}},
					{"nobody", nil},
					// A filter the org's base64 prefix begins with lists each key once.
					{"eyJ", []string{b64, b64Other, b64Eyj}},
					{b64[:20], []string{b64}},
					{"*", nil},
					{"org?", nil},
				} {
					got, err := m.ListFiltered(ctx, tc.filter)
					if err != nil {
						t.Fatalf("ListFiltered(%q): %v", tc.filter, err)
					}
					sort.Strings(got)
					want := slices.Clone(tc.want)
					sort.Strings(want)
					if !slices.Equal(got, want) {
						t.Errorf("ListFiltered(%q) = %q, want %q", tc.filter, got, want)
					}
				}
			})
			t.Run("hashed", func(t *testing.T) {
				m := session.NewManager(kv, true)
				for _, n := range names {
					if err := m.Put(ctx, session.ID{Key: n}, sampleSession(), 0); err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() {
					for _, n := range names {
						m.Delete(ctx, session.ID{Key: n})
					}
				})
				h := session.HashKey("org1aaaa")
				for _, tc := range []struct {
					filter string
					want   []string
				}{
					{"org1aaaa", []string{h}},
					{"org1", nil},
					{h, nil},
					{h[:8], nil},
					{"nobody", nil},
					{"bad\x00name", nil},
				} {
					got, err := m.ListFiltered(ctx, tc.filter)
					if err != nil {
						t.Fatalf("ListFiltered(%q): %v", tc.filter, err)
					}
					if !slices.Equal(got, tc.want) {
						t.Errorf("ListFiltered(%q) = %q, want %q", tc.filter, got, tc.want)
					}
				}
				all, err := m.ListFiltered(ctx, "")
				if err != nil || len(all) != len(names) {
					t.Errorf("ListFiltered(\"\") = %d keys, %v; want %d", len(all), err, len(names))
				}
			})
		})
	}
}
