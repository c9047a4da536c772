package gateway

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestHideKey: a key is hidden where it stands as a whole word, never inside a longer word,
// and a key too short to tell from ordinary text is not hidden at all.
func TestHideKey(t *testing.T) {
	const key = "k3y-0123456789"
	for _, tc := range []struct {
		name, key, in, want string
	}{
		{"json value", key, `{"token":"` + key + `"}`, `{"token":"[redacted]"}`},
		{"form value", key, "a=1&token=" + key + "&b=2", "a=1&token=[redacted]&b=2"},
		{"whole text", key, key, "[redacted]"},
		{"twice", key, key + " " + key, "[redacted] [redacted]"},
		{"inside a word", key, "x" + key + " " + key + "9 " + key + "_", "x" + key + " " + key + "9 " + key + "_"},
		{"after a false start", key, "k3y-" + key, "k3y-" + key},
		{"overlapping start", "abababab", "ab abababab!", "ab [redacted]!"},
		{"no key", "", "anything 1 a", "anything 1 a"},
		{"absent", key, "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"},
		// An escape before the key ends in a letter or digit, yet the key stands whole after it.
		{"after a percent-encoded byte", key, "q=%7B%22token%22%3A%22" + key + "%22%7D&s=a%20" + key, "q=%7B%22token%22%3A%22[redacted]%22%7D&s=a%20[redacted]"},
		{"after a backslash escape", key, `{"note":"line\n` + key + `\t` + key + `"}`, `{"note":"line\n[redacted]\t[redacted]"}`},
		{"after a unicode escape", key, `{"t":"\u0022` + key + `\u0022"}`, `{"t":"\u0022[redacted]\u0022"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(hideKey([]byte(tc.in), tc.key)); got != tc.want {
				t.Errorf("hideKey(%q, %q) = %q, want %q", tc.in, tc.key, got, tc.want)
			}
		})
	}
	// A key with characters that URLs escape is hidden in its escaped forms too: in a form
	// body or query (QueryEscape) and in a path (PathEscape).
	const odd = "k3y+0123/456789=="
	for _, tc := range []struct{ in, want string }{
		{"token=k3y%2B0123%2F456789%3D%3D&x=1", "token=[redacted]&x=1"},
		{"/keys/k3y+0123%2F456789==/x", "/keys/[redacted]/x"},
		{`{"t":"` + odd + `"}`, `{"t":"[redacted]"}`},
		// Percent-encoding's hex digits in either case (RFC 3986 2.1: equivalent; some
		// encoders write lower case), and '/' left as it is (Python's quote, JavaScript's
		// encodeURI): the key still stands there.
		{"token=k3y%2b0123%2f456789%3d%3d&x=1", "token=[redacted]&x=1"},
		{"/keys/k3y+0123%2f456789==/x", "/keys/[redacted]/x"},
		{"token=k3y%2B0123/456789%3D%3D&x=1", "token=[redacted]&x=1"},
		{"token=k3y%2b0123/456789%3d%3d&x=1", "token=[redacted]&x=1"},
	} {
		if got := string(hideKey([]byte(tc.in), odd)); got != tc.want {
			t.Errorf("hideKey(%q, %q) = %q, want %q", tc.in, odd, got, tc.want)
		}
	}
	for _, head := range []string{
		"GET /a?token=k3y%2B0123%2F456789%3D%3D HTTP/1.1\r\nX-K: k3y%2B0123%2F456789%3D%3D\r\n\r\n",
		"GET /a?token=k3y%2b0123%2f456789%3d%3d HTTP/1.1\r\nX-K: k3y%2b0123/456789%3d%3d\r\n\r\n",
	} {
		want := "GET /a?token=[redacted] HTTP/1.1\r\nX-K: [redacted]\r\n\r\n"
		if got := string(hideKeyInHead([]byte(head), odd, true)); got != want {
			t.Errorf("hideKeyInHead(%q) = %q, want %q", head, got, want)
		}
	}
	for _, short := range []string{"1", "a", "ab", "json", "1234567"} {
		if got := hiddenKey(short); got != "" {
			t.Errorf("hiddenKey(%q) = %q: a key shorter than %d would be hidden in ordinary text", short, got, minHiddenKey)
		}
	}
	if got := hiddenKey(key); got != key {
		t.Errorf("hiddenKey(%q) = %q", key, got)
	}
}

// TestHideKeyInHead: in a head, the key is hidden in the request target and header values,
// never in the method, protocol, status line or a header name.
func TestHideKeyInHead(t *testing.T) {
	const key = "Authorization" // a (plugin-set) key that is also a header name
	req := "GET /a/" + key + "?x=" + key + " HTTP/1.1\r\nAuthorization: [redacted]\r\nX-Echo: " + key + "\r\n\r\n"
	want := "GET /a/[redacted]?x=[redacted] HTTP/1.1\r\nAuthorization: [redacted]\r\nX-Echo: [redacted]\r\n\r\n"
	if got := string(hideKeyInHead([]byte(req), key, true)); got != want {
		t.Errorf("request head:\n got %q\nwant %q", got, want)
	}
	resp := "HTTP/1.1 200 Authorization\r\nAuthorization: " + key + "\r\n\r\n"
	want = "HTTP/1.1 200 Authorization\r\nAuthorization: [redacted]\r\n\r\n"
	if got := string(hideKeyInHead([]byte(resp), key, false)); got != want {
		t.Errorf("response head:\n got %q\nwant %q", got, want)
	}
}

// TestHideWordBounded: a key that matches at every offset of a text without standing whole
// (a key and a text of one repeated character) costs its length at each of them; past
// maxHideWork compared bytes the rest of the text is hidden instead of searched, and what came
// before stays as it was.
func TestHideWordBounded(t *testing.T) {
	key := strings.Repeat("a", 4<<10)
	text := []byte("ok " + strings.Repeat("a", 64<<10))
	got := string(hideWord(text, key))
	if !strings.HasPrefix(got, "ok ") || !strings.HasSuffix(got, redacted) {
		t.Fatalf("a text the search cannot afford: %d bytes, starting %q, ending %q; want its start kept and its rest hidden",
			len(got), got[:min(len(got), 8)], got[max(0, len(got)-16):])
	}
	if n := strings.Count(got, "a"); n >= len(text)-3 {
		t.Errorf("%d of the text's %d a's kept: nothing was hidden", n, len(text)-3)
	}
	// A key that stands whole, often, is hidden everywhere as long as the bound allows.
	whole := []byte(strings.Repeat("k3y-0123456789 ", 1000))
	if got := string(hideWord(whole, "k3y-0123456789")); got != strings.Repeat("[redacted] ", 1000) {
		t.Errorf("a key standing whole 1,000 times was not hidden each time: %.60q", got)
	}
}

// TestHiddenKeysBounded: a request carrying more credentials than a record hides, or one longer
// than it hides, is not searched for: its record keeps no raw request or response.
func TestHiddenKeysBounded(t *testing.T) {
	creds := make([]string, maxHiddenKeys-1)
	for i := range creds {
		creds[i] = fmt.Sprintf("cookie-value-%04d", i)
	}
	if keys, ok := hiddenKeys("the-key-of-the-session", creds); !ok || len(keys) != maxHiddenKeys {
		t.Fatalf("%d credentials and a key: %d hidden, ok %v; want %d, ok", len(creds), len(keys), ok, maxHiddenKeys)
	}
	// Repeated and short values are not counted.
	if _, ok := hiddenKeys("the-key-of-the-session", append(creds, creds[0], "short")); !ok {
		t.Error("a repeated credential and a short one went over the bound")
	}
	if _, ok := hiddenKeys("the-key-of-the-session", append(creds, "one-more-credential")); ok {
		t.Errorf("%d credentials and a key were all hidden, want none (the record keeps no raw request)", len(creds)+1)
	}
	if _, ok := hiddenKeys(strings.Repeat("k", maxHiddenKeyLen+1), nil); ok {
		t.Error("a key longer than maxHiddenKeyLen was hidden, want none")
	}
}

func TestBasicPassword(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, scheme, cred, want string
		ok                       bool
	}{
		{"basic", "Basic", b64("alice:s3cret-pass"), "s3cret-pass", true},
		{"scheme in any case", "bASIC", b64("alice:s3cret-pass"), "s3cret-pass", true},
		{"colons belong to the password", "Basic", b64("alice:a:b:c"), "a:b:c", true},
		{"unpadded", "Basic", base64.RawStdEncoding.EncodeToString([]byte("alice:pw")), "pw", true},
		{"no colon", "Basic", b64("alice"), "", false},
		{"empty password", "Basic", b64("alice:"), "", false},
		{"not base64", "Basic", "not*base64", "", false},
		{"another scheme", "Bearer", b64("alice:s3cret-pass"), "", false},
	} {
		if got, ok := basicPassword(tc.scheme, tc.cred); got != tc.want || ok != tc.ok {
			t.Errorf("%s: basicPassword = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
