package gateway

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

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
//     and the upstream TLS files tyk.conf names; and the client certificate and pinned key
//     files the definition names, per API: apiFilesChanged); the
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
func (g *Gateway) reusable(prev, snap *snapshot, id string, sum [32]byte) (*apiRuntime, bool) {
	if prev == nil || prev.deps != snap.deps {
		return nil, false
	}
	old, ok := prev.apis[id]
	// The same sum: the same definition, so the bundles old names are the entry's.
	if !ok || old.rawSum != sum || old.unavailable || old.plugins || old.hooks.any() || len(old.bundles) > 0 || g.filesChanged(old) {
		return nil, false
	}
	return old, true
}

// filesChanged reports whether a file a compiled API was made from has changed since: its body,
// webhook and error override templates, client CA files, the TLS files of its transports, its
// certificates.
func (g *Gateway) filesChanged(old *apiRuntime) bool {
	return old.traffic.bodies.FilesChanged() || old.mutualTLS().FilesChanged() || old.events.FilesChanged() ||
		old.errs != nil && old.errs.api.FilesChanged() ||
		old.rare != nil && (g.transports.apiFilesChanged(old.rare.tlsFiles) || g.certsChanged(&old.rare.certs))
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

// sumFiles writes to h what tyk.conf's upstream TLS files were last read as: the CA file's
// hash, and each client certificate and pinned public key file's hash or error. A definition's
// own files are checked per API (apiFilesChanged).
func (t *transports) sumFiles(h io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.Write(t.caSum[:])
	for _, f := range slices.Sorted(maps.Values(t.cfg.Security.Certificates.Upstream)) {
		if cc := t.certs[f]; cc != nil {
			fmt.Fprintf(h, "\x00%s\x00%x\x00%v", f, cc.sum, cc.err)
		}
	}
	h.Write([]byte{0xff})
	for _, f := range t.configPinFiles() {
		if pf := t.pins[f]; pf != nil {
			fmt.Fprintf(h, "\x00%s\x00%x\x00%v", f, pf.sum, pf.err)
		}
	}
}

// tlsFileSum is a file an API's transports were made from, and its content's hash then.
type tlsFileSum struct {
	file string
	pin  bool // a pinned public key file; else a client certificate
	sum  [32]byte
}

// apiFiles returns the files def itself names (upstream_certificates, pinned_public_keys) as
// the transports last read them, for apiFilesChanged.
func (t *transports) apiFiles(def *apidef.APIDefinition) []tlsFileSum {
	var out []tlsFileSum
	t.mu.Lock()
	defer t.mu.Unlock()
	if !def.UpstreamCertificatesDisabled {
		for _, f := range slices.Sorted(maps.Values(def.UpstreamCertificates)) {
			if cc := t.certs[f]; cc != nil {
				out = append(out, tlsFileSum{file: f, sum: cc.sum})
			}
		}
	}
	if !def.CertificatePinningDisabled {
		for _, list := range def.PinnedPublicKeys {
			entries, _ := apidef.PinnedKeys(list)
			for _, e := range entries {
				if pf := t.pins[e]; pf != nil {
					out = append(out, tlsFileSum{file: e, pin: true, sum: pf.sum})
				}
			}
		}
	}
	return out
}

// apiFilesChanged reports whether a file of files now holds other content than it did, as the
// last reload read it: the API is then compiled again, with transports made from the new one.
func (t *transports) apiFilesChanged(files []tlsFileSum) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range files {
		var sum [32]byte
		switch {
		case f.pin && t.pins[f.file] != nil:
			sum = t.pins[f.file].sum
		case !f.pin && t.certs[f.file] != nil:
			sum = t.certs[f.file].sum
		default:
			return true
		}
		if sum != f.sum {
			return true
		}
	}
	return false
}
