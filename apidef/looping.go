package apidef

import (
	"fmt"
	"net/url"
	"strconv"
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
// with a host written out (never taken from the request: a client must not choose the API)
// and control parameters ParseLoopControls reads.
func checkLoopRewrite(s string) error {
	host, _ := SplitLoopTarget(s)
	if host == "" {
		return fmt.Errorf("%q: a looping target names an API (tyk://<api id or name>/path, or tyk://self/path)", s)
	}
	if strings.ContainsAny(host, "$@:#\\%") {
		return fmt.Errorf("%q: the API a rewrite loops to must be written out, not taken from the request", s)
	}
	_, q, _ := strings.Cut(s, "?")
	if _, err := ParseLoopControls(q); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// MaxLoopLimit bounds a looping target's loop_limit.
const MaxLoopLimit = 100

// LoopControls are Tyk's control parameters of a looping URL rewrite target, read from its
// query as written: they are the definition's, never the request's.
type LoopControls struct {
	Method      string // the method to loop with, in upper case ("" keeps the request's)
	Limit       int    // loop_limit, 1 to MaxLoopLimit (0 keeps the current one)
	CheckLimits bool   // check_limits
}

// ParseLoopControls reads the query of a looping rewrite target as written (what follows its
// "?"): only method (letters), loop_limit (1 to MaxLoopLimit) and check_limits (true or
// false), and no variables (the request must not choose them). Validate refuses a definition
// whose target this refuses; a URL rewrite compiles the target's controls with it.
func ParseLoopControls(query string) (LoopControls, error) {
	var ctl LoopControls
	if query == "" {
		return ctl, nil
	}
	if strings.Contains(query, "$") {
		return ctl, fmt.Errorf("the query of a looping target (method, loop_limit, check_limits) takes no variables: the request must not choose them")
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return ctl, fmt.Errorf("the query of a looping target: %w", err)
	}
	for k := range vals {
		switch k {
		case "method", "loop_limit", "check_limits":
		default:
			return ctl, fmt.Errorf("query parameter %q: a looping target's query holds only method, loop_limit and check_limits (the request keeps its own query)", k)
		}
	}
	if m := vals.Get("method"); m != "" {
		m = strings.ToUpper(m)
		if strings.IndexFunc(m, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			return ctl, fmt.Errorf("method %q is not an HTTP method", m)
		}
		ctl.Method = m
	}
	if l := vals.Get("loop_limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLoopLimit {
			return ctl, fmt.Errorf("loop_limit %q: want a number from 1 to %d", l, MaxLoopLimit)
		}
		ctl.Limit = n
	}
	switch c := vals.Get("check_limits"); c {
	case "", "false":
	case "true":
		ctl.CheckLimits = true
	default:
		return ctl, fmt.Errorf("check_limits %q: want true or false", c)
	}
	return ctl, nil
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
