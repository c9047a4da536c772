package session

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestNamesFollowTheCache: the manager's maps by key hash (keyNames, the names LookupNames kept,
// and, with hash_keys off, names, from key hashes to storage keys) hold exactly the keys whose
// decodings it holds, through lookups, deletions, Forget and the cache starting afresh, so that
// they are bounded as the cache is and a loop of creating and deleting keys leaves nothing.
func TestNamesFollowTheCache(t *testing.T) {
	for _, hashKeys := range []bool{false, true} {
		t.Run(fmt.Sprintf("hash_keys %t", hashKeys), func(t *testing.T) {
			testNamesFollowTheCache(t, hashKeys)
		})
	}
}

func testNamesFollowTheCache(t *testing.T, hashKeys bool) {
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := NewManager(store, hashKeys)
	check := func(step string, want int) {
		t.Helper()
		m.mu.RLock()
		defer m.mu.RUnlock()
		wantNames := want
		if hashKeys {
			wantNames = 0 // the storage key holds the hash
		}
		if len(m.names) != wantNames || len(m.keyNames) != want || len(m.cache) != want {
			t.Errorf("%s: %d names and %d kept names for %d decodings, want %d, %d and %d",
				step, len(m.names), len(m.keyNames), len(m.cache), wantNames, want, want)
		}
		for h, sk := range m.names {
			if _, ok := m.cache[sk]; !ok || sumKey(sk[len(KeyPrefix):]) != h {
				t.Errorf("%s: name %x → %q: not a decoding the manager holds, or not its hash", step, h, sk)
			}
		}
		for h, n := range m.keyNames {
			if _, ok := m.cache[n.Storage]; !ok || fmt.Sprintf("%x", h) != n.Hash {
				t.Errorf("%s: kept names %x → %+v: not a decoding the manager holds, or not its hash", step, h, n)
			}
		}
	}
	key := func(i int) string { return fmt.Sprintf("key-%03d", i) }
	for i := range 100 {
		if err := m.Put(ctx, ID{Key: key(i)}, &apidef.SessionState{Rate: 1, Per: 1}, 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.Lookup(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	check("100 keys looked up", 100)
	for i := range 50 {
		if _, err := m.Delete(ctx, ID{Key: key(i)}); err != nil {
			t.Fatal(err)
		}
	}
	check("50 deleted", 50)
	var hashes []string
	for i := 50; i < 75; i++ {
		hashes = append(hashes, HashKey(key(i)))
	}
	m.Forget(hashes)
	check("25 forgotten", 25)
	sk := KeyPrefix + key(75)
	if hashKeys {
		sk = KeyPrefix + HashKey(key(75))
	}
	m.ForgetStorageKeys([]string{sk})
	check("1 forgotten by storage key", 24)

	// A cache that starts afresh takes the names with it.
	if err := m.Put(ctx, ID{Key: key(200)}, &apidef.SessionState{Rate: 1, Per: 1}, 0); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.bytes = m.maxBytes
	m.mu.Unlock()
	if _, _, err := m.Lookup(ctx, key(200)); err != nil {
		t.Fatal(err)
	}
	check("after the cache started afresh", 1)
}

// TestParseHashIsIsHash: Forget reads a hash the same way whether keys are stored by hash or by
// name: only IsHash's lower-case form is one.
func TestParseHashIsIsHash(t *testing.T) {
	h := HashKey("some-key")
	for _, c := range []struct {
		in   string
		want bool
	}{{h, true}, {strings.ToUpper(h), false}, {h[:63], false}, {h[:63] + "g", false}, {"", false}} {
		if _, ok := parseHash(c.in); ok != c.want || IsHash(c.in) != c.want {
			t.Errorf("parseHash(%q) ok %t, IsHash %t; want %t", c.in, ok, IsHash(c.in), c.want)
		}
	}
	if sum, _ := parseHash(h); hex.EncodeToString(sum[:]) != h {
		t.Errorf("parseHash(%q) = %x", h, sum)
	}
}

// TestNewNamesAgreeWithStorageKey: the request path's names (newNames, from the token's sum)
// and the Gateway API's storage key (storageKey) follow one rule, with hash_keys on and off:
// the same storage key for a token that can name a key, and both refuse one that cannot
// (control characters, invalid UTF-8), so that a token the Gateway API could never store is
// not looked up either.
func TestNewNamesAgreeWithStorageKey(t *testing.T) {
	tokens := []string{"org0123456789abcdef0123456789abcdef", strings.Repeat("k", 300), "ключ", "",
		"bad\x00key", "tab\tkey", "\xff\xfe", "line\nbreak"}
	for _, hashKeys := range []bool{false, true} {
		m := NewManager(memory.New(), hashKeys)
		for _, token := range tokens {
			n, valid := m.newNames(token, sumKey(token))
			sk, err := m.storageKey(ID{Key: token})
			if valid != (err == nil) {
				t.Errorf("hash_keys %t, %q: newNames valid %t, storageKey error %v", hashKeys, token, valid, err)
				continue
			}
			if n.Hash != HashKey(token) {
				t.Errorf("hash_keys %t, %q: names' hash %q, want %q", hashKeys, token, n.Hash, HashKey(token))
			}
			if valid && n.Storage != sk {
				t.Errorf("hash_keys %t, %q: names' storage key %q, storageKey %q", hashKeys, token, n.Storage, sk)
			}
			if !valid && n.Storage != "" {
				t.Errorf("hash_keys %t, %q: a token that names no key has storage key %q", hashKeys, token, n.Storage)
			}
		}
	}
}
