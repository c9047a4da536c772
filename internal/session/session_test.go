package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
	"github.com/gatehouse/gatehouse/internal/storage/storagetest"
)

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestHashKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "empty", key: "", want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "abc", key: "abc", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "typical key", key: "default5f8f8c1e4c8a4f3b9e6d2a1b0c9d8e7f", want: sha("default5f8f8c1e4c8a4f3b9e6d2a1b0c9d8e7f")},
		{name: "near miss differs", key: "default5f8f8c1e4c8a4f3b9e6d2a1b0c9d8e7e", want: sha("default5f8f8c1e4c8a4f3b9e6d2a1b0c9d8e7e")},
		{name: "unicode", key: "ключ", want: sha("ключ")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := session.HashKey(tc.key)
			if got != tc.want {
				t.Errorf("HashKey(%q) = %q, want %q", tc.key, got, tc.want)
			}
			if !session.IsHash(got) {
				t.Errorf("IsHash(HashKey(%q)) = false", tc.key)
			}
		})
	}
}

func TestIsHash(t *testing.T) {
	h := sha("x")
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{name: "hash", s: h, want: true},
		{name: "all zeros", s: strings.Repeat("0", 64), want: true},
		{name: "all f", s: strings.Repeat("f", 64), want: true},
		{name: "empty", s: "", want: false},
		{name: "63 digits", s: h[:63], want: false},
		{name: "65 digits", s: h + "0", want: false},
		{name: "upper case", s: strings.ToUpper(strings.Repeat("a", 64)), want: false},
		{name: "non-hex letter", s: strings.Repeat("g", 64), want: false},
		{name: "space", s: " " + h[1:], want: false},
		{name: "raw key", s: "default5f8f8c1e4c8a4f3b9e6d2a1b0c9d8e7f", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := session.IsHash(tc.s); got != tc.want {
				t.Errorf("IsHash(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name string
		org  string
	}{
		{name: "org prefix", org: "default"},
		{name: "no org", org: ""},
		{name: "hex-looking org", org: "5e9d9544a1dcd60001d0ed20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := session.Generate(tc.org)
			if !strings.HasPrefix(k, tc.org) {
				t.Fatalf("Generate(%q) = %q, want the org as prefix", tc.org, k)
			}
			rest := k[len(tc.org):]
			if len(rest) != 32 {
				t.Errorf("Generate(%q) = %q: %d characters after the org, want 32", tc.org, k, len(rest))
			}
			if _, err := hex.DecodeString(rest); err != nil || strings.ToLower(rest) != rest {
				t.Errorf("Generate(%q) suffix %q is not lower-case hex", tc.org, rest)
			}
		})
	}
}

func TestGenerateUnique(t *testing.T) {
	seen := make(map[string]bool, 1000)
	for i := 0; i < 1000; i++ {
		k := session.Generate("org")
		if seen[k] {
			t.Fatalf("Generate returned %q twice within %d keys", k, i+1)
		}
		seen[k] = true
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct keys, want 1000", len(seen))
	}
}

func TestCounterID(t *testing.T) {
	h := sha("key")
	tests := []struct {
		name string
		id   session.ID
		want string
	}{
		{name: "raw key is hashed", id: session.ID{Key: "key"}, want: h},
		{name: "hash is kept", id: session.ID{Key: h, Hashed: true}, want: h},
		{name: "empty key", id: session.ID{Key: ""}, want: sha("")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := session.CounterID(tc.id); got != tc.want {
				t.Errorf("CounterID(%+v) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}

type fixture struct {
	store *memory.Store
	clock *storagetest.ManualClock
	m     *session.Manager
}

func newFixture(t *testing.T, hashKeys bool) *fixture {
	t.Helper()
	clock := storagetest.NewManualClock(epoch)
	store := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	t.Cleanup(func() { store.Close() })
	return &fixture{store: store, clock: clock, m: session.NewManager(store, hashKeys)}
}

func (f *fixture) storeKeys(t *testing.T) []string {
	t.Helper()
	keys, err := f.store.Keys(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

func sampleSession() *apidef.SessionState {
	return &apidef.SessionState{
		Rate: 10, Per: 60, QuotaMax: 100, OrgID: "org",
		AccessRights: map[string]apidef.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}},
		MetaData:     map[string]interface{}{"user": "alice"},
		Tags:         []string{"t"},
		Alias:        "alice",
	}
}

func TestManagerRoundTrip(t *testing.T) {
	ctx := context.Background()
	const key = "org0123456789abcdef0123456789abcdef"
	tests := []struct {
		name       string
		hashKeys   bool
		wantStored string // the storage key
		wantListed string
	}{
		{name: "hashing off", hashKeys: false, wantStored: "apikey-" + key, wantListed: key},
		{name: "hashing on", hashKeys: true, wantStored: "apikey-" + sha(key), wantListed: sha(key)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.hashKeys)
			if f.m.HashKeys() != tc.hashKeys {
				t.Errorf("HashKeys() = %v, want %v", f.m.HashKeys(), tc.hashKeys)
			}
			in := sampleSession()
			in.KeyID = "ignored-when-stored"
			if err := f.m.Put(ctx, session.ID{Key: key}, in, 0); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := f.storeKeys(t); !slices.Equal(got, []string{tc.wantStored}) {
				t.Errorf("store keys = %q, want %q", got, []string{tc.wantStored})
			}
			got, err := f.m.Get(ctx, session.ID{Key: key})
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.KeyID != key {
				t.Errorf("Get().KeyID = %q, want %q", got.KeyID, key)
			}
			if got.Rate != 10 || got.Per != 60 || got.QuotaMax != 100 || got.OrgID != "org" || got.Alias != "alice" ||
				got.MetaData["user"] != "alice" || !slices.Equal(got.Tags, []string{"t"}) ||
				!slices.Equal(got.AccessRights["api"].Versions, []string{"Default"}) {
				t.Errorf("Get() = %+v, want the stored session", got)
			}
			listed, err := f.m.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(listed, []string{tc.wantListed}) {
				t.Errorf("List() = %q, want %q", listed, []string{tc.wantListed})
			}
			existed, err := f.m.Delete(ctx, session.ID{Key: key})
			if err != nil || !existed {
				t.Errorf("Delete = %v, %v; want true, nil", existed, err)
			}
			existed, err = f.m.Delete(ctx, session.ID{Key: key})
			if err != nil || existed {
				t.Errorf("second Delete = %v, %v; want false, nil", existed, err)
			}
			if _, err := f.m.Get(ctx, session.ID{Key: key}); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
			}
			if got := f.storeKeys(t); len(got) != 0 {
				t.Errorf("store keys after Delete = %q, want none", got)
			}
		})
	}
}

func TestManagerGetMissing(t *testing.T) {
	for _, hashKeys := range []bool{false, true} {
		f := newFixture(t, hashKeys)
		if _, err := f.m.Get(context.Background(), session.ID{Key: "nope"}); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("hashKeys=%v: Get(missing) error = %v, want ErrNotFound", hashKeys, err)
		}
	}
}

func TestManagerHashedIDs(t *testing.T) {
	ctx := context.Background()
	const key = "secret-raw-key-value"
	h := sha(key)

	t.Run("hashing on: addressed by hash", func(t *testing.T) {
		f := newFixture(t, true)
		if err := f.m.Put(ctx, session.ID{Key: key}, sampleSession(), 0); err != nil {
			t.Fatal(err)
		}
		got, err := f.m.Get(ctx, session.ID{Key: h, Hashed: true})
		if err != nil {
			t.Fatalf("Get by hash: %v", err)
		}
		if got.KeyID != h {
			t.Errorf("Get by hash KeyID = %q, want the hash %q", got.KeyID, h)
		}
		if got.Alias != "alice" {
			t.Errorf("Get by hash Alias = %q, want alice", got.Alias)
		}
		// Put by hash writes the same entry.
		s := sampleSession()
		s.Alias = "bob"
		if err := f.m.Put(ctx, session.ID{Key: h, Hashed: true}, s, 0); err != nil {
			t.Fatal(err)
		}
		got, err = f.m.Get(ctx, session.ID{Key: key})
		if err != nil || got.Alias != "bob" {
			t.Errorf("Get by key after Put by hash = %+v, %v; want alias bob", got, err)
		}
		existed, err := f.m.Delete(ctx, session.ID{Key: h, Hashed: true})
		if err != nil || !existed {
			t.Errorf("Delete by hash = %v, %v; want true, nil", existed, err)
		}
	})

	t.Run("hashing on: the raw key never reaches the store", func(t *testing.T) {
		f := newFixture(t, true)
		s := sampleSession()
		s.KeyID = key // must not be serialised either
		if err := f.m.Put(ctx, session.ID{Key: key}, s, 0); err != nil {
			t.Fatal(err)
		}
		keys := f.storeKeys(t)
		if len(keys) != 1 {
			t.Fatalf("store keys = %q, want one", keys)
		}
		for _, k := range keys {
			if strings.Contains(k, key) {
				t.Errorf("store key %q holds the raw key", k)
			}
			v, err := f.store.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(v), key) {
				t.Errorf("stored value %s holds the raw key", v)
			}
		}
	})

	tests := []struct {
		name     string
		hashKeys bool
		id       session.ID
		want     string
	}{
		{name: "hashed id with hashing off", hashKeys: false, id: session.ID{Key: h, Hashed: true}, want: "hash_keys is false"},
		{name: "malformed hash short", hashKeys: true, id: session.ID{Key: "abc", Hashed: true}, want: "a key hash is 64 lower-case hex digits"},
		{name: "malformed hash upper case", hashKeys: true, id: session.ID{Key: strings.ToUpper(h), Hashed: true}, want: "a key hash is 64 lower-case hex digits"},
		{name: "raw key given as hash", hashKeys: true, id: session.ID{Key: key, Hashed: true}, want: "a key hash is 64 lower-case hex digits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.hashKeys)
			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s(%+v) = nil error, want %q", op, tc.id, tc.want)
					return
				}
				if errors.Is(err, session.ErrNotFound) {
					t.Errorf("%s(%+v) = ErrNotFound, want a refusal", op, tc.id)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s(%+v) error = %q, want it to contain %q", op, tc.id, err, tc.want)
				}
			}
			_, err := f.m.Get(ctx, tc.id)
			check("Get", err)
			check("Put", f.m.Put(ctx, tc.id, sampleSession(), 0))
			_, err = f.m.Delete(ctx, tc.id)
			check("Delete", err)
			if got := f.storeKeys(t); len(got) != 0 {
				t.Errorf("store keys = %q, want none", got)
			}
		})
	}
}

