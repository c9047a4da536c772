package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/fleet"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// The document sets a fleet shares in Redis.
const (
	sharedAPIsSet     = "gatehouse-apis"
	sharedPoliciesSet = "gatehouse-policies"
)

// startFleet starts what a gateway on Redis tells the others and hears from them: the
// notifications. Without Redis it does nothing: a gateway on the memory store is alone.
func (g *Gateway) startFleet(connected bool) error {
	if g.cfg.Storage.Type != "redis" {
		return nil
	}
	var node *fleet.Node
	if secret := g.cfg.NotificationSecret(); secret == "" {
		g.log.Warn(config.NoNotificationSecret)
	} else {
		var err error
		node, err = fleet.New(fleet.Options{
			Bus:    g.store,
			Secret: secret,
			Logger: g.log,
			OnReload: func(string) {
				_ = g.Reload(context.Background(), false)
			},
			OnKeys: g.sessions.Forget,
			OnCacheFlush: func(apiID string) {
				if g.respLocal != nil {
					_, _ = g.respLocal.Flush(context.Background(), apiID)
					return
				}
				// A shared cache too, the sender may keep its cache in memory (another
				// cache_storage, or a release before the shared cache) and have flushed only its
				// own: beside the notifications' reader, which must not wait for a Redis write,
				// a few at once (a flush the slots cannot take is said in the log).
				select {
				case g.cacheFlushes <- struct{}{}:
				default:
					g.log.Warn("a flush of the shared response cache another gateway asked for was not made: too many under way", "api_id", apiID)
					return
				}
				go func() {
					defer func() { <-g.cacheFlushes }()
					ctx, cancel := context.WithTimeout(context.Background(), g.cfg.CacheStorageTimeout())
					defer cancel()
					if _, err := g.respCache.Flush(ctx, apiID); err != nil {
						g.log.Warn("could not flush the shared response cache another gateway asked to flush", "api_id", apiID, "error", err)
					}
				}()
			},
			OnJWKSFlush: func(apiID string) {
				_, _ = g.flushJWKS(apiID)
			},
			OnResync: func() {
				_ = g.Reload(context.Background(), false)
			},
		})
		if err != nil {
			return err
		}
		g.fleet = node
	}
	if d, ok := g.store.(interface{ DroppedMessages() int64 }); ok && g.prom != nil {
		var refused func() int64
		if node != nil {
			refused = func() int64 { return int64(node.Rejected()) }
		}
		g.prom.Fleet(refused, d.DroppedMessages)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.watchFleet(ctx, node)
	}()
	g.stopFleet = func() {
		cancel()
		wg.Wait()
	}
	if node == nil {
		return nil
	}
	if g.cfg.SuppressRedisSignalReload {
		g.log.Info("suppress_redis_signal_reload is set: notifications from other gateways are ignored")
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = node.Run(ctx)
	}()
	// Listening before the gateway serves, so that a group reload sent right after it started
	// reaches it; a Redis that does not answer is not waited for again.
	if connected {
		select {
		case <-node.Ready():
		case <-time.After(g.cfg.StorageTimeout()):
		}
	}
	return nil
}

