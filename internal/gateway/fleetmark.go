package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// The fleet's mark: one document, written once the fleet has stored definitions or policies in
// Redis, and never deleted by the gateways. A gateway that read it and finds it gone knows that
// Redis lost what the fleet stored (a FLUSHALL, a restart without persistence, a failover to an
// empty replica) rather than that the definitions were deleted through the Gateway API, which
// leaves the mark. Without the mark, the first gateway to reload would serve nothing of what
// the fleet stored, and the others would go on serving it until they reload: the fleet would
// disagree, then lose every API it shares.
//
// The gateway that finds it gone writes back the definitions and policies it served (those not
// stored again since), then the mark. Keys, quotas and rate counters are not written back:
// a gateway holds no authoritative copy of them.
const (
	fleetMarkSet = "gatehouse-fleet"
	fleetMarkID  = "mark"
)

// What readFleetMark finds.
type markState int

const (
	markUnknown markState = iota // it could not be read
	markThere
	markMissing // never written, or gone before this gateway read it
	markLost    // gone though this gateway read it before: Redis lost what the fleet stored
)

// readFleetMark reads the mark. A gateway that never read it writes it (putFleetMark) once it
// finds the fleet stored something: at the first reload after an upgrade, or after the first
// definition or policy was stored.
func (g *Gateway) readFleetMark(ctx context.Context) markState {
	docs, err := g.store.Documents(ctx, fleetMarkSet)
	switch {
	case err != nil:
		g.log.Debug("fleet: the fleet's mark could not be read", "error", err)
		return markUnknown
	case len(docs) > 0:
		g.sawFleetMark.Store(true)
		return markThere
	case g.sawFleetMark.Load():
		return markLost
	}
	return markMissing
}

// putFleetMark writes the mark, unless it is there.
func (g *Gateway) putFleetMark(ctx context.Context) {
	mark := fmt.Appendf(nil, `{"since": %q}`, time.Now().UTC().Format(time.RFC3339))
	err := g.store.PutDocument(ctx, fleetMarkSet, fleetMarkID, mark, storage.Create)
	if err != nil && !errors.Is(err, storage.ErrExists) {
		g.log.Warn("fleet: the fleet's mark could not be written; the next reload tries again", "error", err)
		return
	}
	g.sawFleetMark.Store(true)
}

// restoreShared writes back the definitions and policies of st (what this gateway served) that
// Redis does not have, then the mark; if some could not be written, the mark is not, so that
// the next reload tries again.
func (g *Gateway) restoreShared(ctx context.Context, st sharedState) {
	var apis, policies, failed int
	put := func(set, id string, doc []byte, n *int) {
		switch err := g.store.PutDocument(ctx, set, id, doc, storage.Create); {
		case err == nil:
			*n++
		case errors.Is(err, storage.ErrExists):
			// stored again since, through another gateway: that one stays
		default:
			failed++
			g.log.Error("fleet: writing back what Redis lost failed", "set", set, "id", id, "error", err)
		}
	}
	for _, e := range st.apis {
		doc := e.Raw
		if e.OAS != nil {
			doc = e.OAS.Raw // stored as a Tyk OAS document, not as its Classic form
		}
		put(sharedAPIsSet, strings.TrimPrefix(e.File, apistore.SharedPrefix), doc, &apis)
	}
	for id, doc := range st.policyDocs {
		put(sharedPoliciesSet, id, doc, &policies)
	}
	if failed == 0 {
		g.putFleetMark(ctx)
	}
	g.log.Error("fleet: Redis lost what the fleet stored in it (flushed, restarted without persistence, "+
		"or failed over to an empty replica); this gateway wrote back the definitions and policies it served. "+
		"Keys, quotas and rate-limit counters stored in Redis are gone: run Redis with persistence (appendonly yes)",
		"definitions_written", apis, "policies_written", policies, "failed", failed)
}

// checkFleetMark reloads when Redis lost the fleet's mark since this gateway read it, so that a
// FLUSHALL (after which Redis still answers, and nothing else makes the gateways reload) is
// repaired within one announcement period (fleet.AnnounceEvery) rather than at the next reload.
func (g *Gateway) checkFleetMark(ctx context.Context) {
	if g.shared == nil || !g.sawFleetMark.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.StorageTimeout())
	docs, err := g.store.Documents(rctx, fleetMarkSet)
	cancel()
	if err != nil || len(docs) > 0 {
		return
	}
	g.log.Warn("reloading: the fleet's mark is gone from Redis, which lost what the fleet stored")
	_ = g.Reload(ctx, true)
}
