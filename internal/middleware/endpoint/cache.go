package endpoint

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/gatehouse/gatehouse/apidef"
)

// PatternCache compiles the patterns keys carry once: a key's allowed URLs (Grant) and the
// paths of its per-endpoint rate limits (Anywhere) are only known at request time. It is
// bounded; when full it starts afresh. A nil cache compiles every time.
type PatternCache struct {
	// Exact makes allowed URLs cover the paths they match whole, none below them
	// (CompileExact; Tyk's enable_path_suffix_matching). Set before first use.
	Exact bool
	mu    sync.RWMutex
	m     map[patternKey]patternEntry
}

type patternEntry struct {
	p   Pattern
	err error
}

// patternKey names a cached pattern: its URL and its methods, how many there are, and whether
// it matches anywhere in the path. One method (or none) is held as it is, allocating nothing;
// several are each prefixed by their length. Joined with a separator, two lists could name one
// entry (["GET,POST"], which matches no request, and ["GET", "POST"]), and a key would be
// served another key's pattern.
type patternKey struct {
	url, methods string
	n            int
	anywhere     bool
}

func newPatternKey(spec apidef.AccessSpec) patternKey {
	k := patternKey{url: spec.URL, n: len(spec.Methods)}
	switch len(spec.Methods) {
	case 0:
	case 1:
		k.methods = spec.Methods[0]
	default:
		var buf [64]byte
		b := buf[:0]
		for _, m := range spec.Methods {
			b = binary.AppendUvarint(b, uint64(len(m)))
			b = append(b, m...)
		}
		k.methods = string(b)
	}
	return k
}

const maxCachedPatterns = 10000

// Get returns the compiled allowed-URL pattern of spec, a grant (Compile, or CompileExact).
func (pc *PatternCache) Get(spec apidef.AccessSpec) (Pattern, error) {
	return pc.get(newPatternKey(spec), spec.Methods, GrantCompiler(pc != nil && pc.Exact))
}

// Anywhere returns path compiled as CompileAnywhere does, for every method: the path of a
// key's per-endpoint rate limit, which its entry's methods are checked apart from.
func (pc *PatternCache) Anywhere(path string) (Pattern, error) {
	return pc.get(patternKey{url: path, anywhere: true}, nil, CompileAnywhere)
}

func (pc *PatternCache) get(k patternKey, methods []string, compile func(string, []string, bool) (Pattern, error)) (Pattern, error) {
	if pc == nil {
		return compile(k.url, methods, false)
	}
	pc.mu.RLock()
	e, ok := pc.m[k]
	pc.mu.RUnlock()
	if ok {
		return e.p, e.err
	}
	p, err := compile(k.url, methods, false)
	pc.mu.Lock()
	if pc.m == nil || len(pc.m) >= maxCachedPatterns {
		pc.m = make(map[patternKey]patternEntry)
	}
	pc.m[k] = patternEntry{p, err}
	pc.mu.Unlock()
	return p, err
}

// CheckPatterns reports the first pattern of the access rights, in API id order, that does not
// compile: an allowed_urls entry's, or the path of a per-endpoint rate limit.
func CheckPatterns(rights map[string]apidef.AccessDefinition) error {
	for _, apiID := range slices.Sorted(maps.Keys(rights)) {
		for _, u := range rights[apiID].AllowedURLs {
			if _, err := Compile(u.URL, u.Methods, false); err != nil {
				return fmt.Errorf("access_rights[%q].allowed_urls: %v", apiID, err)
			}
		}
		for i, e := range rights[apiID].Endpoints {
			if _, err := CompileAnywhere(e.Path, nil, false); err != nil {
				return fmt.Errorf("access_rights[%q].endpoints[%d]: %v", apiID, i, err)
			}
		}
	}
	return nil
}
