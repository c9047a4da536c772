package gateway

import (
	"bytes"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/sdk"
)

// minHiddenKey is the shortest key that detailed records hide outside the places credentials
// travel (the auth headers, parameters and cookies, whose values are hidden whatever they
// hold). A shorter key would match ordinary words and numbers of the record ("1", "OK",
// "json"), and hiding those would mangle it; such a key is hidden only where it stands as the
// credential.
const minHiddenKey = 8

// hiddenKey returns the key to hide in a detailed record's values, or "" when it is too short
// to be told from ordinary text.
func hiddenKey(key string) string {
	if len(key) < minHiddenKey {
		return ""
	}
	return key
}

// hiddenKeys returns the request's key and the credentials it sent (tracker.credentials) that
// detailed records hide outside the credential places: each once, none too short (hiddenKey).
// ok is false when they are more, or longer, than a record hides (maxHiddenKeys,
// maxHiddenKeyLen): the client chooses them, and each is searched for in every value of the
// record, so a request with thousands of cookies would cost seconds of CPU. Such a record
// keeps no raw request or response (unhideable) rather than keep them unhidden.
func hiddenKeys(token string, creds []string) (keys []string, ok bool) {
	for _, k := range append([]string{token}, creds...) {
		if k = hiddenKey(k); k != "" && !slices.Contains(keys, k) {
			if len(keys) == maxHiddenKeys || len(k) > maxHiddenKeyLen {
				return nil, false
			}
			keys = append(keys, k)
		}
	}
	return keys, true
}

// maxHiddenKeys and maxHiddenKeyLen bound what a detailed record hides (hiddenKeys): far more
// credentials than a client sends (a key, a few cookies) and longer than a large JWT.
const (
	maxHiddenKeys   = 16
	maxHiddenKeyLen = 16 << 10
)

// unhideable stands for the raw request and response of a detailed record whose credentials are
// more, or longer, than a record hides (hiddenKeys).
const unhideable = "[not recorded: the request carried credentials a record does not hide (more than it hides, or an OAuth endpoint's)]"

// maxHideWork bounds the bytes hideWord compares in the places where a key matched but did not
// stand whole: a key and a text of one repeated character match at every offset, and each
// match costs the key's length. Past it, the rest of the text is hidden: a text the search
// cannot afford is not kept unsearched.
const maxHideWork = 64 << 10

