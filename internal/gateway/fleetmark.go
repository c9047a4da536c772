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
// Each mark has a random id, which a gateway remembers. A mark with another id means the same
// as a missing one: Redis lost the fleet's data, and another gateway wrote a new mark since (one
// that wrote back what it served, or one started since that stored a definition). Every gateway
// that finds the loss writes back what it served and Redis does not hold, so that what only
// some served (they had not all reloaded) comes back too; definitions and policies deleted
// through the Gateway API are noted (fleetDeletedSet) and never written back.
const (
	fleetMarkSet = "gatehouse-fleet"
	fleetMarkID  = "mark"
	// fleetDeletedSet notes the definitions ("api:<id>") and policies ("policy:<id>") deleted
	// through the Gateway API, for deletedKeep: a gateway that learns of a loss late does not
	// write them back. Storing one again removes its note.
	fleetDeletedSet = "gatehouse-deleted"
	deletedKeep     = 7 * 24 * time.Hour
	// deletedPruneEvery spaces the pruning of old notes: a deletion reads them all.
	deletedPruneEvery = time.Hour
	deletedAPI        = "api:"
	deletedPolicy     = "policy:"
)

// maxMarkBytes bounds the mark read: the gateways write one of under a hundred bytes.
const maxMarkBytes = 4 << 10

// markDoc is the mark's document.
type markDoc struct {
	ID    string `json:"id"`
	Since string `json:"since"`
}

// What readFleetMark finds.
type markState int

const (
	markUnknown markState = iota // it could not be read
	markThere
	markMissing // never written, or gone before this gateway read it
	markLost    // gone or written anew though this gateway read it: Redis lost what the fleet stored
)

// markRead is what readFleetMark found: the state and the mark (nil when it is missing).
type markRead struct {
	state markState
	doc   *markDoc
}

// readFleetMark reads the mark. A gateway that never read it writes it (putFleetMark) once it
// finds the fleet stored something: at the first reload after an upgrade, or after the first
// definition or policy was stored. It takes the id of a mark that is there, unless the mark
// says Redis lost the fleet's data: that id is taken once what was lost is written back
// (adoptMark), so that a write-back that failed is tried again at the next reload.
//
// Only the mark's field is read, and only when it is no larger than a mark: any client of Redis
// can write to the hash, and a field of many MiB there must not be read every AnnounceEvery.
func (g *Gateway) readFleetMark(ctx context.Context) markRead {
	raw, err := g.store.Document(ctx, fleetMarkSet, fleetMarkID, maxMarkBytes)
	var r markRead
	switch {
	case err == nil:
		r.doc = new(markDoc)
		_ = json.Unmarshal(raw, r.doc) // a mark without an id (an older Gatehouse's) or unreadable has id ""
	case errors.Is(err, storage.ErrTooLarge):
		r.doc = new(markDoc) // not a mark Gatehouse wrote: as one unreadable, id ""
	case errors.Is(err, storage.ErrNotFound):
	default:
		g.log.Debug("fleet: the fleet's mark could not be read", "error", err)
		return markRead{state: markUnknown}
	}
	known := g.markID.Load()
	switch {
	case r.doc != nil && (known == nil || *known == r.doc.ID):
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

// putFleetMark writes a new mark, unless a mark is there (its id is then learnt when it is
// read).
func (g *Gateway) putFleetMark(ctx context.Context) bool {
	var b [16]byte
	_, _ = rand.Read(b[:])
	doc := markDoc{ID: hex.EncodeToString(b[:]), Since: time.Now().UTC().Format(time.RFC3339)}
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
// Redis does not have and that are not noted as deleted, after Redis lost what the fleet stored
// (mark: the mark as read, nil when it is missing); then a new mark when it is missing. If
// something could not be written, or the notes of deletions could not be read, the id this
// gateway knew is kept, so that the next reload tries again; it returns false then.
func (g *Gateway) restoreShared(ctx context.Context, st sharedState, mark *markDoc) bool {
	deleted, err := g.store.Documents(ctx, fleetDeletedSet)
	if err != nil {
		g.log.Error("fleet: Redis lost what the fleet stored in it, and what was deleted since could not be read; the next reload tries again", "error", err)
		return false
	}
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
		id := strings.TrimPrefix(e.File, apistore.SharedPrefix)
		if _, gone := deleted[deletedAPI+id]; gone {
			continue
		}
		doc := e.Raw
		if e.OAS != nil {
			doc = e.OAS.Raw // stored as a Tyk OAS document, not as its Classic form
		}
		put(sharedAPIsSet, id, doc, &apis)
	}
	for id, doc := range st.policyDocs {
		if _, gone := deleted[deletedPolicy+id]; gone {
			continue
		}
		put(sharedPoliciesSet, id, doc, &policies)
	}
	if failed > 0 {
		g.log.Error("fleet: Redis lost what the fleet stored in it, and writing it back failed; the next reload tries again",
			"definitions_written", apis, "policies_written", policies, "failed", failed)
		return false
	}
	if mark == nil {
		if !g.putFleetMark(ctx) {
			return false
		}
	} else {
		g.adoptMark(mark.ID)
	}
	if apis+policies == 0 {
		g.log.Warn("fleet: Redis lost what the fleet stored in it; what this gateway served was written back already")
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

// noteDeleted notes that a definition or policy (kind deletedAPI or deletedPolicy) is deleted
// through the Gateway API, so that no gateway writes it back after a loss of Redis's data, and
// drops the notes older than deletedKeep (at most every deletedPruneEvery). A note that cannot be written is logged: the deletion
// stands.
func (g *Gateway) noteDeleted(ctx context.Context, kind, id string) {
	if g.shared == nil {
		return
	}
	now := time.Now()
	if err := g.store.PutDocument(ctx, fleetDeletedSet, kind+id, fmt.Appendf(nil, `{"at": %d}`, now.Unix()), storage.Upsert); err != nil {
		g.log.Warn("fleet: the deletion could not be noted; if Redis loses its data, a gateway may write it back", "id", kind+id, "error", err)
	}
	if last := g.deletedPruned.Load(); last != 0 && now.Sub(time.Unix(0, last)) < deletedPruneEvery {
		return
	}
	g.deletedPruned.Store(now.UnixNano())
	notes, err := g.store.Documents(ctx, fleetDeletedSet)
	if err != nil {
		return
	}
	for name, raw := range notes {
		var n struct {
			At int64 `json:"at"`
		}
		if json.Unmarshal(raw, &n) == nil && now.Sub(time.Unix(n.At, 0)) > deletedKeep {
			_, _ = g.store.DeleteDocument(ctx, fleetDeletedSet, name)
		}
	}
}

// noteStored drops the note of a definition or policy stored again through the Gateway API.
func (g *Gateway) noteStored(ctx context.Context, kind, id string) {
	if g.shared == nil {
		return
	}
	if _, err := g.store.DeleteDocument(ctx, fleetDeletedSet, kind+id); err != nil {
		g.log.Warn("fleet: the note of an earlier deletion could not be dropped; if Redis loses its data, it is not written back", "id", kind+id, "error", err)
	}
}

// checkFleetMark reloads when Redis lost the fleet's mark since this gateway read it (it is
// gone, or another took its place), so that a FLUSHALL
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
