package apidef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// ErrorOverrides are Tyk's error overrides (error_overrides, Tyk 5.13): rules, by status code,
// that rewrite the error answers of the gateway and of the upstream. A key is a status code
// ("403") or a class ("4xx", "5xx"); its rules are tried in order, those of the code before
// those of its class, and the first that matches answers. The same shape is tyk.conf's
// error_overrides, for every API, tried after an API's own.
type ErrorOverrides map[string][]ErrorOverride

// ErrorOverride is one rule: when Match matches (always, without one), Response answers.
type ErrorOverride struct {
	Match    *ErrorMatch   `json:"match,omitempty"`
	Response ErrorResponse `json:"response"`
}

// ErrorMatch chooses the errors a rule rewrites.
//
// For the gateway's own errors: with Flag, the error's classification must be it; without,
// MessagePattern, when set, must match its message. BodyField and BodyValue are not used.
//
// For an upstream's error responses, every field set must match: Flag may only be URS (and
// then only a 5xx response matches), MessagePattern is matched against the response body, and
// the JSON value at BodyField (a dotted path: error.code, items.0.id) must be BodyValue; only the
// body's first 4 KiB are read.
type ErrorMatch struct {
	Flag           string `json:"flag,omitempty"`
	MessagePattern string `json:"message_pattern,omitempty"`
	BodyField      string `json:"body_field,omitempty"`
	BodyValue      string `json:"body_value,omitempty"`
}

