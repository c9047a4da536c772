// Package methodtransform applies an API's `extended_paths.method_transforms`: a request with
// the entry's method to its path reaches the upstream with `to_method`. As in Tyk the change is
// made when the request is forwarded, so every step and plugin before (post hooks included)
// sees the client's method.
package methodtransform

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
)

// Transforms are the compiled method transforms of every version of an API.
type Transforms struct {
	table endpoint.Table[string]
}

// Compile returns the transforms of the versions, or nil when none sets one. As in Tyk,
// entries apply only to a version with use_extended_paths; a to_method Tyk would answer with
// 405 on every matching request is refused when the API loads instead.
func Compile(versions map[string]apidef.VersionInfo) (*Transforms, error) {
	t := &Transforms{}
	for name, v := range versions {
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for i, e := range v.ExtendedPaths.MethodTransforms {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.method_transforms[%d]", name, i)
			to := strings.ToUpper(strings.TrimSpace(e.ToMethod))
			ok := false
			for _, m := range apidef.TransformMethods {
				ok = ok || to == m
			}
			if !ok {
				return nil, fmt.Errorf("%s: to_method %q is not one of %s", where, e.ToMethod, strings.Join(apidef.TransformMethods, ", "))
			}
			if err := t.table.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, to); err != nil {
				return nil, err
			}
		}
	}
	if t.table.Empty() {
		return nil, nil
	}
	return t, nil
}

// Step returns the chain step: it records the method to forward with, and the client's, which
// the response steps match their endpoints with.
func (t *Transforms) Step() chain.Step {
	return chain.Step{Name: "method_transform", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if to, ok := t.table.Lookup(c.Version, r.Method, c.Readings); ok {
			c.Method, c.ClientMethod = to, r.Method
		}
		return nil
	}}
}
