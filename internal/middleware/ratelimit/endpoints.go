package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// Limit is one API-level limit: Limit requests per Window, counted in the window named Name.
type Limit struct {
	Limit  int64
	Window time.Duration
	Name   string
	// reached is the cause a refusal logs, made once: which limit it was.
	reached error
}

// errGlobalReached is the cause of a refusal by global_rate_limit.
var errGlobalReached = errors.New("API global rate limit reached")

// Endpoints are the compiled extended_paths.rate_limit entries of every version of an API.
type Endpoints = endpoint.Table[Limit]

// Compile returns the per-endpoint limits of the versions of the API apiID, or nil when none
// sets one. As in Tyk, entries apply only to a version with use_extended_paths; the first entry
// matching a request wins. An entry with a rate of 0 sets no limit and is left out: what it
// matches counts against global_rate_limit (exempting it would open more than the entry says).
// Each entry counts in its own window, named after the API and a hash of
// its method and path (Tyk's key suffix), so that entries with the same method and path in
// several versions count together.
func Compile(apiID string, versions map[string]apidef.VersionInfo) (*Endpoints, error) {
	t := &Endpoints{}
	for name, v := range versions {
		if !v.UseExtendedPaths {
			continue
		}
		for i, e := range v.ExtendedPaths.RateLimit {
			if e.Disabled {
				continue
			}
			n, win, ok := Window(e.Rate, e.Per)
			if !ok {
				continue
			}
			method := strings.ToUpper(strings.TrimSpace(e.Method))
			sum := sha256.Sum256([]byte(method + ":" + e.Path))
			lim := Limit{Limit: n, Window: win, Name: "rate-limit-api-" + apiID + "-" + hex.EncodeToString(sum[:8]),
				reached: fmt.Errorf("API rate limit of endpoint %s %s reached", method, e.Path)}
			where := fmt.Sprintf("version %q: extended_paths.rate_limit[%d]", name, i)
			if err := t.Add(name, where, e.Path, e.Method, v.IgnoreEndpointCase, lim); err != nil {
				return nil, err
			}
		}
	}
	if t.Empty() {
		return nil, nil
	}
	return t, nil
}