func TestManagerTTL(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		ttl      time.Duration
		advance  time.Duration
		wantGone bool
	}{
		{name: "before expiry", ttl: time.Minute, advance: 59 * time.Second, wantGone: false},
		{name: "at expiry", ttl: time.Minute, advance: time.Minute, wantGone: true},
		{name: "after expiry", ttl: time.Minute, advance: time.Hour, wantGone: true},
		{name: "zero ttl keeps", ttl: 0, advance: 24 * 365 * time.Hour, wantGone: false},
	}
	for _, tc := range tests {
		for _, hashKeys := range []bool{false, true} {
			name := tc.name + map[bool]string{false: " hashing off", true: " hashing on"}[hashKeys]
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, hashKeys)
				id := session.ID{Key: "ttl-key"}
				if err := f.m.Put(ctx, id, sampleSession(), tc.ttl); err != nil {
					t.Fatal(err)
				}
				f.clock.Advance(tc.advance)
				_, err := f.m.Get(ctx, id)
				if tc.wantGone {
					if !errors.Is(err, session.ErrNotFound) {
						t.Errorf("Get after %v with ttl %v: error %v, want ErrNotFound", tc.advance, tc.ttl, err)
					}
				} else if err != nil {
					t.Errorf("Get after %v with ttl %v: %v, want the session", tc.advance, tc.ttl, err)
				}
				listed, err := f.m.List(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if gotGone := len(listed) == 0; gotGone != tc.wantGone {
					t.Errorf("List() = %q, want gone=%v", listed, tc.wantGone)
				}
			})
		}
	}
}

