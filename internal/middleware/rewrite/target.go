package rewrite

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/headers"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

const (
	contextPrefix = "$tyk_context."
	metaPrefix    = "$tyk_meta."
)

// part is a piece of a target: a literal, a group of match_pattern (group > 0), a context
// variable (ctx) or a meta_data key (meta).
type part struct {
	lit   string
	group int
	ctx   string
	meta  string
}

// target is a compiled rewrite_to. secret is set when it holds a secret variable's value: the
// rewritten URL is then never put in an error (the debug log, a trace).
type target struct {
	parts  []part
	secret bool
	// loop is set when the target, as written, loops to an API (tyk://): only then is a
	// rendered target read as a loop, so that no value taken from the request makes one.
	// Its control parameters (loopCtl: method, loop_limit, check_limits) are read from the
	// query as written (apidef.ParseLoopControls), which takes no variables: the request
	// chooses none of them.
	loop    bool
	loopCtl chain.LoopTarget
}

// targetCompiler compiles the targets of a definition: sec resolves their secret variables,
// and missing is called with each that has no value.
type targetCompiler struct {
	sec     *secrets.Resolver
	missing func(string)
}

// target splits a rewrite_to into its parts. `$` followed by digits is a group (all the
// digits: `$10` is group 10, where Tyk would read `$1` and a literal 0); `$tyk_context.<name>`
// and `$tyk_meta.<name>` are variables; `$secret_env.<name>` and `$secret_conf.<name>` are
// their values, as they are (as in Tyk: not escaped); any other `$` is literal.
func (tc targetCompiler) target(s string) (target, error) {
	if err := apidef.CheckRewriteTarget(s); err != nil {
		return target{}, err
	}
	t := target{loop: apidef.IsLoopTarget(s)}
	if t.loop {
		// CheckRewriteTarget checked the query with ParseLoopControls (a bad one refuses
		// the definition when it is validated): this reads the controls it checked.
		p, q, _ := strings.Cut(s, "?")
		ctl, err := apidef.ParseLoopControls(q)
		if err != nil {
			return target{}, fmt.Errorf("%q: %w", s, err)
		}
		// The API is written out (CheckRewriteTarget): it is known now, and the target
		// compiles to what follows it.
		lt := chain.LoopTarget{LoopControls: ctl}
		lt.API, p = apidef.SplitLoopTarget(p)
		lt.Key = apidef.LoopKey(lt.API)
		t.loopCtl, s = lt, p
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		rest := s[i:]
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j > 1 {
			n, err := strconv.Atoi(rest[1:j])
			if err == nil && n > 0 {
				flush()
				t.parts = append(t.parts, part{group: n})
				i += j
				continue
			}
		}
		if n, val, miss, ok := tc.sec.Match(rest); ok {
			if miss != "" && tc.missing != nil {
				tc.missing(miss)
			}
			t.secret = true
			lit.WriteString(val)
			i += n
			continue
		}
		var prefix string
		switch {
		case strings.HasPrefix(rest, contextPrefix):
			prefix = contextPrefix
		case strings.HasPrefix(rest, metaPrefix):
			prefix = metaPrefix
		}
		end := len(prefix)
		for prefix != "" && end < len(rest) && secrets.VarChar(rest[end]) {
			end++
		}
		if prefix == "" || end == len(prefix) {
			lit.WriteByte('$')
			i++
			continue
		}
		flush()
		name := rest[len(prefix):end]
		if prefix == contextPrefix {
			t.parts = append(t.parts, part{ctx: name})
		} else {
			t.parts = append(t.parts, part{meta: name})
		}
		i += end
	}
	flush()
	return t, nil
}

// render builds the target for a request: groups are match_pattern's submatches (inserted as
// matched), variables are query-escaped (Tyk leaves a value starting with "http" as it is, to
// make an absolute URL; Gatehouse never follows one, so every value is escaped).
func (t *target) render(groups []string, ev *eval) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case p.group > 0:
			if p.group < len(groups) {
				b.WriteString(groups[p.group])
			}
		case p.ctx != "":
			v, err := ev.contextValue(p.ctx)
			if err != nil {
				return "", err
			}
			b.WriteString(url.QueryEscape(v))
		case p.meta != "":
			b.WriteString(url.QueryEscape(headers.MetaValue(ev.meta()[p.meta])))
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String(), nil
}
