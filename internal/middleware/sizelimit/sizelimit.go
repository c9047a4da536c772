// Package sizelimit compiles the per-endpoint request body limits of an API
// (`extended_paths.size_limits`): the largest body, in bytes, for requests with the entry's
// method to its path. The gateway's body step applies the tightest of these, the version's
// global_size_limit and the server's max_request_body_size.
package sizelimit

import (
	"fmt"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// Limits are the compiled size_limits of every version of an API.
type Limits = endpoint.Table[int64]

// Compile returns the limits of the versions, or nil when none sets one. As in Tyk, entries
// apply only to a version with use_extended_paths.
func Compile(versions map[string]apidef.VersionInfo) (*Limits, error) {
	t := &Limits{}
	for name, v := range versions {
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for i, e := range v.ExtendedPaths.SizeLimit {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.size_limits[%d]", name, i)
			if err := t.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, e.SizeLimit); err != nil {
				return nil, err
			}
		}
	}
	if t.Empty() {
		return nil, nil
	}
	return t, nil
}
