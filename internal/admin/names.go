package admin

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A body is checked as encoding/json decodes it, which matches field names regardless of case,
// the last in the document winning; it is stored re-encoded from its top-level fields, which
// puts them in sorted order. A body naming one field twice in different case ("use_keyless" and
// "USE_KEYLESS") would be checked one way and served the other after the next reload, so it is
// refused.

// repeatedField returns an error naming a field a JSON object's top level spells twice in
// different case, or nil.
func repeatedField(fields map[string]json.RawMessage) error {
	seen := make(map[string]string, len(fields))
	var clash []string
	for k := range fields {
		f := foldName(k)
		if other, ok := seen[f]; ok {
			a, b := other, k
			if b < a {
				a, b = b, a
			}
			clash = append(clash, fmt.Sprintf("%q and %q", a, b))
			continue
		}
		seen[f] = k
	}
	if len(clash) == 0 {
		return nil
	}
	sort.Strings(clash)
	return fmt.Errorf("the body names a field twice: %s (field names match regardless of case; keep one)", strings.Join(clash, ", "))
}

// foldName maps a name to one form shared by every name encoding/json would match with it: each
// rune becomes the smallest of its case-folding orbit.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