func TestManagerPutNegativeTTL(t *testing.T) {
	f := newFixture(t, false)
	err := f.m.Put(context.Background(), session.ID{Key: "k"}, sampleSession(), -time.Second)
	if err == nil || !strings.Contains(err.Error(), "storing key") {
		t.Errorf("Put with negative ttl error = %v, want a storing key error", err)
	}
}

func TestManagerListOnlyKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	if err := f.store.Set(ctx, "other-value", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a", "c"} {
		if err := f.m.Put(ctx, session.ID{Key: k}, sampleSession(), 0); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := f.m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(listed)
	if want := []string{"a", "b", "c"}; !slices.Equal(listed, want) {
		t.Errorf("List() = %q, want %q", listed, want)
	}
}

func TestManagerGetCorrupt(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	if err := f.store.Set(ctx, "apikey-bad", []byte("{not json"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := f.m.Get(ctx, session.ID{Key: "bad"})
	if err == nil || errors.Is(err, session.ErrNotFound) || !strings.Contains(err.Error(), "decoding stored key") {
		t.Errorf("Get(corrupt) error = %v, want a decoding error", err)
	}
}

func TestManagerStoreClosed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, false)
	f.store.Close()
	if _, err := f.m.Get(ctx, session.ID{Key: "k"}); err == nil || errors.Is(err, session.ErrNotFound) || !strings.Contains(err.Error(), "reading key") {
		t.Errorf("Get on a closed store error = %v, want a reading error", err)
	}
	if err := f.m.Put(ctx, session.ID{Key: "k"}, sampleSession(), 0); err == nil || !strings.Contains(err.Error(), "storing key") {
		t.Errorf("Put on a closed store error = %v, want a storing error", err)
	}
	if _, err := f.m.Delete(ctx, session.ID{Key: "k"}); err == nil || !strings.Contains(err.Error(), "deleting key") {
		t.Errorf("Delete on a closed store error = %v, want a deleting error", err)
	}
	if _, err := f.m.List(ctx); err == nil || !strings.Contains(err.Error(), "listing keys") {
		t.Errorf("List on a closed store error = %v, want a listing error", err)
	}
}

