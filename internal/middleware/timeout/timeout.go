// Package timeout compiles an API's upstream timeouts: the per-endpoint `hard_timeouts` and
// the version's `global_enforce_timeout`. The gateway forwards a matching request under a
// context deadline; when it passes before the upstream has answered, the client gets 504
// `Upstream service reached hard timeout.` (Tyk's answer), and the upstream request is
// cancelled.
package timeout

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// Timeouts are the compiled timeouts of every version of an API.
type Timeouts struct {
	endpoints endpoint.Table[time.Duration]
	global    map[string]time.Duration
}

// Compile returns the timeouts of the versions, or nil when none sets one. As in Tyk, the
// per-endpoint entries apply only to a version with use_extended_paths.
func Compile(versions map[string]apidef.VersionInfo) (*Timeouts, error) {
	t := &Timeouts{global: map[string]time.Duration{}}
	for name, v := range versions {
		d, err := v.EnforceTimeout()
		if err != nil {
			return nil, fmt.Errorf("version %q: %w", name, err)
		}
		if d > 0 {
			t.global[name] = d
		}
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for i, e := range v.ExtendedPaths.HardTimeouts {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.hard_timeouts[%d]", name, i)
			d, err := e.Timeout()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if err := t.endpoints.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, d); err != nil {
				return nil, err
			}
		}
	}
	if t.endpoints.Empty() && len(t.global) == 0 {
		return nil, nil
	}
	return t, nil
}

// For returns the timeout of a request: its endpoint's (a HEAD no entry names has its GET's),
// else its version's, else 0 (none).
func (t *Timeouts) For(version, method string, readings []string) time.Duration {
	if d, ok := t.endpoints.LookupHeadAsGet(version, method, readings); ok {
		return d
	}
	return t.global[version]
}
