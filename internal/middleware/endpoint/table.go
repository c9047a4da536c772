package endpoint

import (
	"fmt"
	"net/http"
	"strings"
)

// Table holds per-endpoint settings (size limits, timeouts, method transforms, circuit
// breakers) of each version of an API. Entries match as Tyk matches them: the pattern anywhere
// in the path (CompileAnywhere) and the entry's one method; the first entry that matches wins.
type Table[T any] struct {
	versions map[string][]tableEntry[T]
}

type tableEntry[T any] struct {
	pattern Pattern
	value   T
}

// Add compiles an entry of a version's list. where names the entry in errors.
func (t *Table[T]) Add(version, where, path, method string, ignoreCase bool, value T) error {
	p, err := CompileAnywhere(path, []string{strings.ToUpper(strings.TrimSpace(method))}, ignoreCase)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if t.versions == nil {
		t.versions = map[string][]tableEntry[T]{}
	}
	t.versions[version] = append(t.versions[version], tableEntry[T]{pattern: p, value: value})
	return nil
}

// Empty reports whether no version has an entry; a nil table is empty.
func (t *Table[T]) Empty() bool { return t == nil || len(t.versions) == 0 }

// LookupHeadAsGet is Lookup, but a HEAD that no entry names is looked up as a GET: for what
// guards the upstream (rate limits, timeouts, circuit breakers), since upstreams answer HEAD
// with their GET handler, and a HEAD would otherwise be a way around the GET's entry.
func (t *Table[T]) LookupHeadAsGet(version, method string, readings []string) (T, bool) {
	v, ok := t.Lookup(version, method, readings)
	if !ok && strings.EqualFold(method, http.MethodHead) {
		return t.Lookup(version, http.MethodGet, readings)
	}
	return v, ok
}

// Lookup returns the value of the first entry of the version matching the method and any of
// the path's readings (see Readings).
func (t *Table[T]) Lookup(version, method string, readings []string) (T, bool) {
	var zero T
	if t == nil {
		return zero, false
	}
	entries := t.versions[version]
	for i := range entries {
		if entries[i].pattern.MatchAny(method, readings) {
			return entries[i].value, true
		}
	}
	return zero, false
}
