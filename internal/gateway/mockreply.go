package gateway

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/chain"
)

// hasReplies reports whether a version of the API has a Classic mock reply.
func (rt *apiRuntime) hasReplies() bool {
	for i := range rt.versions {
		if len(rt.versions[i].replies) > 0 {
			return true
		}
	}
	return false
}

// mockReplyStep answers a request the version step found a Classic mock reply for
// (docs/middleware.md), without reaching the upstream: the chain stops there.
func (rt *apiRuntime) mockReplyStep() chain.Step {
	return chain.Step{Name: "mock_reply", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		if c.MockReply == 0 {
			return nil
		}
		v := rt.version(c.Version)
		if v == nil || c.MockReply > len(v.replies) {
			return nil
		}
		v.replies[c.MockReply-1].Write(w)
		return chain.ErrHandled
	}}
}
