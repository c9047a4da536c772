package apidef

import (
	"fmt"
	"net/url"
	"strings"
)

// Looping (Tyk's tyk:// targets): a request an API would forward to tyk://<api>/ is served by
// that API of the same gateway instead, in process, through its whole chain. <api> is an API
// id, a name (compared as LoopingName makes it, ignoring case), or "self".

// LoopScheme is the scheme of looping targets.
const LoopScheme = "tyk"

// IsLoopTarget reports whether s is a tyk:// target (any case).
func IsLoopTarget(s string) bool {
	return len(s) >= len(LoopScheme)+3 && strings.EqualFold(s[:len(LoopScheme)+3], LoopScheme+"://")
}

// ValidateLoopTarget checks a target_url looping to another API: tyk://<api id or name> or
// tyk://self, with nothing after the host but an optional "/" (the request's own path is
// what the API it loops to serves).
func ValidateLoopTarget(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Host == "" || u.User != nil || u.Port() != "" || strings.ContainsAny(u.Host, "$[]") {
		return fmt.Errorf("%q: a looping target names an API (tyk://<api id or name>, or tyk://self)", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: a looping target_url takes no path or query (the request's path is the looped API's); loop to a path with a URL rewrite", s)
	}
	return nil
}

// SplitLoopTarget splits a tyk:// target into the API it names and what follows (a path, a
// query, or nothing).
func SplitLoopTarget(s string) (api, rest string) {
	rest = s[len(LoopScheme)+3:]
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i:]
}

// LoopKey is how a loop finds an API by name: its LoopingName in lower case.
func LoopKey(name string) string { return strings.ToLower(LoopingName(name)) }

// checkLoopRewrite checks a URL rewrite target looping to another API: tyk://<api>/<path>,
// with a host written out (never taken from the request: a client must not choose the API).
func checkLoopRewrite(s string) error {
	host, _ := SplitLoopTarget(s)
	if host == "" {
		return fmt.Errorf("%q: a looping target names an API (tyk://<api id or name>/path, or tyk://self/path)", s)
	}
	if strings.ContainsAny(host, "$@:#\\%") {
		return fmt.Errorf("%q: the API a rewrite loops to must be written out, not taken from the request", s)
	}
	if _, q, ok := strings.Cut(s, "?"); ok && strings.Contains(q, "$") {
		return fmt.Errorf("%q: the query of a looping target (method, loop_limit, check_limits) takes no variables: the request must not choose them", s)
	}
	return nil
}

// LoopingName is the name an API is looped to by (besides its id): its name without Tyk's
// category suffix (" #category"), every run of characters other than ASCII letters and
// digits made one "-", as Tyk makes it. Names compare ignoring case.
func LoopingName(name string) string {
	if i := strings.IndexByte(name, '#'); i > 0 {
		name = strings.TrimRight(name[:i], " ")
	}
	var b strings.Builder
	dash := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String()
}
