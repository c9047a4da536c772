package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
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
// Each mark has a random id, and names the ids of the marks whose loss a gateway repaired
// (restored). A gateway remembers the id it read. A mark with another id that does not name
// the one it knew means the same as a missing one: Redis lost the fleet's data, and a gateway
// that never saw the old mark (one started since, storing a definition) wrote a new one before
// anyone repaired the loss. A mark that names the known id as restored means another gateway
// already wrote back what was lost: this one takes the new id and writes nothing, so that what
// was deleted through the Gateway API since stays deleted.
const (
	fleetMarkSet = "gatehouse-fleet"
	fleetMarkID  = "mark"
	// maxRestored bounds the ids a mark names as restored.
	maxRestored = 16
)

// markDoc is the mark's document.
type markDoc struct {
	ID       string   `json:"id"`
	Since    string   `json:"since"`
	Restored []string `json:"restored,omitempty"`
}

// What readFleetMark finds.
type markState int

const (
	markUnknown markState = iota // it could not be read
	markThere
	markMissing // never written, or gone before this gateway read it
	markLost    // gone or written anew though this gateway read it: Redis lost what the fleet stored
)

// markRead is what readFleetMark found: the state, the mark (nil when it is missing) and the id
// this gateway knew (nil when it knew none).
type markRead struct {
	state markState
	doc   *markDoc
	known *string
}

// readFleetMark reads the mark. A gateway that never read it writes it (putFleetMark) once it
// finds the fleet stored something: at the first reload after an upgrade, or after the first
// definition or policy was stored. It takes the id of a mark that is there, unless the mark
// says Redis lost the fleet's data: that id is taken once what was lost is written back
// (adoptMark), so that a write-back that failed is tried again at the next reload.
func (g *Gateway) readFleetMark(ctx context.Context) markRead {
	docs, err := g.store.Documents(ctx, fleetMarkSet)
	if err != nil {
		g.log.Debug("fleet: the fleet's mark could not be read", "error", err)
		return markRead{state: markUnknown}
	}
	r := markRead{known: g.markID.Load()}
	if raw, ok := docs[fleetMarkID]; ok {
		r.doc = new(markDoc)
		_ = json.Unmarshal(raw, r.doc) // a mark without an id (an older Gatehouse's) or unreadable has id ""
	}
	switch {
	case r.doc != nil && (r.known == nil || *r.known == r.doc.ID || slices.Contains(r.doc.Restored, *r.known)):
		g.adoptMark(r.doc.ID)
		r.state = markThere
	case r.doc != nil || g.sawFleetMark.Load():
		r.state = markLost
	default:
		r.state = markMissing
	}
	return r
}

// adoptMark notes the id of the mark this gateway now knows.
func (g *Gateway) adoptMark(id string) {
	g.markID.Store(&id)
	g.sawFleetMark.Store(true)
}

// putFleetMark writes a new mark, naming restored as repaired, unless a mark is there (its id
// is then learnt when it is read).
func (g *Gateway) putFleetMark(ctx context.Context, restored []string) bool {
	var b [16]byte
	_, _ = rand.Read(b[:])
	doc := markDoc{ID: hex.EncodeToString(b[:]), Since: time.Now().UTC().Format(time.RFC3339), Restored: restored}
	data, _ := json.Marshal(doc)
	err := g.store.PutDocument(ctx, fleetMarkSet, fleetMarkID, data, storage.Create)
	switch {
	case err == nil:
		g.adoptMark(doc.ID)
	case errors.Is(err, storage.ErrExists):
		g.sawFleetMark.Store(true)
	default:
		g.log.Warn("fleet: the fleet's mark could not be written; the next reload tries again", "error", err)
		return false
	}
	return true
}

// restoreShared writes back the definitions and policies of st (what this gateway served) that
// Redis does not have, after Redis lost what the fleet stored (m: the mark as read). Then it
// writes the mark naming the lost one as restored: a new mark when it is missing, or the mark
// found (another gateway's, written since the loss) with the lost id added. If something could
// not be written, the mark is left as it is and the id this gateway knew is kept, so that the
// next reload tries again; it returns false then.
func (g *Gateway) restoreShared(ctx context.Context, st sharedState, m markRead) bool {
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
	if failed > 0 {
		g.log.Error("fleet: Redis lost what the fleet stored in it, and writing it back failed; the next reload tries again",
			"definitions_written", apis, "policies_written", policies, "failed", failed)
		return false
	}
	var lost []string
	if m.known != nil {
		lost = []string{*m.known}
	}
	if m.doc == nil {
		if !g.putFleetMark(ctx, lost) {
			return false
		}
	} else {
		doc := *m.doc
		doc.Restored = append(slices.Clone(doc.Restored), lost...)
		if n := len(doc.Restored); n > maxRestored {
			doc.Restored = doc.Restored[n-maxRestored:]
		}
		data, _ := json.Marshal(doc)
		if err := g.store.PutDocument(ctx, fleetMarkSet, fleetMarkID, data, storage.Upsert); err != nil {
			g.log.Warn("fleet: the fleet's mark could not be written; the next reload tries again", "error", err)
			return false
		}
		g.adoptMark(doc.ID)
	}
	if apis+policies == 0 {
		g.log.Warn("fleet: Redis lost what the fleet stored in it; another gateway had already written back what this one served")
		return true
	}
	g.log.Error("fleet: Redis lost what the fleet stored in it (flushed, restarted without persistence, "+
		"or failed over to an empty replica); this gateway wrote back the definitions and policies it served. "+
		"Keys, quotas and rate-limit counters stored in Redis are gone: run Redis with persistence (appendonly yes)",
		"definitions_written", apis, "policies_written", policies)
	// Gateways that did not see the loss (one that wrote the new mark) serve what was written
	// back once they reload.
	if err := g.tellOthers(ctx, "wrote back what Redis lost", fleet.GroupReload, ""); err != nil {
		g.log.Warn("fleet: "+err.Error()+"; they serve it at their next reload", "error", err)
	}
	return true
}

// checkFleetMark reloads when Redis lost the fleet's mark since this gateway read it (it is
// gone, or another took its place that does not name it as restored), so that a FLUSHALL
// (after which Redis still answers, and nothing else makes the gateways reload) is repaired
// within one announcement period (fleet.AnnounceEvery) rather than at the next reload. The
// reload reads the mark again and writes back what this gateway served.
func (g *Gateway) checkFleetMark(ctx context.Context) {
	if g.shared == nil || !g.sawFleetMark.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.StorageTimeout())
	m := g.readFleetMark(rctx)
	cancel()
	if m.state != markLost {
		return
	}
	g.log.Warn("reloading: the fleet's mark is gone from Redis or was written anew, so Redis lost what the fleet stored")
	_ = g.Reload(ctx, true)
}
