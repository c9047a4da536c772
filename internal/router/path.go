// Package router decides the one canonical path of a request and picks the API whose listen path
// is the longest segment-boundary prefix of it.
//
// The gateway calls RawPath, then Canonicalize, once per request and before any matching; it then
// matches, checks and forwards that same canonical path (escaped again by net/url; Escape gives
// the same decoded path back, and the gateway uses it to check a path a plugin changed). Spellings that
// upstreams and proxies are known to read differently (dot segments, encoded separators, fragments,
// opaque targets; cases S1–S8 of the security reference) are refused with ErrBadPath rather than
// repaired, so that no component ever sees a different path from the one that was matched.
package router

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrBadPath is wrapped by every error RawPath and Canonicalize return. The gateway answers such
// requests with 400 Bad Request; the error's text is a short reason that is safe to show the client.
var ErrBadPath = errors.New("bad request path")

func badPath(reason string) error { return fmt.Errorf("%w: %s", ErrBadPath, reason) }

// The errors are built once so that refusing a hostile request costs no allocation.
var (
	errAsterisk     = badPath("'*' request target is not allowed")
	errTarget       = badPath("request target must be origin-form or absolute-form")
	errScheme       = badPath("absolute-form request target must use http or https")
	errNoSlash      = badPath("path must start with '/'")
	errControl      = badPath("control character in path")
	errBackslash    = badPath("'\\' in path is not allowed")
	errFragment     = badPath("fragment ('#') in request target is not allowed")
	errQuestion     = badPath("'?' in path is not allowed")
	errBadEscape    = badPath("invalid percent-escape")
	errEncSlash     = badPath("encoded '/' (%2F) is not allowed")
	errEncBackslash = badPath("encoded '\\' (%5C) is not allowed")
	errEncNUL       = badPath("encoded NUL (%00) is not allowed")
	errEncSemicolon = badPath("encoded ';' (%3B) is not allowed")
	errEncQuestion  = badPath("encoded '?' (%3F) is not allowed")
	errEncHash      = badPath("encoded '#' (%23) is not allowed")
	errEncControl   = badPath("encoded control character is not allowed")
	errUTF8         = badPath("path is not valid UTF-8")
	errDotSegment   = badPath("'.' and '..' path segments are not allowed")
)

// RawPath returns the path of the request target exactly as the client sent it, still
// percent-escaped. For an origin-form target it is the part before '?'; for an absolute-form
// target (http or https only) it is the path after the authority, or "/" when that is empty. The
// authority is ignored: it never selects an upstream. The '*' target, opaque targets (such as
// "http:example.com/admin") and any target holding a literal '#' are refused with ErrBadPath.
//
// When r.RequestURI is empty, as for requests built with http.NewRequest, the path comes from
// r.URL instead, and a URL with an opaque part or a fragment is refused.
func RawPath(r *http.Request) (string, error) {
	target := r.RequestURI
	if target == "" {
		return urlPath(r.URL)
	}
	// Go would forward the fragment as "%23..." to an upstream that never saw it as a path (S8).
	if strings.IndexByte(target, '#') >= 0 {
		return "", errFragment
	}
	if target[0] == '/' {
		path, _, _ := strings.Cut(target, "?")
		return path, nil
	}
	if target == "*" {
		return "", errAsterisk
	}
	return absolutePath(target)
}

func absolutePath(target string) (string, error) {
	scheme, rest, ok := strings.Cut(target, ":")
	if !ok || !validScheme(scheme) {
		return "", errTarget
	}
	// Anything other than "scheme://" is an opaque target, which once skipped every path check
	// elsewhere (S8).
	rest, ok = strings.CutPrefix(rest, "//")
	if !ok {
		return "", errTarget
	}
	if !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return "", errScheme
	}
	i := strings.IndexAny(rest, "/?")
	if i < 0 || rest[i] == '?' {
		return "/", nil
	}
	path, _, _ := strings.Cut(rest[i:], "?")
	return path, nil
}

// validScheme reports whether s is a URI scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func urlPath(u *url.URL) (string, error) {
	switch {
	case u == nil:
		return "", errTarget
	case u.Opaque != "":
		return "", errTarget
	case u.Fragment != "" || u.RawFragment != "":
		return "", errFragment
	}
	p := u.EscapedPath()
	if p == "" {
		// An empty path goes on the wire as "/".
		return "/", nil
	}
	if p[0] != '/' {
		return "", errNoSlash
	}
	return p, nil
}