// richSession has a value behind every reference a session holds.
func richSession() *apidef.SessionState {
	return &apidef.SessionState{
		Rate: 10, Per: 60, OrgID: "org", Alias: "alice",
		ApplyPolicies: []string{"p"},
		AccessRights: map[string]apidef.AccessDefinition{"api": {
			APIID: "api", Versions: []string{"Default"},
			AllowedURLs: []apidef.AccessSpec{{URL: "/users", Methods: []string{"GET"}}},
			Limit:       &apidef.APILimit{Rate: 5, Per: 1},
		}},
		MetaData: map[string]interface{}{"user": "alice", "nested": map[string]interface{}{"list": []interface{}{"a"}}},
		Tags:     []string{"t"},
	}
}

// scribble changes s at every depth, as a plugin may change the session it is given.
func scribble(s *apidef.SessionState) {
	s.Rate = 99
	s.ApplyPolicies[0] = "changed"
	ar := s.AccessRights["api"]
	ar.Versions[0] = "changed"
	ar.AllowedURLs[0].Methods[0] = "DELETE"
	ar.Limit.Rate = 99
	s.AccessRights["other"] = apidef.AccessDefinition{APIID: "other"}
	s.MetaData["user"] = "mallory"
	s.MetaData["nested"].(map[string]interface{})["list"].([]interface{})[0] = "changed"
	s.Tags[0] = "changed"
}

// TestManagerGetIsOwnCopy checks that changing what Get returns changes nothing another Get or
// Lookup sees: sessions are decoded once and the decoding is shared.
func TestManagerGetIsOwnCopy(t *testing.T) {
	ctx := context.Background()
	for _, hashKeys := range []bool{false, true} {
		f := newFixture(t, hashKeys)
		if err := f.m.Put(ctx, session.ID{Key: "k"}, richSession(), 0); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			got, err := f.m.Get(ctx, session.ID{Key: "k"})
			if err != nil {
				t.Fatal(err)
			}
			want := richSession()
			want.KeyID = "k"
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("hashKeys=%v: Get #%d = %+v, want %+v", hashKeys, i+1, got, want)
			}
			scribble(got)
		}
		shared, _, err := f.m.Lookup(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if want := richSession(); !reflect.DeepEqual(shared, want) {
			t.Errorf("hashKeys=%v: Lookup after changing Get's results = %+v, want %+v", hashKeys, shared, want)
		}
	}
}

