package keylimit

import (
	"math"
	"net/http"
	"strconv"
	"testing"
)

// TestSetHeaders checks the three limit headers' values at the edges of int64, and that setting
// them costs two allocations (the values' array and one string for the three numbers).
func TestSetHeaders(t *testing.T) {
	for _, tc := range []struct{ limit, remaining, reset int64 }{
		{0, 0, 0},
		{-1, -1, 0},
		{1000, 999, 1767225600},
		{math.MaxInt64, math.MinInt64, math.MaxInt64},
	} {
		h := http.Header{}
		setHeaders(h, tc.limit, tc.remaining, tc.reset)
		want := map[string]int64{HeaderLimit: tc.limit, HeaderRemaining: tc.remaining, HeaderReset: tc.reset}
		for k, n := range want {
			if got := h[k]; len(got) != 1 || got[0] != strconv.FormatInt(n, 10) {
				t.Errorf("%s = %q, want [%d]", k, got, n)
			}
		}
	}
	h := http.Header{}
	if n := testing.AllocsPerRun(100, func() { setHeaders(h, 1000, 999, 1767225600) }); n > 2 {
		t.Errorf("setHeaders allocates %v times, want at most 2", n)
	}
}
