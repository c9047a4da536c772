package gateway

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
)

// A reload with thousands of APIs spends most of its time decoding definitions and compiling
// them, though usually one of them, or none, changed. So a reload decodes only the files whose
// content changed (apistore.LoadMemo) and reuses, from the snapshot serving, every compiled API
// whose result cannot differ from a new compile's:
//
//   - its definition is the same, byte for byte (entrySum: the Classic definition and, for an
//     OAS API, its document);
//   - what its compile read besides the definition is the same (dependencies: the policies,
//     and the upstream CA file, client certificates and pinned keys its transports were made with); the
//     rest is the static configuration, read once at start;
//   - it has no plugin of any kind and names no bundle: a plugin file can change under the
//     same path (a hot update), and a bundle or a source plugin can become available, so such
//     an API is compiled again on every reload, as before;
//   - it is not a stand-in answering 503;
//   - the body transform templates it read from files (template_mode "file", in app_path) hold
//     what they held when it was compiled (their SHA-256, read again on every reload): a file
//     that changed, or went, under the same name has it compiled again. The transforms are the
//     only part of a compile that reads a file of its own (an OAS document is part of the
//     definition).
//
// A compiled API is immutable once built, so the old snapshot and the new one can share it
// while requests in flight finish on the old one.

// recheck is check for a reload, on an entry whose entrySum is sum. An entry the previous
// snapshot's API of the same id was compiled from, byte for byte (its rawSum), passed the checks
// that depend on the definition alone then, and would again: it is not decoded to run them. Only
// the loop check, which depends on the port listened on, runs again, and only when that port is
// not the one it was made against. Every other entry is decoded and checked. It returns the
// definition when it decoded it, nil otherwise.
func (g *Gateway) recheck(prev *snapshot, e apistore.Entry, sum [32]byte) (*apidef.APIDefinition, error) {
	if e.Err != nil {
		return nil, e.Err
	}
	old, ok := prevAPI(prev, e.Head.APIID)
	if !ok || old.rawSum != sum {
		return g.check(e)
	}
	if old.loopPort == g.loopPort() {
		return nil, nil
	}
	def := e.Def()
	if def == nil {
		return nil, errNotDecoded
	}
	return def, g.checkLoop(def)
}

// errNotDecoded is what an entry that decoded before and no longer does is refused with: not
// reached, since its bytes are the same, but said rather than hidden.
var errNotDecoded = errors.New("the definition no longer decodes")

// reusable returns the previous snapshot's compiled API of id when it may serve in snap
// unchanged, for an entry whose entrySum is sum.
func reusable(prev, snap *snapshot, id string, sum [32]byte) (*apiRuntime, bool) {
	if prev == nil || prev.deps != snap.deps {
		return nil, false
	}
	old, ok := prev.apis[id]
	// The same sum: the same definition, so the bundles old names are the entry's.
	if !ok || old.rawSum != sum || old.unavailable || old.plugins || old.hooks.any() || old.traffic.bodies.FilesChanged() || old.mutualTLS().FilesChanged() || old.events.FilesChanged() || len(old.bundles) > 0 {
		return nil, false
	}
	return old, true
}

// dependencies identifies what compiling an API reads besides its definition and the static
// configuration: the policies (auth steps and plugins' environment hold them), by the sums of
// what they were decoded from (the policies file's content, and the fleet's stored policies),
// and the upstream TLS files as the transports last read them.
func (g *Gateway) dependencies(policyFile, sharedPolicies [32]byte) [32]byte {
	h := sha256.New()
	h.Write(policyFile[:])
	h.Write(sharedPolicies[:])
	g.transports.sumFiles(h)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// sumFiles writes to h what the transports were last made from: the CA file's hash, and each
// client certificate and pinned public key file's hash or error.
func (t *transports) sumFiles(h io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.Write(t.caSum[:])
	files := make([]string, 0, len(t.certs))
	for f := range t.certs {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		cc := t.certs[f]
		fmt.Fprintf(h, "\x00%s\x00%x\x00%v", f, cc.sum, cc.err)
	}
	h.Write([]byte{0xff})
	for _, f := range slices.Sorted(maps.Keys(t.pins)) {
		pf := t.pins[f]
		fmt.Fprintf(h, "\x00%s\x00%x\x00%v", f, pf.sum, pf.err)
	}
}