// TestManagerLookup checks the key check's lookup: by the raw token whether keys are hashed or
// not, with the token's hash, and the one shared decoding until the stored key changes.
func TestManagerLookup(t *testing.T) {
	ctx := context.Background()
	const token = "org0123456789abcdef0123456789abcdef"
	for _, hashKeys := range []bool{false, true} {
		f := newFixture(t, hashKeys)
		if _, hash, err := f.m.Lookup(ctx, token); !errors.Is(err, session.ErrNotFound) || hash != sha(token) {
			t.Errorf("hashKeys=%v: Lookup(missing) = %q, %v; want the hash, ErrNotFound", hashKeys, hash, err)
		}
		if err := f.m.Put(ctx, session.ID{Key: token}, richSession(), 0); err != nil {
			t.Fatal(err)
		}
		s1, hash, err := f.m.Lookup(ctx, token)
		if err != nil {
			t.Fatalf("hashKeys=%v: Lookup: %v", hashKeys, err)
		}
		if hash != sha(token) {
			t.Errorf("hashKeys=%v: Lookup hash = %q, want %q", hashKeys, hash, sha(token))
		}
		if want := richSession(); !reflect.DeepEqual(s1, want) {
			t.Errorf("hashKeys=%v: Lookup = %+v, want %+v", hashKeys, s1, want)
		}
		if s2, _, _ := f.m.Lookup(ctx, token); s2 != s1 {
			t.Errorf("hashKeys=%v: a second Lookup decoded the unchanged key again", hashKeys)
		}
		changed := richSession()
		changed.Rate = 20
		if err := f.m.Put(ctx, session.ID{Key: token}, changed, 0); err != nil {
			t.Fatal(err)
		}
		if s3, _, _ := f.m.Lookup(ctx, token); s3 == nil || s3.Rate != 20 {
			t.Errorf("hashKeys=%v: Lookup after the key changed = %+v, want rate 20", hashKeys, s3)
		}
	}
}

// TestManagerLookupNames checks the names the key check gets with a key: its hash, storage key
// and counters over all its APIs, as HashKey, RateWindow and QuotaCounter format them; the same
// strings request after request while the key is kept, and new ones once it was deleted (the
// kept names go with it). Tokens longer than the stack copy sumKey makes are hashed the same.
func TestManagerLookupNames(t *testing.T) {
	ctx := context.Background()
	for _, hashKeys := range []bool{false, true} {
		for _, token := range []string{"org0123456789abcdef0123456789abcdef", strings.Repeat("k", 300)} {
			f := newFixture(t, hashKeys)
			name := fmt.Sprintf("hashKeys=%v, %d bytes", hashKeys, len(token))
			_, missing, err := f.m.LookupNames(ctx, token)
			if !errors.Is(err, session.ErrNotFound) || missing == nil || missing.Hash != sha(token) {
				t.Fatalf("%s: LookupNames(missing) = %+v, %v; want the hash, ErrNotFound", name, missing, err)
			}
			if err := f.m.Put(ctx, session.ID{Key: token}, richSession(), 0); err != nil {
				t.Fatal(err)
			}
			s1, n1, err := f.m.LookupNames(ctx, token)
			if err != nil || s1 == nil {
				t.Fatalf("%s: LookupNames: %v", name, err)
			}
			storageKey := session.KeyPrefix + token
			if hashKeys {
				storageKey = session.KeyPrefix + sha(token)
			}
			want := session.Names{Hash: sha(token), Storage: storageKey,
				Rate: session.RateWindow(sha(token), "x", false), Quota: session.QuotaCounter(sha(token), "x", false)}
			if *n1 != want {
				t.Errorf("%s: names = %+v, want %+v", name, *n1, want)
			}
			if session.HashKey(token) != want.Hash {
				t.Errorf("%s: HashKey = %q, want %q", name, session.HashKey(token), want.Hash)
			}
			if _, n2, _ := f.m.LookupNames(ctx, token); n2 != n1 {
				t.Errorf("%s: a second lookup of the unchanged key formatted its names again", name)
			}
			if _, err := f.m.Delete(ctx, session.ID{Key: token}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.m.LookupNames(ctx, token); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("%s: LookupNames after delete: %v, want ErrNotFound", name, err)
			}
			if err := f.m.Put(ctx, session.ID{Key: token}, richSession(), 0); err != nil {
				t.Fatal(err)
			}
			if _, n3, err := f.m.LookupNames(ctx, token); err != nil || n3 == n1 || *n3 != want {
				t.Errorf("%s: after the key was deleted and stored again: names %p (%+v), %v; want new ones, equal", name, n3, n3, err)
			}
		}
	}
	// A token that cannot name a key (keys not hashed): not found, with its hash.
	f := newFixture(t, false)
	if _, n, err := f.m.LookupNames(ctx, "bad\x00key"); !errors.Is(err, session.ErrNotFound) || n.Hash != sha("bad\x00key") {
		t.Errorf("LookupNames(control character) = %+v, %v; want the hash, ErrNotFound", n, err)
	}
}
