package apidef

import (
	"fmt"
	"strings"
	"time"
)

// EndpointLimit gives a key a rate limit of its own on the requests to one path of an API, per
// method: Tyk's access_rights[api].endpoints. A request it matches is counted against that
// limit instead of the key's rate limit on the API (its quota still counts it).
type EndpointLimit struct {
	// Path is an endpoint pattern, matched anywhere in the path after the listen path, as Tyk
	// matches these (`/users` also matches `/v2/users/1`).
	Path    string                `json:"path,omitempty"`
	Methods []EndpointMethodLimit `json:"methods,omitempty"`
}

// EndpointMethodLimit is the limit of one method on an EndpointLimit's path.
type EndpointMethodLimit struct {
	Name  string    `json:"name,omitempty"`
	Limit RateLimit `json:"limit"`
}

// RateLimit is a rate and a per: Rate requests per Per seconds.
type RateLimit struct {
	Rate float64 `json:"rate,omitempty"`
	Per  float64 `json:"per,omitempty"`
}

// Interval is the time between two requests the limit allows, which orders limits from the most
// to the least permissive; 0 for a limit that sets none (a rate or per of 0 or less), which is
// the most permissive of all.
func (l RateLimit) Interval() time.Duration {
	if l.Rate <= 0 || l.Per <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) * l.Per / l.Rate)
}

// Method returns the limit e sets for method (compared without case), and whether it sets one.
func (e *EndpointLimit) Method(method string) (RateLimit, bool) {
	for _, m := range e.Methods {
		if strings.EqualFold(m.Name, method) {
			return m.Limit, true
		}
	}
	return RateLimit{}, false
}

// checkEndpointLimits reports what is wrong with an access right's endpoint limits: an entry
// without a path or a method, a method name that is not a token, a rate or per out of range.
// Whether each path compiles as a pattern is checked where patterns are compiled (package
// policy's CheckPatterns), since apidef holds no matcher.
func checkEndpointLimits(where string, eps []EndpointLimit) []error {
	var errs []error
	for i, e := range eps {
		at := fmt.Sprintf("%s[%d]", where, i)
		if strings.TrimSpace(e.Path) == "" {
			errs = append(errs, fmt.Errorf("%s.path is empty", at))
		}
		if len(e.Methods) == 0 {
			errs = append(errs, fmt.Errorf("%s.methods is empty: name each method the limit applies to", at))
		}
		for j, m := range e.Methods {
			mat := fmt.Sprintf("%s.methods[%d]", at, j)
			if !isToken(m.Name) {
				errs = append(errs, fmt.Errorf("%s.name %q is not an HTTP method", mat, m.Name))
			}
			errs = append(errs, CheckRate(mat+".limit.", m.Limit.Rate, m.Limit.Per)...)
		}
	}
	return errs
}
