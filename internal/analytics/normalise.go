package analytics

import (
	"fmt"
	"regexp"
	"regexp/syntax"
)

// Normaliser rewrites the path an analytics record carries (analytics_config.normalise_urls),
// so that tyk-pump's aggregates count /users/42 and /users/43 as one endpoint. It applies Tyk's
// patterns, in Tyk's order, to the record's path only (never its raw path): UUIDs become
// {uuid}, ULIDs {ulid}, a slash and the digits after it /{id}, then each custom pattern's
// matches {var}.
type Normaliser struct {
	uuids, ulids, ids *regexp.Regexp
	custom            []*regexp.Regexp
}

// Tyk's patterns. A UUID's hyphens may be left out; a number is matched from a slash, so
// /v2/items/7b is /v2/items/{id}b, as in Tyk.
var (
	uuidPattern   = regexp.MustCompile(`[0-9a-fA-F]{8}(-)?[0-9a-fA-F]{4}(-)?[0-9a-fA-F]{4}(-)?[0-9a-fA-F]{4}(-)?[0-9a-fA-F]{12}`)
	ulidPattern   = regexp.MustCompile(`(?i)[0-7][0-9A-HJKMNP-TV-Z]{25}`)
	numberPattern = regexp.MustCompile(`/(\d+)`)
)

// NewNormaliser returns the normaliser of the options; nil (which normalises nothing) when they
// ask for nothing. A custom pattern that is not a Go regular expression is an error.
func NewNormaliser(uuids, ulids, numbers bool, custom []string) (*Normaliser, error) {
	n := &Normaliser{}
	if uuids {
		n.uuids = uuidPattern
	}
	if ulids {
		n.ulids = ulidPattern
	}
	if numbers {
		n.ids = numberPattern
	}
	for i, p := range custom {
		re, err := CompilePattern(p)
		if err != nil {
			return nil, fmt.Errorf("analytics_config.normalise_urls.custom_patterns[%d] %w", i, err)
		}
		n.custom = append(n.custom, re)
	}
	if n.uuids == nil && n.ulids == nil && n.ids == nil && len(n.custom) == 0 {
		return nil, nil
	}
	return n, nil
}

// CompilePattern compiles a custom pattern of normalise_urls: a Go regular expression that
// cannot match with zero width (an empty match, or an assertion alone such as \b or ^, would
// put {var} between characters of a path).
func CompilePattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("%q is not a regular expression (Go's syntax): %w", p, err)
	}
	parsed, err := syntax.Parse(p, syntax.Perl)
	if err != nil || mayMatchEmpty(parsed.Simplify()) {
		return nil, fmt.Errorf("%q can match an empty string (or only a position, such as \\b or ^), so it would put {var} between characters of a path", p)
	}
	return re, nil
}

// mayMatchEmpty reports whether re can match with zero width somewhere, its assertions (\b,
// ^, $) taken as matching.
func mayMatchEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCapture, syntax.OpPlus:
		return mayMatchEmpty(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || mayMatchEmpty(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !mayMatchEmpty(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if mayMatchEmpty(s) {
				return true
			}
		}
	}
	return false
}

// Path returns path normalised. A pattern that does not match costs no allocation.
func (n *Normaliser) Path(path string) string {
	if n == nil {
		return path
	}
	path = replaceMatches(n.uuids, path, "{uuid}")
	path = replaceMatches(n.ulids, path, "{ulid}")
	path = replaceMatches(n.ids, path, "/{id}")
	for _, re := range n.custom {
		path = replaceMatches(re, path, "{var}")
	}
	return path
}

// replaceMatches replaces re's matches in path with with; nil re, or no match, leaves path as
// it is, without allocating.
func replaceMatches(re *regexp.Regexp, path, with string) string {
	if re == nil || !re.MatchString(path) {
		return path
	}
	return re.ReplaceAllLiteralString(path, with)
}