// watchFleet, now and every fleet.AnnounceEvery until ctx ends: writes this node's
// announcement to the store, so that the status page of every node lists the fleet's nodes,
// and checks the fleet's mark (with node, nil without notifications); and reloads when the
// last reload could not read what the fleet shares while Redis answers (retrySharedRead). A
// store that does not answer is logged by the store; the next round tries again.
func (g *Gateway) watchFleet(ctx context.Context, node *fleet.Node) {
	host, _ := os.Hostname()
	t := time.NewTicker(fleet.AnnounceEvery)
	defer t.Stop()
	for {
		if node != nil {
			actx, cancel := context.WithTimeout(ctx, g.cfg.StorageTimeout())
			err := node.Announce(actx, g.store, fleet.Announcement{
				Version: g.version, Hostname: host, Started: g.startedAt.UnixMilli(), APIs: len(g.snap.Load().apis),
				Tags: g.cfg.Segment(),
			})
			switch {
			case errors.Is(err, fleet.ErrAnnouncementTooLarge):
				g.log.Warn("fleet: this node is not announced to the fleet's status pages", "error", err)
			case err != nil && ctx.Err() == nil:
				g.log.Debug("fleet: announcing this node failed", "error", err)
			}
			cancel()
			g.checkFleetMark(ctx)
		}
		g.retrySharedRead(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// retrySharedRead reloads when the snapshot could not read the definitions and policies the
// fleet shares although Redis answers (a key of the wrong type, a read slower than the
// timeout, a write-back that failed): nothing else would reload then, since storeUp reloads
// only when Redis comes back, and a gateway that never read them would stay unready (/ready).
func (g *Gateway) retrySharedRead(ctx context.Context) {
	if g.shared == nil || g.snap.Load().shared.problem == "" || ctx.Err() != nil {
		return
	}
	if p, ok := g.store.(storage.Prober); ok {
		if _, err := p.Probe(ctx); err != nil {
			return // storeUp reloads when it answers again
		}
	}
	g.log.Info("reloading: the last reload could not read what the fleet shares, and Redis answers")
	_ = g.Reload(ctx, true)
}

// storeUp is called when the Redis store connects, and when it answers again after an outage:
// what it shares may have changed meanwhile. A gateway that read the fleet's state at start
// has nothing to catch up on when it first connects; one still starting is left to started.
func (g *Gateway) storeUp(first bool) {
	g.mu.Lock()
	starting := !g.started
	g.upWhileStarting = g.upWhileStarting || starting
	g.mu.Unlock()
	if starting || first && g.snap.Load().shared.loaded {
		return
	}
	g.log.Info("reloading: Redis answers, and what the fleet shares may have changed")
	_ = g.Reload(context.Background(), false)
}

// started marks the end of New: from now on storeUp reloads. A store that connected while the
// first snapshot was being built, too late for it to read what the fleet shares, gets a
// reload now.
func (g *Gateway) markStarted() {
	g.mu.Lock()
	g.started = true
	up := g.upWhileStarting
	g.mu.Unlock()
	if up && !g.snap.Load().shared.loaded && g.shared != nil {
		_ = g.Reload(context.Background(), false)
	}
}

// sharedState is what a snapshot takes from the store: the fleet's definitions and policies.
type sharedState struct {
	apis     []apistore.Entry
	policies policy.Set
	// policySums are the SHA-256 of each stored policy the policies were decoded from, by id,
	// and policySum one sum of them all: a stored policy whose bytes did not change is not
	// decoded again, and the same stored policies give the same sum (Gateway.dependencies).
	policySums map[string][32]byte
	policySum  [32]byte
	// policyDocs are the stored policies' bytes, by id: what a gateway writes back when Redis
	// lost them (fleetmark.go).
	policyDocs map[string][]byte
	loaded     bool   // read from the store for this snapshot (or an earlier one)
	problem    string // why they could not be read this time, "" when they were
	// elsewhere counts the definitions left to the gateways of other segments (inSegment).
	elsewhere int
}

// loadShared reads the fleet's definitions and policies, and returns them with the
// definitions' entries to compile. When the store cannot be reached it keeps what the previous
// snapshot had: a Redis outage must not take down what serves. The state keeps the entries
// without their decoded definitions (apistore.Entry.Undecoded): a snapshot holds them until the
// next reload, and with thousands of shared APIs decoded definitions would be most of the heap
// (TestSharedAPIMemory); an API compiled before is reused by its bytes' sum, and one compiled
// again decodes its bytes.
func (g *Gateway) loadShared(prev *snapshot) (sharedState, []apistore.Entry) {
	if g.shared == nil {
		return sharedState{}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*g.cfg.StorageTimeout())
	defer cancel()
	var before sharedState
	if prev != nil {
		before = prev.shared
	}
	read := func() ([]apistore.Entry, sharedState, error) {
		st := sharedState{loaded: true}
		apis, err := g.shared.Load(ctx)
		if err == nil {
			st.policies, st.policySums, st.policySum, st.policyDocs, err = g.sharedPolicies(ctx, before)
		}
		return apis, st, err
	}
	// The mark first: a gateway writing back what Redis lost writes the mark last, so sets
	// read after the mark are whole.
	mark := g.readFleetMark(ctx)
	var err error
	if mark.state == markLost {
		if before.loaded {
			// Redis lost what the fleet stored: what this gateway served goes back, with
			// whatever was stored since. If it could not, what it served keeps serving, for
			// the next reload to write back.
			if !g.restoreShared(ctx, before, mark.doc) {
				err = errors.New("Redis lost what the fleet stored, and writing it back failed")
			}
		} else if mark.doc != nil {
			g.adoptMark(mark.doc.ID) // nothing served to write back
		}
	}
	var apis []apistore.Entry
	var st sharedState
	if err == nil {
		apis, st, err = read()
	}
	if err == nil && mark.state == markMissing && (len(apis) > 0 || len(st.policyDocs) > 0) {
		g.putFleetMark(ctx)
	}
	if err == nil {
		st.apis = make([]apistore.Entry, len(apis))
		for i, e := range apis {
			st.apis[i] = e.Undecoded()
		}
		serve := g.inSegment(apis)
		st.elsewhere = len(apis) - len(serve)
		return st, serve
	}
	// /hello is public: the reason, which names where Redis is, goes to the log only.
	st = sharedState{problem: "the definitions and policies the fleet shares could not be read from Redis, "}
	if prev != nil && prev.shared.loaded {
		st = prev.shared
		st.problem = "the definitions and policies the fleet shares could not be read from Redis, " +
			fmt.Sprintf("so what was read before stays as it was: %d definitions (each served or reported as then) and %d policies", len(st.apis), len(st.policies))
	} else {
		st.problem += "so none serve until Redis answers"
	}
	g.log.Warn(st.problem, "error", err)
	return st, g.inSegment(st.apis)
}

// inSegment returns the shared definitions this gateway serves: all of them, unless it is
// segmented (db_app_conf_options.node_is_segmented), when it serves those with a tag of its own
// and leaves the others to the gateways of their segments. They are still the fleet's: the
// snapshot keeps them all (sharedState.apis), to write back what Redis lost and to check that a
// new definition's listen path is free. One that does not decode is kept: its tags are unknown,
// and /hello reports it.
func (g *Gateway) inSegment(entries []apistore.Entry) []apistore.Entry {
	segment := g.cfg.Segment()
	if segment == nil {
		return entries
	}
	out := make([]apistore.Entry, 0, len(entries))
	for _, e := range entries {
		if e.Err != nil || tagged(e.Head.Tags(), segment) {
			out = append(out, e)
		}
	}
	return out
}

// tagged reports whether tags hold one of segment's.
func tagged(tags, segment []string) bool {
	for _, t := range tags {
		if slices.Contains(segment, t) {
			return true
		}
	}
	return false
}

// sharedPolicies reads the policies stored through the Gateway API, with the sum of each
// stored policy, one of them all, and their bytes. A policy whose stored bytes are those before (what the
// previous snapshot read) is not decoded again: before's object is kept.
func (g *Gateway) sharedPolicies(ctx context.Context, before sharedState) (policy.Set, map[string][32]byte, [32]byte, map[string][]byte, error) {
	docs, err := g.store.Documents(ctx, sharedPoliciesSet)
	if err != nil {
		return nil, nil, [32]byte{}, nil, fmt.Errorf("reading the shared policies: %w", err)
	}
	set := policy.Set{}
	sums := make(map[string][32]byte, len(docs))
	all := sha256.New()
	for _, id := range slices.Sorted(maps.Keys(docs)) {
		raw := docs[id]
		sum := sha256.Sum256(raw)
		sums[id] = sum
		fmt.Fprintf(all, "%d:%s", len(id), id)
		all.Write(sum[:])
		if p, ok := before.policies[id]; ok && before.policySums[id] == sum {
			set[id] = p
			continue
		}
		var p apidef.Policy
		if err := json.Unmarshal(raw, &p); err != nil || p.ID != id {
			g.log.Error("a policy stored in Redis is not valid and is ignored", "policy_id", id, "error", err)
			continue
		}
		set[id] = &p
	}
	var total [32]byte
	all.Sum(total[:0])
	return set, sums, total, docs, nil
}

// mergePolicies adds the fleet's policies to the file's: on the same id the file wins, as
// files do for definitions. It returns the ids of the stored policies left out.
func mergePolicies(file, shared policy.Set) (policy.Set, []string) {
	if len(shared) == 0 {
		// Nothing stored (every gateway on the memory store): the file's set, kept across
		// reloads while the file is unchanged, serves as it is rather than copied.
		return file, nil
	}
	var shadowed []string
	out := make(policy.Set, len(file)+len(shared))
	for id, p := range shared {
		if _, inFile := file[id]; inFile {
			shadowed = append(shadowed, id)
			continue
		}
		out[id] = p
	}
	for id, p := range file {
		out[id] = p
	}
	slices.Sort(shadowed)
	return out, shadowed
}

// GroupReload reloads this gateway and, with Redis, tells every other gateway sharing it to
// reload too. It returns an error when the others could not be told (this one still reloads).
func (g *Gateway) GroupReload(ctx context.Context) error {
	err := g.Reload(ctx, false)
	if terr := g.tellOthers(ctx, "reloaded", fleet.GroupReload, ""); terr != nil {
		return terr
	}
	return err
}

// tellOthers publishes command to the other gateways sharing this one's Redis, after this one
// did what it asks (done says what, for the error); nothing with the memory store.
func (g *Gateway) tellOthers(ctx context.Context, done, command, payload string) error {
	if g.cfg.Storage.Type != "redis" {
		return nil
	}
	if g.fleet == nil {
		return errors.New("this gateway " + done + ", but could not tell the others: " + config.NoNotificationSecret)
	}
	if err := g.fleet.Publish(ctx, command, payload); err != nil {
		return fmt.Errorf("this gateway %s, but the others were not told: %w", done, err)
	}
	return nil
}

// KeysChanged tells the other gateways that keys changed, so that they drop what they decoded
// of them. With Redis their cached copies are already invalidated by Redis itself; this is
// Tyk's KeySpaceUpdateNotification, for the decoded sessions each node keeps.
func (g *Gateway) KeysChanged(ctx context.Context, hashes []string) {
	if g.fleet == nil || len(hashes) == 0 {
		return
	}
	if err := g.fleet.Publish(ctx, fleet.KeySpaceUpdate, strings.Join(hashes, ",")); err != nil {
		g.log.Warn("could not tell the other gateways that keys changed; Redis invalidates their cached copies anyway", "error", err)
	}
}

// storeHealth reports the store for /hello: for Redis its state and round-trip time, and what
// the fleet shares; for memory, that it is the memory store. down reports that Redis does not
// answer.
// report adds a warning (public: its output names nothing internal, see admin.PublicHealth).
func (g *Gateway) storeHealth(ctx context.Context, snap *snapshot, now string, report func(key, kind, out string, public bool)) (details map[string]admin.Detail, down bool) {
	details = map[string]admin.Detail{}
	p, ok := g.store.(storage.Prober)
	if !ok {
		details["store"] = admin.Detail{Status: admin.StatusPass, ComponentType: "datastore", Output: g.storeName(), Time: now, Public: true}
		return details, false
	}
	// /hello is public: it says whether Redis answers and how fast, never where it is or the
	// raw error (the log has both).
	rtt, err := p.Probe(ctx)
	down = err != nil
	if err != nil {
		details["redis"] = admin.Detail{Status: admin.StatusFail, ComponentType: "datastore", Time: now, Public: true,
			Output: "Redis does not answer (the log says why); " + g.storeDownEffect()}
	} else if r, ok := p.(storage.Refuser); ok && r.Refusing() != nil {
		down = true
		details["redis"] = admin.Detail{Status: admin.StatusWarn, ComponentType: "datastore", Time: now, Public: true,
			Output: "Redis answers but refuses what the gateway asks (out of memory, or a read-only replica: the log says which and what to do); " + g.storeDownEffect()}
	} else {
		details["redis"] = admin.Detail{Status: admin.StatusPass, ComponentType: "datastore", Time: now, Public: true,
			Output: fmt.Sprintf("Redis answers: round trip %v", rtt.Round(time.Microsecond))}
	}
	if snap.shared.problem != "" {
		report("shared_definitions", "datastore", snap.shared.problem, false)
	}
	if g.cfg.Segment() != nil {
		// Public: the counts, not the tags (the status page names them).
		all, elsewhere := len(snap.shared.apis), snap.shared.elsewhere
		out := fmt.Sprintf("segmented (db_app_conf_options): %d of the %d definitions the fleet shares are not tagged for this gateway and not served here",
			elsewhere, all)
		if all > 0 && elsewhere == all {
			// Most likely a tag spelt otherwise here than in the definitions (tags are compared
			// exactly): say so where it is seen.
			report("segment", "system", out+"; none is: check db_app_conf_options.tags against the definitions' tags, which are compared exactly (case included)", true)
		} else {
			details["segment"] = admin.Detail{Status: admin.StatusPass, ComponentType: "system", Time: now, Output: out, Public: true}
		}
	}
	if len(snap.shadowedPolicies) > 0 {
		report("shared_policies", "datastore", "policies stored in Redis are not used on this gateway, whose policies file has the same ids (files win): "+strings.Join(snap.shadowedPolicies, ", "), false)
	}
	switch {
	case g.fleet == nil:
		report("notifications", "system", config.NoNotificationSecret, true)
	case g.cfg.SuppressRedisSignalReload:
		details["notifications"] = admin.Detail{Status: admin.StatusPass, ComponentType: "system", Time: now, Public: true,
			Output: "notifications from other gateways are ignored (suppress_redis_signal_reload)"}
	default:
		// Which setting signs them (its name, never its value), as the start-up log says.
		which := "node_secret"
		if strings.TrimSpace(g.cfg.NodeSecret) == "" {
			which = "secret (node_secret is empty)"
		}
		out := "signed with " + which + " on " + fleet.Channel
		if n := g.fleet.Rejected(); n > 0 {
			out += fmt.Sprintf("; %d refused (bad signature, replayed or too old)", n)
		}
		subscribed := true
		select {
		case <-g.fleet.Ready():
		default:
			subscribed = false
		}
		switch {
		case down:
			// A frozen Redis keeps the subscription's connection open: nothing tells it from a
			// quiet channel but the store's probe.
			report("notifications", "system", "Redis does not answer: notifications from other gateways are not received, nor this gateway's sent, until it does; "+out, true)
		case !subscribed:
			report("notifications", "system", "not subscribed yet: notifications from other gateways are not received until Redis takes the subscription; "+out, true)
		default:
			details["notifications"] = admin.Detail{Status: admin.StatusPass, ComponentType: "system", Time: now, Output: out, Public: true}
		}
	}
	return details, down
}

// FlushCache drops the responses cached for apiID: in the Redis the fleet shares, or on this
// gateway, telling the others with Redis to drop theirs (Tyk's DeleteAPICache). It returns how
// many this gateway held (0 for a shared cache, which does not count them), and an error when
// the flush or the others could not be told.
func (g *Gateway) FlushCache(ctx context.Context, apiID string) (int, error) {
	n, err := g.respCache.Flush(ctx, apiID)
	if err != nil {
		return 0, fmt.Errorf("the shared response cache did not answer: %w", err)
	}
	return n, g.tellOthers(ctx, "flushed its cache", fleet.DeleteAPICache, apiID)
}

// FlushJWKS drops the JWKS keys an API's JWT auth uses ("": every API's), and so its verified
// tokens, here and, with Redis, on every gateway: the next token fetches them afresh (Tyk's
// DELETE /tyk/cache/jwks). It returns how many sets this gateway dropped; admin.ErrNotServed
// when no API of that id is served here.
func (g *Gateway) FlushJWKS(ctx context.Context, apiID string) (int, error) {
	if apiID == flushAllJWKS {
		return 0, admin.ErrNotServed // no API has that id; the whole cache is "" here
	}
	n, err := g.flushJWKS(apiID)
	if err != nil {
		return 0, err
	}
	payload := apiID
	if payload == "" {
		payload = flushAllJWKS
	}
	return n, g.tellOthers(ctx, "flushed its JWKS", fleet.FlushJWKS, payload)
}

// flushAllJWKS is the payload of a notification to flush every API's JWKS (no api_id is "*":
// apidef refuses it).
const flushAllJWKS = "*"

// flushJWKS flushes apiID's JWKS here ("" or flushAllJWKS: every API's).
func (g *Gateway) flushJWKS(apiID string) (int, error) {
	if apiID == "" || apiID == flushAllJWKS {
		return g.jwks.Flush(nil, true), nil
	}
	snap := g.snap.Load()
	if snap == nil {
		return 0, admin.ErrNotServed
	}
	rt, ok := snap.apis[apiID]
	if !ok {
		return 0, admin.ErrNotServed
	}
	var keys []string // none for an API without JWKS: nothing is flushed
	if rt.authn != nil && rt.authn.jwt != nil {
		keys = rt.authn.jwt.JWKSKeys()
	}
	return g.jwks.Flush(keys, false), nil
}
