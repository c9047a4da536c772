package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/router"
)

// Looping (Tyk's tyk:// targets): an API whose target_url is tyk://<api>, or whose URL
// rewrite rewrites to tyk://<api>/<path>, has the request served by that API of this gateway,
// in process and through its whole chain, instead of forwarding it. Internal APIs (internal:
// true) are reached only so. As in Tyk:
//
//   - <api> is an API id, "self", or an API's name as apidef.LoopingName makes it (any case);
//   - a request that carries a session (the looping API's key) skips the looped API's key
//     lookup and its rate limits and quotas, unless the rewrite asked for check_limits=true;
//     the key's expiry and access rights are checked all the same;
//   - a request loops at most loop_limit times (default 5), and is refused with 500 past it;
//   - a rewrite's control parameters method, loop_limit and check_limits are read from its
//     target's query; the looped request keeps its own query.
//
// The loop runs where the looping API would forward: after its whole request chain, and its
// response steps do not run (the looped API's do).

// defaultLoopLimit is how many loops a request may take when no loop_limit says, as in Tyk.
const defaultLoopLimit = 5

// Tyk's answers to a loop that cannot be followed.
const (
	msgLoopTarget  = "Can't detect loop target"
	msgLoopTooDeep = "Loop level too deep. Found more than %d loops in single request"
)

// loopUpstream serves the requests an API loops: its upstream when its target_url is a loop
// (to names the API), and the requests a URL rewrite loops (chain.Context.LoopTo).
type loopUpstream struct {
	g  *Gateway
	rt *apiRuntime
	// to and toKey are the API target_url names and apidef.LoopKey of it.
	to, toKey string
}

func (l *loopUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := chain.FromRequest(r)
	if c == nil {
		chain.WriteError(w, http.StatusInternalServerError, chain.MsgInternalServerError)
		return
	}
	to, key, path, method := l.to, l.toKey, c.ForwardPath, r.Method
	limit, check := 0, false
	if lt := c.LoopTo; lt != nil {
		to, key, path, limit, check = lt.API, lt.Key, lt.Path, lt.Limit, lt.CheckLimits
		if lt.Method != "" {
			method = lt.Method
		}
	}
	level := 0
	if c.Loop != nil {
		level = c.Loop.Level
		if limit == 0 {
			limit = c.Loop.Limit
		}
	}
	if limit == 0 {
		limit = defaultLoopLimit
	}
	if level >= limit {
		l.g.log.Warn("loop refused: too deep", "api_id", l.rt.id, "level", level, "loop_limit", limit)
		chain.WriteErrorFor(w, r, http.StatusInternalServerError, fmt.Sprintf(msgLoopTooDeep, limit))
		return
	}
	target := l.g.snap.Load().loopTarget(to, key, l.rt)
	if target == nil {
		l.g.log.Warn("loop refused: no API by that id or name", "api_id", l.rt.id, "target", to)
		chain.WriteErrorFor(w, r, http.StatusInternalServerError, msgLoopTarget)
		return
	}
	lp := router.NormalizeListenPath(target.listenPath)
	full := path
	if lp != "/" {
		full = lp + path
	}
	// path is decoded already (canonical): escaped again, it is not decoded twice.
	canon, err := router.Canonicalize(router.Escape(full))
	if err != nil || !hasSegmentPrefix(canon, lp) && lp != "/" {
		chain.WriteErrorFor(w, r, http.StatusBadRequest, chain.MsgBadRequest)
		return
	}
	in := r.Clone(r.Context())
	in.Method = method // its path is canon once serveAPI sets it
	next := &chain.Loop{Level: level + 1, Limit: limit, CheckLimits: check}
	if c.Loop != nil {
		next.Orgs = c.Loop.Orgs
	}
	if org := c.OrgCounted; org != "" && !slices.Contains(next.Orgs, org) {
		next.Orgs = append(slices.Clip(next.Orgs), org)
	}
	l.g.serveAPI(w, in, target, lp, canon, l.g.startTime(), next, c)
}

// loopTarget finds the API a loop names: "self" (from), an API id, else a looping name (key
// is apidef.LoopKey of name).
func (s *snapshot) loopTarget(name, key string, from *apiRuntime) *apiRuntime {
	if key == "self" {
		if rt := s.apis[from.id]; rt != nil {
			return rt
		}
		return from
	}
	if rt := s.apis[name]; rt != nil {
		return rt
	}
	s.loopNamesOnce.Do(func() {
		ids := make([]string, 0, len(s.apis))
		for id := range s.apis {
			ids = append(ids, id)
		}
		sort.Strings(ids) // of two APIs with one looping name, the lowest id has it
		s.loopNames = make(map[string]*apiRuntime, len(ids))
		for _, id := range ids {
			rt := s.apis[id]
			n := apidef.LoopKey(rt.name)
			if _, taken := s.loopNames[n]; n != "" && !taken {
				s.loopNames[n] = rt
			}
		}
	})
	return s.loopNames[key]
}