// Canonicalize turns an escaped path, as returned by RawPath, into the canonical decoded path the
// gateway matches and forwards, or returns an error wrapping ErrBadPath. The rules, in order:
//
//  1. The path must start with '/'.
//  2. Literal control bytes (below 0x20, and 0x7f), '\', '#' and '?' are refused.
//  3. The path is percent-decoded exactly once. An invalid escape is refused, and so is an escape
//     that decodes to '/', '\', ';', '?', '#' or a control byte (NUL included). "%25" decodes to a
//     plain '%': "%252e" becomes the three characters "%2e" and is never decoded again. The
//     decoded path must be valid UTF-8, which refuses overlong forms such as "%c0%ae".
//  4. Repeated slashes are merged ("//a///b" is "/a/b"); a trailing slash is kept.
//  5. A segment that is "." or ".." after decoding is refused, not resolved, and so is one that
//     is "." or ".." followed by ';' parameters ("..;x"), which servlet containers read as "..".
//
// A literal ';' is otherwise an ordinary character and is kept. Case is kept. When raw has no '%' and no
// "//", the result is raw itself and nothing is allocated.
func Canonicalize(raw string) (string, error) {
	if raw == "" || raw[0] != '/' {
		return "", errNoSlash
	}
	plain, ascii := true, true
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c < 0x20 || c == 0x7f:
			return "", errControl
		case c == '\\':
			return "", errBackslash
		case c == '#':
			return "", errFragment
		case c == '?':
			// Escape would have to forward it as "%3F", which rule 3 refuses; refusing it here
			// keeps Canonicalize(Escape(c)) == c true for every result.
			return "", errQuestion
		case c == '%':
			plain = false
		case c == '/':
			if i > 0 && raw[i-1] == '/' {
				plain = false
			}
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !plain {
		return decode(raw)
	}
	if !ascii && !utf8.ValidString(raw) {
		return "", errUTF8
	}
	if hasDotSegment(raw) {
		return "", errDotSegment
	}
	return raw, nil
}

// decode does rules 3 to 5 for a path that needs a new string; raw has passed rules 1 and 2.
func decode(raw string) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	prevSlash := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '/':
			// Merging is safe only because decoded slashes are refused: every '/' here was literal.
			if prevSlash {
				continue
			}
			prevSlash = true
			b.WriteByte(c)
			continue
		case '%':
			if i+2 >= len(raw) {
				return "", errBadEscape
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return "", errBadEscape
			}
			c = hi<<4 | lo
			if err := checkDecoded(c); err != nil {
				return "", err
			}
			i += 2
		}
		prevSlash = false
		b.WriteByte(c)
	}
	s := b.String()
	if !utf8.ValidString(s) {
		return "", errUTF8
	}
	if hasDotSegment(s) {
		return "", errDotSegment
	}
	return s, nil
}

// checkDecoded refuses the bytes whose escaped form upstreams are known to read as structure
// (separators, parameters, query, fragment, string terminators) rather than data (S3).
func checkDecoded(c byte) error {
	switch {
	case c == '/':
		return errEncSlash
	case c == '\\':
		return errEncBackslash
	case c == 0:
		return errEncNUL
	case c == ';':
		return errEncSemicolon
	case c == '?':
		return errEncQuestion
	case c == '#':
		return errEncHash
	case c < 0x20 || c == 0x7f:
		return errEncControl
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hasDotSegment reports whether the path p, which starts with '/', has a "." or ".." segment,
// with or without parameters: servlet containers read "..;x" as "..", which has been used to
// reach a parent the proxy never matched.
func hasDotSegment(p string) bool {
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			seg = seg[:j]
		}
		if seg == "." || seg == ".." {
			return true
		}
		start = i + 1
	}
	return false
}

// Escape returns the escaped form of a canonical path, to be forwarded upstream. It escapes every
// byte that may not appear literally in a path segment (RFC 3986 pchar), including '%', and keeps
// '/' and the sub-delimiters ("!$&'()*+,;="), ':' and '@' as they are, so Canonicalize(Escape(c))
// == c for every canonical c. When nothing needs escaping it returns its input unchanged.
func Escape(canonical string) string { return EscapeExcept(canonical, pathChar) }

// EscapeExcept returns s with every byte that keep refuses written as %XX (upper-case hex), and
// s itself when keep accepts every byte.
func EscapeExcept(s string, keep func(byte) bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// pathChar reports whether c may appear unescaped in a path: an RFC 3986 pchar or '/'.
func pathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	}
	return false
}