// wordByte reports whether c may continue a word around a key: a key is hidden only where it
// stands whole, not where it is part of a longer word.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// afterEscape reports whether b ends with an escape sequence (%XX, a backslash and a letter,
// \uXXXX): its last byte is a letter or digit, but a key after it still stands whole (a key in
// a URL-encoded form or a JSON string after a quote or a newline).
func afterEscape(b []byte) bool {
	n := len(b)
	switch {
	case n >= 3 && b[n-3] == '%' && isHex(b[n-2]) && isHex(b[n-1]):
		return true
	case n >= 6 && b[n-6] == '\\' && b[n-5] == 'u' && isHex(b[n-4]) && isHex(b[n-3]) && isHex(b[n-2]) && isHex(b[n-1]):
		return true
	case n >= 2 && b[n-2] == '\\':
		return true
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// hideKey returns b with each whole-word occurrence of key, and of the forms URLs carry it in
// (urlForms), replaced by redacted. It returns b itself when there is none (or key is empty).
func hideKey(b []byte, key string) []byte {
	if key == "" {
		return b
	}
	b = hideWord(b, key)
	for _, f := range urlForms(key) {
		b = hideWord(b, f)
	}
	return b
}

// urlForms returns the percent-encoded forms of key that differ from it: as url.QueryEscape
// (forms, queries) and url.PathEscape (paths) write it, as QueryEscape but with '/' left as it
// is (Python's quote, JavaScript's encodeURI), and each of those with lower-case hex digits
// (RFC 3986 makes them equivalent, and some encoders write them so). A key escaped byte by
// byte in a mix of these (or with other characters left unescaped) is not recognised.
func urlForms(key string) []string {
	var out []string
	add := func(f string) {
		if f != key && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	q := url.QueryEscape(key)
	for _, f := range []string{q, url.PathEscape(key), strings.ReplaceAll(q, "%2F", "/")} {
		add(f)
		add(lowerHex(f))
	}
	return out
}

// lowerHex returns s with the hex digits of its percent escapes in lower case.
func lowerHex(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lowerASCII(b[i+1]), lowerASCII(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// keyForms reports whether head holds key or one of the forms hideKey hides.
func keyForms(head []byte, key string) bool {
	if bytes.Contains(head, []byte(key)) {
		return true
	}
	for _, f := range urlForms(key) {
		if bytes.Contains(head, []byte(f)) {
			return true
		}
	}
	return false
}

// hideWord returns b with each whole-word occurrence of key replaced by redacted. It returns b
// itself when there is none.
func hideWord(b []byte, key string) []byte {
	if key == "" || len(b) < len(key) {
		return b
	}
	k := []byte(key)
	var out []byte
	done := 0 // b[:done] is in out (when out is not nil)
	work := 0
	for from := 0; from <= len(b)-len(k); {
		i := bytes.Index(b[from:], k)
		if i < 0 {
			break
		}
		start, end := from+i, from+i+len(k)
		if work += len(k); work > maxHideWork {
			out = append(out, b[done:start]...)
			out = append(out, redacted...)
			done = len(b)
			break
		}
		if (start > 0 && wordByte(b[start-1]) && !afterEscape(b[:start])) || (end < len(b) && wordByte(b[end])) {
			from = start + 1
			continue
		}
		out = append(out, b[done:start]...)
		out = append(out, redacted...)
		done, from = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[done:]...)
}

// hideKeyInHead hides key in the values of an HTTP head (its first line, the header lines, the
// blank line that ends it): in the request target of a request line, in each header's value,
// never in a header name, a method, a protocol or a status line.
func hideKeyInHead(head []byte, key string, request bool) []byte {
	if key == "" || !keyForms(head, key) {
		return head
	}
	out := make([]byte, 0, len(head)+32)
	first := true
	for len(head) > 0 {
		line := head
		if i := bytes.Index(head, []byte("\r\n")); i >= 0 {
			line = head[:i+2]
		}
		head = head[len(line):]
		switch {
		case first:
			first = false
			if !request {
				out = append(out, line...)
				continue
			}
			// METHOD SP target SP protocol CRLF
			sp1 := bytes.IndexByte(line, ' ')
			sp2 := bytes.LastIndexByte(line, ' ')
			if sp1 < 0 || sp2 <= sp1 {
				out = append(out, hideKey(line, key)...)
				continue
			}
			out = append(out, line[:sp1+1]...)
			out = append(out, hideKey(line[sp1+1:sp2], key)...)
			out = append(out, line[sp2:]...)
		default:
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				out = append(out, line...)
				continue
			}
			out = append(out, line[:colon+1]...)
			out = append(out, hideKey(line[colon+1:], key)...)
		}
	}
	return out
}

// hideKeysInPath returns path with each of keys hidden as hideKey hides it (a whole word, as
// sent or percent-encoded): the record's path fields, the access log's path. Cheap when the path
// holds none of them, as most do.
// hidePathFields hides keys in a detailed record's path fields, which hold the request
// target's path: hidden in the raw request, hidden there too.
func hidePathFields(record *sdk.AnalyticsRecord, keys []string) {
	for _, field := range [...]*string{&record.Path, &record.RawPath, &record.OriginalPath} {
		*field = hideKeysInPath(*field, keys...)
	}
}

func hideKeysInPath(path string, keys ...string) string {
	for _, key := range keys {
		if key = hiddenKey(key); key == "" || !strings.Contains(path, key) && !strings.Contains(path, "%") {
			continue
		}
		path = string(hideKey([]byte(path), key))
	}
	return path
}
