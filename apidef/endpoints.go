package apidef

import (
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// MockResponseMeta is an entry of `extended_paths.mock_response` (Tyk 5.3+): requests with the
// method to the path are answered with Code, Body and Headers, without reaching the upstream.
type MockResponseMeta struct {
	Disabled   bool              `json:"disabled,omitempty"`
	Path       string            `json:"path"`
	Method     string            `json:"method"`
	IgnoreCase bool              `json:"ignore_case,omitempty"`
	Code       int               `json:"code"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// ActionReply is the method action that answers a request with a mock reply.
const ActionReply = "reply"

// ActionNoAction is the method action of an ordinary endpoint entry.
const ActionNoAction = "no_action"

// checkReplyCode reports a mock code Gatehouse would not send: Tyk writes it as the status, and
// 0 (or an out-of-range number) makes its writer panic.
func checkReplyCode(code int, where string) error {
	if code < 200 || code > 599 {
		return fmt.Errorf("%s: code %d is not a final HTTP status (200 to 599)", where, code)
	}
	return nil
}

// URLRewriteMeta is an entry of `extended_paths.url_rewrites`: for requests with the method to
// the path whose URL MatchPattern matches, the URL becomes RewriteTo (or the RewriteTo of the
// first trigger that fires).
type URLRewriteMeta struct {
	Disabled     bool             `json:"disabled,omitempty"`
	Path         string           `json:"path"`
	Method       string           `json:"method"`
	IgnoreCase   bool             `json:"ignore_case,omitempty"`
	MatchPattern string           `json:"match_pattern"`
	RewriteTo    string           `json:"rewrite_to"`
	Triggers     []RoutingTrigger `json:"triggers,omitempty"`
}

// RoutingTrigger is a trigger of a URL rewrite: when its options match (On "any": one of them;
// "all": every one), its RewriteTo is used.
type RoutingTrigger struct {
	On        string                `json:"on"`
	Options   RoutingTriggerOptions `json:"options"`
	RewriteTo string                `json:"rewrite_to"`
}

// RoutingTriggerOptions are the tests of a trigger. Maps are keyed by header name, query
// parameter, path part name (ignored: every part is tested), meta_data key or context variable.
type RoutingTriggerOptions struct {
	HeaderMatches         map[string]StringRegexMap `json:"header_matches,omitempty"`
	QueryValMatches       map[string]StringRegexMap `json:"query_val_matches,omitempty"`
	PathPartMatches       map[string]StringRegexMap `json:"path_part_matches,omitempty"`
	SessionMetaMatches    map[string]StringRegexMap `json:"session_meta_matches,omitempty"`
	RequestContextMatches map[string]StringRegexMap `json:"request_context_matches,omitempty"`
	PayloadMatches        StringRegexMap            `json:"payload_matches,omitempty"`
}

// StringRegexMap is one test of a trigger: MatchRx must match (or, with Reverse, must not).
type StringRegexMap struct {
	MatchRx string `json:"match_rx"`
	Reverse bool   `json:"reverse,omitempty"`
}

// TemplateMeta is an entry of `extended_paths.transform` (request bodies) or
// `transform_response` (upstream response bodies).
type TemplateMeta struct {
	Disabled     bool         `json:"disabled,omitempty"`
	Path         string       `json:"path"`
	Method       string       `json:"method"`
	IgnoreCase   bool         `json:"ignore_case,omitempty"`
	TemplateData TemplateData `json:"template_data"`
}

// TemplateData is a body transform's Go text/template and how its input is read.
type TemplateData struct {
	// Input is "json" or "xml": how the body is decoded into the template's data.
	Input string `json:"input_type"`
	// Mode is "blob" (TemplateSource is the base64 template) or "file" (TemplateSource is a
	// file name, relative to the gateway's app_path).
	Mode           string `json:"template_mode"`
	EnableSession  bool   `json:"enable_session,omitempty"`
	TemplateSource string `json:"template_source"`
}

// Template modes and input types.
const (
	TemplateModeBlob = "blob"
	TemplateModeFile = "file"
	InputJSON        = "json"
	InputXML         = "xml"
)

// MaxRewriteTargetLength bounds rewrite_to and match_pattern.
const MaxRewriteTargetLength = 4096

// validateEndpointExtras checks mock replies, URL rewrites and body transforms of a version.
func validateEndpointExtras(name string, v *VersionInfo) []error {
	var errs []error
	ep := v.ExtendedPaths
	at := func(list string, i int) string {
		return fmt.Sprintf("version_data.versions[%q].extended_paths.%s[%d]", name, list, i)
	}
	for _, l := range []struct {
		name    string
		entries []EndPointMeta
	}{{"ignored", ep.Ignored}, {"white_list", ep.WhiteList}, {"black_list", ep.BlackList}} {
		for i, e := range l.entries {
			if e.Disabled {
				continue
			}
			for m, act := range e.MethodActions {
				if act.Action == ActionReply {
					if err := checkReplyCode(act.Code, fmt.Sprintf("%s.method_actions.%s", at(l.name, i), m)); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
	}
	for i, e := range ep.MockResponse {
		if e.Disabled {
			continue
		}
		errs = append(errs, checkEntry(e.Path, e.Method, at("mock_response", i))...)
		if err := checkReplyCode(e.Code, at("mock_response", i)); err != nil {
			errs = append(errs, err)
		}
	}
	for i, e := range ep.URLRewrite {
		if e.Disabled {
			continue
		}
		errs = append(errs, checkEntry(e.Path, e.Method, at("url_rewrites", i))...)
		errs = append(errs, e.check(at("url_rewrites", i))...)
	}
	for _, l := range []struct {
		name    string
		entries []TemplateMeta
	}{{"transform", ep.Transform}, {"transform_response", ep.TransformResponse}} {
		for i, e := range l.entries {
			if e.Disabled {
				continue
			}
			errs = append(errs, checkEntry(e.Path, e.Method, at(l.name, i))...)
			if err := e.TemplateData.check(); err != nil {
				errs = append(errs, fmt.Errorf("%s.template_data: %w", at(l.name, i), err))
			}
		}
	}
	return errs
}

// check reports a rewrite whose patterns do not compile or whose targets Gatehouse does not
// follow.
func (e URLRewriteMeta) check(where string) []error {
	var errs []error
	rx := func(field, s string) {
		if len(s) > MaxRewriteTargetLength {
			errs = append(errs, fmt.Errorf("%s.%s: longer than %d characters", where, field, MaxRewriteTargetLength))
			return
		}
		if _, err := regexp.Compile(s); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %q is not a valid regular expression: %w", where, field, s, err))
		}
	}
	rx("match_pattern", e.MatchPattern)
	if err := CheckRewriteTarget(e.RewriteTo); err != nil {
		errs = append(errs, fmt.Errorf("%s.rewrite_to: %w", where, err))
	}
	for i, t := range e.Triggers {
		tw := fmt.Sprintf("%s.triggers[%d]", where, i)
		if t.On != "any" && t.On != "all" {
			errs = append(errs, fmt.Errorf("%s.on: %q is not \"any\" or \"all\"", tw, t.On))
		}
		if err := CheckRewriteTarget(t.RewriteTo); err != nil {
			errs = append(errs, fmt.Errorf("%s.rewrite_to: %w", tw, err))
		}
		o := t.Options
		for _, m := range []struct {
			name string
			set  map[string]StringRegexMap
		}{
			{"header_matches", o.HeaderMatches}, {"query_val_matches", o.QueryValMatches},
			{"path_part_matches", o.PathPartMatches}, {"session_meta_matches", o.SessionMetaMatches},
			{"request_context_matches", o.RequestContextMatches},
		} {
			for k, v := range m.set {
				rx(fmt.Sprintf("triggers[%d].options.%s[%q].match_rx", i, m.name, k), v.MatchRx)
			}
		}
		if o.PayloadMatches.MatchRx != "" {
			rx(fmt.Sprintf("triggers[%d].options.payload_matches.match_rx", i), o.PayloadMatches.MatchRx)
		}
	}
	return errs
}

// CheckRewriteTarget reports a rewrite target Gatehouse does not follow: internal `tyk://`
// loops, and absolute URLs whose scheme and host are not literal (a host taken from the request
// would let a client pick the upstream).
func CheckRewriteTarget(s string) error {
	if s == "" {
		return fmt.Errorf("missing")
	}
	if len(s) > MaxRewriteTargetLength {
		return fmt.Errorf("longer than %d characters", MaxRewriteTargetLength)
	}
	if sv := unsupportedSecretIn(s); sv != "" {
		return fmt.Errorf("%q: secret variable %s is not read by Gatehouse (only $secret_env and $secret_conf are)", s, sv)
	}
	if ps := unsupportedContextVarsIn(s); len(ps) > 0 {
		return fmt.Errorf("%q: context variable $tyk_context.%s* is not set by Gatehouse", s, ps[0])
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "tyk://"):
		return checkLoopRewrite(s)
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		rest := s[strings.Index(s, "://")+3:]
		host, _, _ := strings.Cut(rest, "/")
		if strings.ContainsAny(host, "$?#@\\") {
			return fmt.Errorf("%q: the host of an absolute target must be written out, not taken from the request", s)
		}
		return fmt.Errorf("%q: absolute targets (a host other than the API's upstream) are not supported; rewrite to a path", s)
	case strings.Contains(lower, "://"):
		return fmt.Errorf("%q: only paths are supported as rewrite targets", s)
	}
	return nil
}

// check reports a template that cannot be used as written.
func (d TemplateData) check() error {
	switch d.Input {
	case InputJSON, InputXML:
	default:
		return fmt.Errorf("input_type %q is not %q or %q", d.Input, InputJSON, InputXML)
	}
	switch d.Mode {
	case TemplateModeBlob:
		if _, err := base64.StdEncoding.DecodeString(d.TemplateSource); err != nil {
			return fmt.Errorf("template_source is not base64 (template_mode blob): %w", err)
		}
	case TemplateModeFile:
		if err := CheckTemplateFile(d.TemplateSource); err != nil {
			return fmt.Errorf("template_source: %w", err)
		}
	default:
		return fmt.Errorf("template_mode %q is not %q or %q", d.Mode, TemplateModeBlob, TemplateModeFile)
	}
	return nil
}

// CheckTemplateFile reports a template file name that could leave the template folder: it must
// be relative, clean and free of `..`.
func CheckTemplateFile(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("missing")
	case strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || len(name) > 1 && name[1] == ':':
		return fmt.Errorf("%q must be a clean relative path inside the template folder (the gateway's app_path)", name)
	}
	return nil
}

// usesContextVarsOutsideHeaders reports whether a URL rewrite or body transform that applies
// reads context variables: a rewrite target with `$tyk_context`, a trigger on request context
// variables, or any body transform (its template gets `_tyk_context`).
func (a *APIDefinition) usesContextVarsOutsideHeaders() bool {
	for _, v := range a.VersionData.Versions {
		if !v.UseExtendedPaths {
			continue
		}
		ep := v.ExtendedPaths
		if enabledTemplates(ep.Transform) || enabledTemplates(ep.TransformResponse) {
			return true
		}
		for _, e := range ep.URLRewrite {
			if e.Disabled {
				continue
			}
			if strings.Contains(e.RewriteTo, contextVarPrefix) {
				return true
			}
			for _, t := range e.Triggers {
				if len(t.Options.RequestContextMatches) > 0 || strings.Contains(t.RewriteTo, contextVarPrefix) {
					return true
				}
			}
		}
	}
	return false
}
