package gateway

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/apistore"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/policy"
)

// A reload with thousands of APIs spends most of its time decoding definitions and compiling
// them, though usually one of them, or none, changed. So a reload decodes only the files whose
// content changed (apistore.LoadMemo) and reuses, from the snapshot serving, every compiled API
// whose result cannot differ from a new compile's:
//
//   - its definition is the same, byte for byte (entrySum: the Classic definition and, for an
//     OAS API, its document);
//   - what its compile read besides the definition is the same (dependencies: the policies,
//     and the upstream CA file and client certificates its transports were made with); the
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

// recheck is check for a reload: an entry whose decoded definition the previous snapshot serves
// (apistore.LoadMemo shares it while its file is unchanged) passed the checks that depend on the
// definition alone then, and would again; only the loop check, which depends on the listener,
// runs again.
func (g *Gateway) recheck(prev *snapshot, e apistore.Entry) (*apidef.APIDefinition, error) {
	if e.Err != nil || e.Def == nil {
		return g.check(e)
	}
	if old, ok := prevAPI(prev, e.Def.APIID); !ok || old.def != e.Def {
		return g.check(e)
	}
	if err := g.checkLoop(e.Def); err != nil {
		return nil, err
	}
	return e.Def, nil
}

// reusable returns the previous snapshot's compiled API for def when it may serve in snap
// unchanged.
func reusable(prev, snap *snapshot, def *apidef.APIDefinition, sum [32]byte) (*apiRuntime, bool) {
	if prev == nil || prev.deps != snap.deps {
		return nil, false
	}
	old, ok := prev.apis[def.APIID]
	if !ok || old.rawSum != sum || old.unavailable || old.plugins || old.hooks.any() || old.traffic.bodies.FilesChanged() {
		return nil, false
	}
	if !def.CustomMiddlewareBundleDisabled && len(bundle.Names(def.CustomMiddlewareBundle)) > 0 {
		return nil, false
	}
	return old, true
}

// dependencies identifies what compiling an API reads besides its definition and the static
// configuration: the policies (auth steps and plugins' environment hold them) and the upstream
// TLS files as the transports last read them.
func (g *Gateway) dependencies(pols policy.Set) ([32]byte, error) {
	h := sha256.New()
	// encoding/json writes a map's keys sorted: the same policies give the same bytes.
	if err := json.NewEncoder(h).Encode(pols); err != nil {
		return [32]byte{}, fmt.Errorf("encoding the policies: %w", err)
	}
	g.transports.sumFiles(h)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, nil
}

// sumFiles writes to h what the transports were last made from: the CA file's hash and each
// client certificate file's hash or error.
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
}
