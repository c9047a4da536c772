// Package validatejson applies an API's `extended_paths.validate_json`: the JSON body of a
// request with the entry's method to its path must match the entry's JSON Schema (draft-04, as
// Tyk reads it) or the request is refused with the entry's error_response_code (Tyk's 422), and
// never reaches the upstream. Schemas are compiled once, when the API is built for a snapshot;
// a request only reads its body and checks it.
package validatejson

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/endpoint"
	"github.com/gatehouse/gatehouse/internal/middleware/validate"
	"github.com/gatehouse/gatehouse/internal/proxy"
)

// DefaultCode is Tyk's status for a body that does not match its schema.
const DefaultCode = http.StatusUnprocessableEntity

// Checks are the compiled validate_json entries of every version of an API.
type Checks struct {
	table endpoint.Table[*check]
}

type check struct {
	schema *validate.Schema
	code   int
}

// Compile returns the checks of the versions, or nil when none sets one. As in Tyk, entries
// apply only to a version with use_extended_paths. A schema that does not compile refuses the
// API with the entry named.
func Compile(versions map[string]apidef.VersionInfo) (*Checks, error) {
	c := &Checks{}
	for name, v := range versions {
		if !v.UseExtendedPaths {
			continue
		}
		ignore := v.IgnoreEndpointCase
		for i, e := range v.ExtendedPaths.ValidateJSON {
			if e.Disabled {
				continue
			}
			where := fmt.Sprintf("version %q: extended_paths.validate_json[%d]", name, i)
			if len(e.Schema) == 0 {
				return nil, fmt.Errorf("%s: schema is missing", where)
			}
			s, err := validate.CompileSchema(e.Schema)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			code := e.ErrorResponseCode
			if code == 0 {
				code = DefaultCode
			}
			if code < 400 || code > 599 {
				return nil, fmt.Errorf("%s: error_response_code %d is not an error status (400 to 599)", where, code)
			}
			if err := c.table.Add(name, where, e.Path, e.Method, ignore || e.IgnoreCase, &check{schema: s, code: code}); err != nil {
				return nil, err
			}
		}
	}
	if c.table.Empty() {
		return nil, nil
	}
	return c, nil
}

// Step returns the chain step. It matches the client's method (a method transform applies
// later, when the request is forwarded), reads the body, restores it for the steps after it and
// the upstream, and checks it:
//
//   - a body over the size limit, or over validate.MaxBody, gets 413, one cut short 400, as
//     elsewhere;
//   - a body that is not JSON (an empty one included) gets Tyk's 400 "JSON parsing error: ...";
//   - a body that does not match gets the entry's code and Tyk's message, the failures as
//     "field: reason" joined by "; " ("(root): name is required").
func (c *Checks) Step() chain.Step {
	return chain.Step{Name: "validate_json", Run: func(w http.ResponseWriter, r *http.Request, cx *chain.Context) error {
		ch, ok := c.table.Lookup(cx.Version, r.Method, cx.Readings)
		if !ok {
			return nil
		}
		data, full, err := proxy.ReadBody(r, validate.MaxBody)
		if err != nil {
			return proxy.ReadBodyError(cx, err)
		}
		if !full {
			return chain.Errorf(http.StatusRequestEntityTooLarge, chain.MsgRequestTooLarge, fmt.Errorf("validate_json: the body is over %d bytes", validate.MaxBody)).Flagged("BTL")
		}
		err = ch.schema.ValidateJSON(data)
		if err == nil {
			return nil
		}
		var se *validate.SyntaxError
		if errors.As(err, &se) {
			return chain.Errorf(http.StatusBadRequest, "JSON parsing error: "+se.Error(), nil).Flagged("BIV")
		}
		var f validate.Failures
		if errors.As(err, &f) {
			return chain.Errorf(ch.code, f.Error(), nil).Flagged("BIV")
		}
		// Not a failure of the body: the validator itself failed.
		return chain.Errorf(http.StatusInternalServerError, chain.MsgInternalServerError, fmt.Errorf("validate_json: %s", strings.TrimSpace(err.Error())))
	}}
}
