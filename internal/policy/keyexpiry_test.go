package policy_test

import (
	"math"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/policy"
)

// TestKeyExpiry: the last of a key's policies that sets key_expires_in gives a new key its
// expiry, as in Tyk; an expiry past what the clock counts saturates instead of wrapping round
// (a negative expires would read as never).
func TestKeyExpiry(t *testing.T) {
	set := policy.Set{
		"trial": {ID: "trial", KeyExpiresIn: 2},
		"long":  {ID: "long", KeyExpiresIn: 3600},
		"plain": {ID: "plain"},
		"neg":   {ID: "neg", KeyExpiresIn: -5},
		"huge":  {ID: "huge", KeyExpiresIn: math.MaxInt64},
	}
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		ids  []string
		want int64
	}{
		{nil, 0},
		{[]string{"plain"}, 0},
		{[]string{"neg"}, 0},
		{[]string{"missing"}, 0},
		{[]string{"trial"}, now.Unix() + 2},
		{[]string{"trial", "long", "plain"}, now.Unix() + 3600},
		{[]string{"long", "trial"}, now.Unix() + 2},
		{[]string{"long", "missing", "neg"}, now.Unix() + 3600},
		{[]string{"huge"}, math.MaxInt64},
	} {
		if got := set.KeyExpiry(tc.ids, now); got != tc.want {
			t.Errorf("KeyExpiry(%q) = %d, want %d", tc.ids, got, tc.want)
		}
	}
}
