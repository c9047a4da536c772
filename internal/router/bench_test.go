package router

import (
	"strconv"
	"testing"
)

// BenchmarkMatch shows that Match costs the same with 1 route as with 10,000: both look up the
// same number of path prefixes.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1, 10_000} {
		b.Run("routes="+strconv.Itoa(n), func(b *testing.B) {
			routes := make([]Route[int], n)
			for i := range routes {
				routes[i] = Route[int]{
					Domain:     "tenant" + strconv.Itoa(i) + ".example.com",
					ListenPath: "/svc" + strconv.Itoa(i) + "/v1",
					Value:      i,
				}
			}
			rt, conflicts := New(routes)
			if len(conflicts) != 0 {
				b.Fatalf("conflicts: %v", conflicts)
			}
			last := n - 1
			host := "tenant" + strconv.Itoa(last) + ".example.com:8443"
			path := "/svc" + strconv.Itoa(last) + "/v1/users/42/orders"
			b.ReportAllocs()
			for b.Loop() {
				if v, _, ok := rt.Match(host, path); !ok || v != last {
					b.Fatalf("Match = %d, %v; want %d", v, ok, last)
				}
			}
		})
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"plain", "/svc42/v1/users/42/orders"},
		{"escaped", "//svc42/v1/users/caf%C3%A9/orders"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Canonicalize(bc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
