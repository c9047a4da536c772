package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/fleet"
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
//
// Each mark has a random id. A mark with another id than the one a gateway read means the same
// as a missing one: Redis lost the fleet's data, and a gateway that never saw the old mark (one
// started since, storing a definition) wrote a new one before this gateway looked.
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
		if g.markChanged(docs) {
			return markLost
		}
		return markThere
	case g.sawFleetMark.Load():
		return markLost
	}
	return markMissing
}

// markChanged notes the id of the mark read (docs) and reports whether it differs from the one
// this gateway knew: the mark was written anew since, Redis having lost the one before.
func (g *Gateway) markChanged(docs map[string][]byte) bool {
	id := markIDOf(docs)
	prev := g.markID.Swap(&id)
	return prev != nil && *prev != id
}

// markIDOf is the id of the mark in docs; a mark without one (written by an older Gatehouse)
// or unreadable has id "".
func markIDOf(docs map[string][]byte) string {
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(docs[fleetMarkID], &m)
	return m.ID
}

// putFleetMark writes the mark, unless it is there (its id is then learnt when it is read).
func (g *Gateway) putFleetMark(ctx context.Context) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	mark := fmt.Appendf(nil, `{"id": %q, "since": %q}`, id, time.Now().UTC().Format(time.RFC3339))
	err := g.store.PutDocument(ctx, fleetMarkSet, fleetMarkID, mark, storage.Create)
	switch {
	case err == nil:
		g.markID.Store(&id)
	case !errors.Is(err, storage.ErrExists):
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
	if apis+policies > 0 {
		// Gateways that did not see the loss (one that wrote the new mark) serve what was
		// written back once they reload.
		if err := g.tellOthers(ctx, "wrote back what Redis lost", fleet.GroupReload, ""); err != nil {
			g.log.Warn("fleet: "+err.Error()+"; they serve it at their next reload", "error", err)
		}
	}
	g.log.Error("fleet: Redis lost what the fleet stored in it (flushed, restarted without persistence, "+
		"or failed over to an empty replica); this gateway wrote back the definitions and policies it served. "+
		"Keys, quotas and rate-limit counters stored in Redis are gone: run Redis with persistence (appendonly yes)",
		"definitions_written", apis, "policies_written", policies, "failed", failed)
}

// checkFleetMark reloads when Redis lost the fleet's mark since this gateway read it (it is
// gone, or another took its place), so that a FLUSHALL (after which Redis still answers, and
// nothing else makes the gateways reload) is repaired within one announcement period
// (fleet.AnnounceEvery) rather than at the next reload. The reload reads the mark again and
// writes back what this gateway served.
func (g *Gateway) checkFleetMark(ctx context.Context) {
	if g.shared == nil || !g.sawFleetMark.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.StorageTimeout())
	docs, err := g.store.Documents(rctx, fleetMarkSet)
	cancel()
	if err != nil {
		return
	}
	if len(docs) > 0 {
		if known := g.markID.Load(); known == nil || *known == markIDOf(docs) {
			return
		}
	}
	g.log.Warn("reloading: the fleet's mark is gone from Redis or was written anew, so Redis lost what the fleet stored")
	_ = g.Reload(ctx, true)
}
