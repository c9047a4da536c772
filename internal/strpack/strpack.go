// Package strpack copies strings a long-lived structure keeps into one allocation.
//
// A definition decoded from JSON holds each of its strings in an allocation of its own. A
// gateway with 10,000 APIs keeps a few of them per API for as long as the API serves, and the
// collector marks every one of those objects on every cycle: packed, the strings of one API are
// one object (docs/performance.md, "Per API").
package strpack

import "strings"

// Pack makes each non-empty string *p point into one new allocation holding them all, with the
// same content: what the strings shared before (a decoded document) can then be collected once
// nothing else holds it. The strings packed together are kept alive together.
func Pack(ps ...*string) {
	n := 0
	for _, p := range ps {
		n += len(*p)
	}
	if n == 0 {
		return
	}
	var b strings.Builder
	b.Grow(n)
	for _, p := range ps {
		b.WriteString(*p)
	}
	all, off := b.String(), 0
	for _, p := range ps {
		l := len(*p)
		if l == 0 {
			continue
		}
		*p = all[off : off+l]
		off += l
	}
}
