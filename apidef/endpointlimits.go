package apidef

import (
	"fmt"
	"strings"
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

// PerSecond is the request rate the limit allows, 0 for a limit that sets none (a rate or per
// of 0 or less).
func (l RateLimit) PerSecond() float64 {
	if l.Rate <= 0 || l.Per <= 0 {
		return 0
	}
	return l.Rate / l.Per
}

// Bounds of a key's or policy's per-endpoint rate limits: each entry's path is compiled and
// matched on the requests of the key, so their number and size are bounded like a request's.
const (
	MaxEndpointLimits     = 100
	MaxEndpointPathLength = 1024
	MaxEndpointMethods    = 16
)

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
	if len(eps) > MaxEndpointLimits {
		return []error{fmt.Errorf("%s has %d entries; at most %d are allowed", where, len(eps), MaxEndpointLimits)}
	}
	for i, e := range eps {
		at := fmt.Sprintf("%s[%d]", where, i)
		switch {
		case strings.TrimSpace(e.Path) == "":
			errs = append(errs, fmt.Errorf("%s.path is empty", at))
		case len(e.Path) > MaxEndpointPathLength:
			errs = append(errs, fmt.Errorf("%s.path is %d bytes long; at most %d are allowed", at, len(e.Path), MaxEndpointPathLength))
		}
		switch {
		case len(e.Methods) == 0:
			errs = append(errs, fmt.Errorf("%s.methods is empty: name each method the limit applies to", at))
		case len(e.Methods) > MaxEndpointMethods:
			errs = append(errs, fmt.Errorf("%s.methods has %d entries; at most %d are allowed", at, len(e.Methods), MaxEndpointMethods))
		}
		for j, m := range e.Methods {
			mat := fmt.Sprintf("%s.methods[%d]", at, j)
			if !IsToken(m.Name) {
				errs = append(errs, fmt.Errorf("%s.name %q is not an HTTP method", mat, m.Name))
			}
			errs = append(errs, CheckRate(mat+".limit.", m.Limit.Rate, m.Limit.Per)...)
		}
	}
	return errs
}