// ErrorResponse is what a matching rule answers: each field set replaces what the error would
// have had. Body (a Go template with .StatusCode, .Message and, for validation errors,
// .InvalidParams) or Template (the base name of a file of template_path, .json or .xml by the
// request's Content-Type) is the whole body; without either, the status and message go through
// the error templates as any error's do. Headers are set on the answer; an empty value removes
// the header.
type ErrorResponse struct {
	StatusCode int               `json:"status_code,omitempty"`
	Body       string            `json:"body,omitempty"`
	Message    string            `json:"message,omitempty"`
	Template   string            `json:"template,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// UnmarshalJSON refuses fields it does not know: a misspelt match field would otherwise be
// dropped, and a rule meant for some errors would rewrite every error of its code.
func (m *ErrorMatch) UnmarshalJSON(data []byte) error {
	type plain ErrorMatch
	return DecodeStrict(data, (*plain)(m), "flag, message_pattern, body_field, body_value")
}

// UnmarshalJSON refuses fields it does not know, as ErrorMatch does.
func (r *ErrorResponse) UnmarshalJSON(data []byte) error {
	type plain ErrorResponse
	return DecodeStrict(data, (*plain)(r), "status_code, body, message, template, headers")
}

// UnmarshalJSON refuses fields it does not know, as ErrorMatch does.
func (o *ErrorOverride) UnmarshalJSON(data []byte) error {
	type plain ErrorOverride
	return DecodeStrict(data, (*plain)(o), "match, response")
}

// DecodeStrict decodes data into v, refusing a field v does not have with an error that lists
// known, the fields it has.
func DecodeStrict(data []byte, v any, known string) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return fmt.Errorf("%s (the fields are %s)", strings.TrimPrefix(err.Error(), "json: "), known)
		}
		return err
	}
	return nil
}

// ErrorFlags are Tyk's classifications of the gateway's errors, which ErrorMatch.Flag names.
var ErrorFlags = []string{
	// Authentication and authorisation.
	"AMF", "AKI", "TKE", "TKI", "TCV", "EAD", "CRQ", "CMM",
	// Request validation.
	"BTL", "CLM", "BIV", "IHD",
	// Rate limits and quotas.
	"RLT", "QEX",
	// The upstream's connection.
	"UCF", "UCT", "URR", "URT", "EPI", "CAB", "NRS", "DNS", "NRH", "NHU", "CBO", "CDC", "UPE",
	// The upstream's TLS.
	"TLE", "TLI", "TLM", "TLN", "TLH", "TLP", "TLA", "TLC",
	// An upstream's 5xx response.
	FlagUpstreamResponse,
}

// FlagUpstreamResponse is the flag of an upstream's 5xx responses.
const FlagUpstreamResponse = "URS"

// Bounds of error overrides.
const (
	maxOverrideRules   = 1000
	maxOverridePattern = 1024
	maxOverrideBody    = 64 << 10
)

// ErrorOverrideKey reads a key of ErrorOverrides: an exact status code (400–599) or a class
// ("4xx", "5xx"; class is 4 or 5 then, code 0).
func ErrorOverrideKey(k string) (code, class int, err error) {
	if len(k) == 3 && (k[0] == '4' || k[0] == '5') && strings.EqualFold(k[1:], "xx") {
		return 0, int(k[0] - '0'), nil
	}
	n, err := strconv.Atoi(k)
	if err != nil || len(k) != 3 || n < 400 || n > 599 {
		return 0, 0, fmt.Errorf("%q is neither a status code from 400 to 599 nor 4xx or 5xx", k)
	}
	return n, 0, nil
}

// Validate reports every rule that could not work as written; where names where the rules are
// ("error_overrides").
func (o ErrorOverrides) Validate(where string) []error {
	var errs []error
	n := 0
	for _, k := range slices.Sorted(maps.Keys(o)) {
		at := fmt.Sprintf("%s[%q]", where, k)
		if _, _, err := ErrorOverrideKey(k); err != nil {
			errs = append(errs, fmt.Errorf("%s: the key %w", at, err))
		}
		for i, r := range o[k] {
			n++
			errs = append(errs, r.validate(fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	if n > maxOverrideRules {
		errs = append(errs, fmt.Errorf("%s: more than %d rules", where, maxOverrideRules))
	}
	return errs
}

func (r ErrorOverride) validate(at string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(at+"."+format, args...))
	}
	if m := r.Match; m != nil {
		if m.Flag != "" && !slices.Contains(ErrorFlags, m.Flag) {
			bad("match.flag: %q is not one of Tyk's flags (%s)", m.Flag, strings.Join(ErrorFlags, ", "))
		}
		if len(m.MessagePattern) > maxOverridePattern {
			bad("match.message_pattern: longer than %d bytes", maxOverridePattern)
		} else if _, err := regexp.Compile(m.MessagePattern); m.MessagePattern != "" && err != nil {
			bad("match.message_pattern: %v", err)
		}
		switch {
		case (m.BodyField == "") != (m.BodyValue == ""):
			bad("match: body_field and body_value go together (the value at the field's path is compared)")
		case m.BodyField != "":
			if _, err := BodyPath(m.BodyField); err != nil {
				bad("match.body_field: %v", err)
			}
		}
	}
	p := r.Response
	if p.StatusCode != 0 && (p.StatusCode < 200 || p.StatusCode > 599) {
		bad("response.status_code: %d is not a final status from 200 to 599", p.StatusCode)
	}
	if len(p.Body) > maxOverrideBody {
		bad("response.body: longer than %d bytes", maxOverrideBody)
	} else if p.Body != "" {
		if t, err := template.New("body").Parse(p.Body); err != nil {
			bad("response.body: not a Go template: %v", err)
		} else if err := StraightTemplate(t.Tree, len(t.Templates()), "an error override's body"); err != nil {
			bad("response.body: %v", err)
		}
	}
	if (p.StatusCode == 204 || p.StatusCode == 304) && (p.Body != "" || p.Template != "") {
		bad("response.status_code: %d answers no body, and the rule has one", p.StatusCode)
	}
	if t := p.Template; t != "" && (strings.ContainsAny(t, `/\`) || t == "." || t == ".." || strings.ContainsRune(t, 0)) {
		bad("response.template: %q is not the base name of a file of template_path", t)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
		v := p.Headers[name]
		switch {
		case !IsToken(name):
			bad("response.headers: %q is not a header name", name)
		case hopByHop(name):
			bad("response.headers: %q is a hop-by-hop or framing header, which the gateway sets", name)
		case strings.ContainsAny(v, "\r\n\x00"):
			bad("response.headers[%q]: the value holds CR, LF or NUL", name)
		}
	}
	return errs
}

// BodyPath reads a body_field: names separated by dots, a dot inside a name escaped as "\.";
// a name of digits also indexes an array. gjson's wildcards, queries and modifiers are not
// supported.
func BodyPath(field string) ([]string, error) {
	if field == "" {
		return nil, fmt.Errorf("empty")
	}
	var out []string
	var cur strings.Builder
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '\\' && i+1 < len(field):
			i++
			cur.WriteByte(field[i])
		case c == '.':
			out = append(out, cur.String())
			cur.Reset()
		case strings.IndexByte("*?#@|!", c) >= 0:
			return nil, fmt.Errorf("%q: only plain paths (error.code, items.0.id) are supported, not gjson's %q", field, string(c))
		default:
			cur.WriteByte(c)
		}
	}
	out = append(out, cur.String())
	if slices.Contains(out, "") {
		return nil, fmt.Errorf("%q has an empty name", field)
	}
	return out, nil
}
