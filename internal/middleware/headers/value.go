// Package headers applies an API's header transforms as Tyk does: on the request, the version's
// `global_headers_remove` and `global_headers`, then the first matching
// `extended_paths.transform_headers` entry; on the upstream's response, the first matching
// `transform_response_headers` entry, then `global_response_headers_remove` and
// `global_response_headers`. Values may hold `$tyk_context.<name>` (request context variables,
// with `enable_context_vars`) and `$tyk_meta.<name>` (the session's meta_data); each value is
// compiled into literal and variable parts when the API loads, so nothing is parsed per request.
package headers

import (
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

const (
	contextPrefix = "$tyk_context"
	metaPrefix    = "$tyk_meta"
)

// part is a piece of a value: a literal, or a variable (ctx >= 0: the context variable with that
// index; meta != "": the session meta_data key).
type part struct {
	lit  string
	ctx  int
	meta string
}

// Value is a compiled header value.
type Value struct {
	// lit is the whole value when it holds no variable.
	lit   string
	parts []part
}

// compileValue splits s into literals and variables; names registers a context variable and
// returns its index. As Tyk's patterns (`\$tyk_context.([A-Za-z0-9_\-\.]+)`), the character
// after the prefix may be any one, and the name is the longest run of name characters; a prefix
// with no name after it stays literal. Secret variables ($secret_env, $secret_conf) become
// literals, resolved by sec; missing is called with each that has no value (it is then empty).
func compileValue(s string, names func(string) int, sec *secrets.Resolver, missing func(string)) Value {
	var parts []part
	lit := 0
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			break
		}
		i += j
		rest := s[i:]
		if n, val, miss, ok := sec.Match(rest); ok {
			if lit < i {
				parts = append(parts, part{lit: s[lit:i], ctx: -1})
			}
			if miss != "" && missing != nil {
				missing(miss)
			}
			var b strings.Builder
			writeFieldValue(&b, val)
			parts = append(parts, part{lit: b.String(), ctx: -1})
			i += n
			lit = i
			continue
		}
		var prefix string
		switch {
		case strings.HasPrefix(rest, contextPrefix):
			prefix = contextPrefix
		case strings.HasPrefix(rest, metaPrefix):
			prefix = metaPrefix
		default:
			i++
			continue
		}
		start := i + len(prefix) + 1 // the separator (Tyk's unescaped '.')
		end := start
		for end < len(s) && secrets.VarChar(s[end]) {
			end++
		}
		if start > len(s) || end == start {
			i++
			continue
		}
		if lit < i {
			parts = append(parts, part{lit: s[lit:i], ctx: -1})
		}
		name := s[start:end]
		if prefix == contextPrefix {
			parts = append(parts, part{ctx: names(name)})
		} else {
			parts = append(parts, part{ctx: -1, meta: name})
		}
		i, lit = end, end
	}
	if parts == nil {
		return Value{lit: s}
	}
	if lit < len(s) {
		parts = append(parts, part{lit: s[lit:], ctx: -1})
	}
	// A value of literals and secrets alone is one literal: nothing is joined per request.
	var whole strings.Builder
	for _, p := range parts {
		if p.ctx >= 0 || p.meta != "" {
			return Value{parts: parts}
		}
		whole.WriteString(p.lit)
	}
	return Value{lit: whole.String()}
}

// render returns the value for a request: ctx are the request's context variable values
// (nil: all empty), meta the session's meta_data (nil: all empty). A missing value is the empty
// string, as in Tyk.
func (v *Value) render(ctx []string, meta map[string]any) string {
	if v.parts == nil {
		return v.lit
	}
	var b strings.Builder
	for _, p := range v.parts {
		switch {
		case p.ctx >= 0:
			if p.ctx < len(ctx) {
				writeFieldValue(&b, ctx[p.ctx])
			}
		case p.meta != "":
			if val, ok := meta[p.meta]; ok {
				writeFieldValue(&b, MetaValue(val))
			}
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// MetaValue formats a key's meta_data value for a header or a URL, as Tyk's valToStr does:
// strings as they are, numbers without an exponent, lists joined by commas (a []string without
// its empty first element); other types (bool, objects, null) are empty. Numbers keep every digit
// of their float64, where Tyk formats them at float32 precision (123456789.5 became 123456790).
func MetaValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case []string:
		return strings.TrimPrefix(strings.Join(x, ","), ",")
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = MetaValue(e)
		}
		return strings.Join(out, ",")
	}
	return ""
}

// writeFieldValue writes a substituted value with the bytes a header field value cannot hold
// (control characters but tab, and DEL) as spaces: a client's query (request_data) or a key's
// meta data could otherwise carry CR or LF, which makes the upstream request fail, counted
// against the upstream (a circuit breaker) though the client caused it.
func writeFieldValue(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			c = ' '
		}
		b.WriteByte(c)
	}
}
