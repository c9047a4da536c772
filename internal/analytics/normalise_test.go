package analytics

import "testing"

// TestNormaliser: Tyk's patterns, in Tyk's order, each only when asked for.
func TestNormaliser(t *testing.T) {
	all, err := NewNormaliser(true, true, true, []string{`ord_[a-z]+`, `\$x`})
	if err != nil {
		t.Fatal(err)
	}
	numbers, _ := NewNormaliser(false, false, true, nil)
	for _, tc := range []struct {
		n        *Normaliser
		in, want string
	}{
		{all, "/users/42/orders/7", "/users/{id}/orders/{id}"},
		{all, "/u/123e4567-e89b-12d3-a456-426614174000/x", "/u/{uuid}/x"},
		{all, "/u/123e4567e89b12d3a456426614174000", "/u/{uuid}"},
		{all, "/u/01ARZ3NDEKTSV4RRFFQ69G5FAV/x", "/u/{ulid}/x"},
		{all, "/u/01arz3ndektsv4rrffq69g5fav", "/u/{ulid}"},
		{all, "/v2/items/7b", "/v2/items/{id}b"},
		{all, "/pay/ord_abc/$x", "/pay/{var}/{var}"},
		{all, "/plain/path", "/plain/path"},
		{numbers, "/u/123e4567-e89b-12d3-a456-426614174000", "/u/{id}e4567-e89b-12d3-a456-426614174000"},
		{nil, "/users/42", "/users/42"},
	} {
		if got := tc.n.Path(tc.in); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	if n, err := NewNormaliser(false, false, false, nil); n != nil || err != nil {
		t.Errorf("nothing asked: %v %v", n, err)
	}
	for _, bad := range []string{"(", "", "x*", "a|", `\b`, "^", "$", "(?:x)?", "x{0,3}", `(\b|y)`} {
		if _, err := NewNormaliser(false, false, false, []string{bad}); err == nil {
			t.Errorf("custom pattern %q was accepted", bad)
		}
	}
	// A replacement is literal: "$1" in a pattern's match is not expanded.
	lit, _ := NewNormaliser(false, false, false, []string{`(a)`})
	if got := lit.Path("/a"); got != "/{var}" {
		t.Errorf("literal replacement: %q", got)
	}
}

// TestNormaliserAllocations: a path no pattern matches costs no allocation; one that matches is
// still normalised.
func TestNormaliserAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not exact under the race detector; scripts/test.sh runs this test without -race")
	}
	n, err := NewNormaliser(true, true, true, []string{`ord_[a-z]+`})
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = n.Path("/plain/path") }); allocs != 0 {
		t.Errorf("a path nothing matches: %v allocations, want 0", allocs)
	}
	if got := n.Path("/x/1/ord_a"); got != "/x/{id}/{var}" {
		t.Errorf("normalised: %q", got)
	}
}
