package session_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/session"
)

// TestMinTokenLength: with a minimum token length, a token shorter than it names no key on the
// request path, as Tyk's min_token_length has it, even one stored under that name; the Gateway
// API's reads are not affected.
func TestMinTokenLength(t *testing.T) {
	ctx := context.Background()
	for _, hashed := range []bool{false, true} {
		f := newFixture(t, hashed)
		for _, k := range []string{"z", "ab", "abc"} {
			if err := f.m.Put(ctx, session.ID{Key: k}, sampleSession(), 0); err != nil {
				t.Fatal(err)
			}
		}
		// Found while there is no minimum, and kept as known names.
		for _, k := range []string{"z", "ab", "abc"} {
			if _, _, err := f.m.Lookup(ctx, k); err != nil {
				t.Fatalf("hashed=%v: Lookup(%q) with no minimum: %v", hashed, k, err)
			}
		}
		f.m.SetMinTokenLength(3)
		if got := f.m.MinTokenLength(); got != 3 {
			t.Errorf("MinTokenLength() = %d, want 3", got)
		}
		for _, k := range []string{"z", "ab"} {
			_, n, err := f.m.LookupNames(ctx, k)
			if !errors.Is(err, session.ErrNotFound) || n == nil || n.Hash != session.HashKey(k) {
				t.Errorf("hashed=%v: LookupNames(%q) = %+v, %v; want ErrNotFound with its hash", hashed, k, n, err)
			}
			if _, err := f.m.Get(ctx, session.ID{Key: k}); err != nil {
				t.Errorf("hashed=%v: Get(%q) = %v; the Gateway API still reads it", hashed, k, err)
			}
		}
		if _, _, err := f.m.Lookup(ctx, "abc"); err != nil {
			t.Errorf("hashed=%v: Lookup(\"abc\") = %v, want found", hashed, err)
		}
		// Bytes, as Tyk counts: a two-letter token of three bytes is long enough.
		if err := f.m.Put(ctx, session.ID{Key: "яz"}, sampleSession(), 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.m.Lookup(ctx, "яz"); err != nil {
			t.Errorf("hashed=%v: Lookup(\"яz\") = %v, want found (3 bytes)", hashed, err)
		}
	}
}
