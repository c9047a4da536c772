package analytics

import (
	"fmt"
	"regexp"
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
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("analytics_config.normalise_urls.custom_patterns[%d] %q is not a regular expression: %w", i, p, err)
		}
		if re.MatchString("") {
			// It would put {var} between every two characters of a path.
			return nil, fmt.Errorf("analytics_config.normalise_urls.custom_patterns[%d] %q matches an empty string", i, p)
		}
		n.custom = append(n.custom, re)
	}
	if n.uuids == nil && n.ulids == nil && n.ids == nil && len(n.custom) == 0 {
		return nil, nil
	}
	return n, nil
}

// Path returns path normalised.
func (n *Normaliser) Path(path string) string {
	if n == nil {
		return path
	}
	if n.uuids != nil {
		path = n.uuids.ReplaceAllLiteralString(path, "{uuid}")
	}
	if n.ulids != nil {
		path = n.ulids.ReplaceAllLiteralString(path, "{ulid}")
	}
	if n.ids != nil {
		path = n.ids.ReplaceAllLiteralString(path, "/{id}")
	}
	for _, re := range n.custom {
		path = re.ReplaceAllLiteralString(path, "{var}")
	}
	return path
}
