package hdrname

import "testing"

func TestSame(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"X-Secret", "x-secret", true},
		{"X_Secret", "X-Secret", true},
		{"x_secret", "X-SECRET", true},
		{"X-Secret", "X_Secret", true},
		{"X-Secrets", "X-Secret", false},
		{"X-Secret", "X-Secreu", false},
		{"X.Secret", "X-Secret", false},
		{"", "", true},
	} {
		if got := Same(tc.a, tc.b); got != tc.same {
			t.Errorf("Same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
