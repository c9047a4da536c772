package gateway

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/internal/storage"
	"github.com/gatehouse/gatehouse/internal/tlsconf"
)

// transports holds the upstream transports: one per distinct set of settings, so that every API
// without overrides shares one, and an API's own settings (proxy.transport) get a transport of
// their own. They are made when a snapshot is built, never per request, and kept across
// reloads while a snapshot uses them; the others have their idle connections closed.
type transports struct {
	cfg *config.Config
	log *slog.Logger
	// read reads a client certificate or pinned key reference: a file, or an id of the
	// certificate store (Gateway.readCert).
	read func(ref string) ([]byte, error)
	// base holds the settings from tyk.conf; lo, hi and ciphers are resolved.
	base proxy.TransportOptions

	mu sync.Mutex
	m  map[transportKey]*http.Transport
	// building counts the builds under way (a reload's snapshot, an API's discovered
	// targets), which may hold transports no snapshot serves yet: prune waits for none.
	building int
	// ca is proxy_ssl_ca_file as last read successfully: the system's roots and its
	// certificates (nil: the system's roots alone); caSum is its content's hash.
	ca    *x509.CertPool
	caSum [32]byte
	// certs are the client certificate files (security.certificates.upstream and the
	// definitions' upstream_certificates) by path, as last read successfully; pins the public
	// key files of pinned_public_keys likewise. Both are read again on every reload, and keep
	// only what the configuration and the transports in use name.
	certs map[string]*tlsFile[*tls.Certificate]
	pins  map[string]*tlsFile[[][32]byte]
}

// tlsFile is a file of certificates or keys as last read successfully: its content's hash
// and what it was parsed to, or why it cannot be used (err, when it never could).
type tlsFile[T any] struct {
	sum [32]byte
	val T
	err error
}

// transportKey is everything that tells two transports apart.
type transportKey struct {
	insecure   bool
	commonName string // ssl_force_common_name_check: the one host the transport serves
	lo, hi     uint16
	ciphers    string
	noReneg    bool
	http2, h2c bool
	proxyURL   string
	clientCert string
	certSum    [32]byte
	caSum      [32]byte
	// pins are the pinned fingerprints, sorted, in hex; pinFiles the files they were read
	// from, joined by NUL.
	pins, pinFiles string
	pinHost        string
}

// newTransports loads the upstream CA file and client certificates the configuration names; a
// file that cannot be read or parsed is an error. read reads the references to client
// certificates and pinned keys (nil: tlsconf.ReadPEMFile, files only).
func newTransports(cfg *config.Config, log *slog.Logger, read func(string) ([]byte, error)) (*transports, error) {
	lo, hi, ciphers := cfg.UpstreamTLS()
	if read == nil {
		read = tlsconf.ReadPEMFile
	}
	t := &transports{
		cfg:  cfg,
		log:  log,
		read: read,
		base: proxy.TransportOptions{
			ResponseHeaderTimeout: cfg.ProxyTimeout(),
			InsecureSkipVerify:    cfg.ProxySSLInsecureSkipVerify,
			MinVersion:            lo,
			MaxVersion:            hi,
			CipherSuites:          ciphers,
			DisableRenegotiation:  cfg.ProxySSLDisableRenegotiation,
			HTTP2:                 cfg.ProxyEnableHTTP2,
		},
		m:     map[transportKey]*http.Transport{},
		certs: map[string]*tlsFile[*tls.Certificate]{},
		pins:  map[string]*tlsFile[[][32]byte]{},
	}
	if err := t.refresh(true); err != nil {
		return nil, err
	}
	if cfg.ProxySSLInsecureSkipVerify {
		log.Warn("proxy_ssl_insecure_skip_verify is true: no upstream's TLS certificate is checked, so anyone on the path to an upstream can read and change what it is sent")
	}
	return t, nil
}

// refresh re-reads the CA file, the client certificates and the pinned public key files, so
// that a reload picks up renewed files. A file that became unreadable or invalid keeps its last
// good content (logged), unless strict (at start), when a file tyk.conf names is an error.
func (t *transports) refresh(strict bool) error {
	var errs []error
	if f := t.cfg.ProxySSLCAFile; f != "" {
		pool, sum, err := loadCAFile(f)
		t.mu.Lock()
		switch {
		case err == nil:
			t.ca, t.caSum = pool, sum
		case strict:
			errs = append(errs, fmt.Errorf("proxy_ssl_ca_file: %w", err))
		default:
			t.log.Error("proxy_ssl_ca_file cannot be used; upstreams keep the CAs last read", "file", f, "error", err)
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	certFiles := slices.Collect(maps.Keys(t.certs))
	pinFiles := slices.Collect(maps.Keys(t.pins))
	t.mu.Unlock()
	// A certificate store that cannot be reached stops no start: the APIs needing what it
	// holds are refused until it answers, when the gateway reloads.
	strictly := func(err error) bool { return err != nil && strict && !errors.Is(err, storage.ErrUnavailable) }
	for domain, f := range t.cfg.Security.Certificates.Upstream {
		if _, err := t.clientCert(f, true); strictly(err) {
			errs = append(errs, fmt.Errorf("security.certificates.upstream[%q]: %w", domain, err))
		}
	}
	for domain, list := range t.cfg.Security.PinnedPublicKeys {
		if _, _, err := t.pinsOf(list, true); strictly(err) {
			errs = append(errs, fmt.Errorf("security.pinned_public_keys[%q]: %w", domain, err))
		}
	}
	// The definitions' own files; tyk.conf's were read just above.
	for _, f := range certFiles {
		if !slices.Contains(slices.Collect(maps.Values(t.cfg.Security.Certificates.Upstream)), f) {
			_, _ = t.clientCert(f, true)
		}
	}
	for _, f := range pinFiles {
		if !slices.Contains(t.configPinFiles(), f) {
			_, _ = t.pinFile(f, true)
		}
	}
	return errors.Join(errs...)
}

// clientCert returns the client certificate of a PEM file holding it and its private key, as
// readFile reads it.
func (t *transports) clientCert(f string, reread bool) (*tlsFile[*tls.Certificate], error) {
	cc, err := readFile(t, t.certs, f, reread, "upstream client certificate", func(data []byte) (*tls.Certificate, error) {
		cert, err := tls.X509KeyPair(data, data)
		if err != nil {
			// crypto/tls's reasons may name the file's block types: what it holds is no one's
			// business on /hello.
			why := "it holds no PEM certificate with its private key"
			if strings.Contains(err.Error(), "does not match") {
				why = "its private key does not match its certificate"
			}
			return nil, fmt.Errorf("%s: a PEM file holding a certificate and its private key is needed: %s", f, why)
		}
		return &cert, nil
	})
	return cc, err
}

// readFile returns file f of cache m parsed, reading it when reread or when it was never read.
// A file that cannot be used now but could before keeps its last good content, with an error
// logged naming what it is; a certificate removed from the certificate store does not: its
// removal is meant.
func readFile[T any](t *transports, m map[string]*tlsFile[T], f string, reread bool, what string, parse func([]byte) (T, error)) (*tlsFile[T], error) {
	t.mu.Lock()
	old := m[f]
	t.mu.Unlock()
	if old != nil && !reread {
		return old, old.err
	}
	data, err := t.read(f)
	sum := sha256.Sum256(data)
	if err == nil && old != nil && old.sum == sum && old.err == nil {
		return old, nil
	}
	var v T
	if err == nil {
		v, err = parse(data)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		e := &tlsFile[T]{sum: sum, val: v}
		m[f] = e
		return e, nil
	case old != nil && old.err == nil && !errors.Is(err, certstore.ErrNotFound):
		t.log.Error(what+" file cannot be used; its content last read stays", "file", f, "error", err)
		return old, nil
	default:
		e := &tlsFile[T]{err: err}
		if errors.Is(err, certstore.ErrNotFound) && !errors.Is(err, certstore.ErrUnknownID) {
			// Told apart from an id read as its fingerprint (zero), so that a removal through
			// this gateway compiles the APIs naming it again (apiFilesChanged).
			e.sum[0] = 1
		}
		m[f] = e
		return nil, err
	}
}

// pinsOf returns the fingerprints a pinned_public_keys list names, sorted and without
// duplicates, and the files among its entries.
func (t *transports) pinsOf(list string, reread bool) ([][32]byte, []string, error) {
	entries, err := apidef.PinnedKeys(list)
	if err != nil {
		return nil, nil, err
	}
	var pins [][32]byte
	var files, absent []string
	for _, e := range entries {
		if fp, ok := apidef.PinFingerprint(e); ok {
			// An id of the certificate store: the key of the entry it names (a certificate's
			// too), and else, as before a store held it, the fingerprint it ends with.
			if certstore.IsID(e) {
				pf, err := t.pinFile(e, reread)
				// Watched either way: a key the store gets later is taken at the next reload.
				files = append(files, e)
				switch {
				case err == nil:
					pins = append(pins, pf.val...)
					continue
				case errors.Is(err, certstore.ErrUnknownID):
					// The fingerprint it ends with, below.
				case errors.Is(err, certstore.ErrNotFound):
					// Removed, or never added to a store the fleet shares: it pins nothing.
					absent = append(absent, e)
					continue
				default:
					return nil, nil, err
				}
			}
			var sum [32]byte
			hex.Decode(sum[:], []byte(fp)) // 64 hex digits
			pins = append(pins, sum)
			continue
		}
		pf, err := t.pinFile(e, reread)
		if err != nil {
			return nil, nil, err
		}
		pins = append(pins, pf.val...)
		files = append(files, e)
	}
	if len(pins) == 0 {
		// Pinning nothing would check nothing: no upstream is reached.
		return nil, nil, fmt.Errorf("no pinned key can be used: the certificate store holds none of %s", strings.Join(absent, ", "))
	}
	slices.SortFunc(pins, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(pins), files, nil
}

// pinFile returns the fingerprints of a PEM file of public keys or certificates, as readFile
// reads it.
func (t *transports) pinFile(f string, reread bool) (*tlsFile[[][32]byte], error) {
	pf, err := readFile(t, t.pins, f, reread, "pinned public key", func(data []byte) ([][32]byte, error) {
		pins, err := PublicKeyPins(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if certstore.InStore(f) {
			// A store entry names its first certificate (or its public key): the CAs of the
			// chain stored with it are not pinned.
			pins = pins[:1]
		}
		return pins, nil
	})
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (a pinned public key is a SHA-256 fingerprint of 64 hex digits, or a PEM file)", err)
	}
	return pf, err
}

// PublicKeyPins returns the SHA-256 fingerprints of the public keys in PEM data: of each PUBLIC
// KEY block's bytes (a DER SubjectPublicKeyInfo, as Tyk takes it), and of each CERTIFICATE's
// public key. Other blocks are skipped; data with neither is an error.
func PublicKeyPins(data []byte) ([][32]byte, error) {
	var out [][32]byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "PUBLIC KEY":
			if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
				return nil, fmt.Errorf("public key %d: %w", len(out)+1, err)
			}
			out = append(out, sha256.Sum256(b.Bytes))
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certificate: %w", err)
			}
			out = append(out, sha256.Sum256(c.RawSubjectPublicKeyInfo))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("holds no PEM public key or certificate")
	}
	return out, nil
}

// loadCAFile returns the system's roots with the certificates of a PEM file added.
func loadCAFile(file string) (*x509.CertPool, [32]byte, error) {
	data, err := tlsconf.ReadPEMFile(file)
	if err != nil {
		return nil, [32]byte{}, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, [32]byte{}, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, sha256.Sum256(data), nil
}

// forTarget returns the transport an API forwards to target on: its proxy.transport settings
// over tyk.conf's, field by field. Settings that cannot work (an unknown cipher, versions out
// of order) are an error, which refuses the definition.
func (t *transports) forTarget(def *apidef.APIDefinition, target *url.URL) (http.RoundTripper, error) {
	o := t.base
	tr := def.Proxy.Transport
	o.InsecureSkipVerify = o.InsecureSkipVerify || tr.SSLInsecureSkipVerify
	if tr.SSLMinVersion != 0 || tr.SSLMaxVersion != 0 {
		lo, hi := t.cfg.ProxySSLMinVersion, t.cfg.ProxySSLMaxVersion
		if tr.SSLMinVersion != 0 {
			lo = int(tr.SSLMinVersion)
		}
		if tr.SSLMaxVersion != 0 {
			hi = int(tr.SSLMaxVersion)
		}
		var err error
		if o.MinVersion, o.MaxVersion, err = tlsconf.ResolveVersions(lo, hi, "proxy.transport.ssl_min_version", "proxy.transport.ssl_max_version"); err != nil {
			return nil, err
		}
	}
	if len(tr.SSLCipherSuites) > 0 {
		ids, _, err := tlsconf.CipherSuites(tr.SSLCipherSuites, "proxy.transport.ssl_ciphers")
		if err != nil {
			return nil, err
		}
		o.CipherSuites = ids
	}
	key := transportKey{proxyURL: tr.ProxyURL}
	if tr.ProxyURL != "" {
		u, err := url.Parse(tr.ProxyURL)
		if err != nil {
			return nil, errors.New("proxy.transport.proxy_url is not a URL")
		}
		o.ProxyURL = u
	}
	switch strings.ToLower(target.Scheme) {
	case "h2c":
		// Cleartext: the TLS settings do not apply.
		key.h2c, o.H2C = true, true
	case "https":
		host := strings.ToLower(target.Hostname())
		if tr.SSLForceCommonNameCheck {
			o.CommonName, key.commonName = host, host
		}
		t.mu.Lock()
		o.RootCAs, key.caSum = t.ca, t.caSum
		t.mu.Unlock()
		port := target.Port()
		if port == "" {
			port = "443" // an entry for the host with :443 applies to https://host too
		}
		apiCerts, apiPins := def.UpstreamCertificates, def.PinnedPublicKeys
		if def.UpstreamCertificatesDisabled {
			apiCerts = nil
		}
		if def.CertificatePinningDisabled {
			apiPins = nil
		}
		if f := apidef.ForUpstreamHost(host, port, t.cfg.Security.Certificates.Upstream, apiCerts); f != "" {
			cc, err := t.clientCert(f, false)
			if err != nil {
				return nil, fmt.Errorf("the upstream client certificate for %s (upstream_certificates, security.certificates.upstream) cannot be used: %w", host, err)
			}
			o.ClientCert, key.clientCert, key.certSum = cc.val, f, cc.sum
		}
		if list := apidef.ForUpstreamHost(host, port, t.cfg.Security.PinnedPublicKeys, apiPins); list != "" {
			pins, files, err := t.pinsOf(list, false)
			if err != nil {
				return nil, fmt.Errorf("the pinned public keys for %s (pinned_public_keys, security.pinned_public_keys): %w", host, err)
			}
			o.Pins, o.PinHost, key.pinHost = pins, host, host
			hexes := make([]string, len(pins))
			for i, p := range pins {
				hexes[i] = hex.EncodeToString(p[:])
			}
			key.pins, key.pinFiles = strings.Join(hexes, ","), strings.Join(files, "\x00")
		}
		key.insecure, key.lo, key.hi, key.noReneg, key.http2 = o.InsecureSkipVerify, o.MinVersion, o.MaxVersion, o.DisableRenegotiation, o.HTTP2
		key.ciphers = fmt.Sprint(o.CipherSuites)
	default:
		// Plain HTTP: one transport whatever the TLS settings, which do not apply. Pins the
		// definition wrote for this host would protect nothing: said, not silently dropped.
		if !def.CertificatePinningDisabled && apidef.ForUpstreamHost(target.Hostname(), target.Port(), def.PinnedPublicKeys) != "" {
			t.log.Warn("pinned_public_keys name the host of a target that is not https: the upstream is reached without TLS, so no key is checked",
				"api_id", def.APIID, "target", target.Scheme+"://"+target.Host)
		}
		o = proxy.TransportOptions{ResponseHeaderTimeout: o.ResponseHeaderTimeout, ProxyURL: o.ProxyURL}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rt, ok := t.m[key]
	if !ok {
		rt = proxy.NewTransport(o)
		t.m[key] = rt
	}
	return rt, nil
}

// transported is an API's upstream handler that forwards on transports of the gateway's
// (proxy.Upstream, discovered).
type transported interface{ Transports() []http.RoundTripper }

// retain keeps the transports snap forwards on and closes the idle connections of the others,
// which no new request will use. Requests still in flight on the previous snapshot finish on
// them; their connections then idle out.
func (t *transports) retain(snap *snapshot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keepLocked(snap)
}

// begin and end bracket a build that takes transports (forTarget) for handlers no snapshot
// serves yet: a reload's build, up to its retain, or an API's discovered targets, up to their
// use.
func (t *transports) begin() {
	t.mu.Lock()
	t.building++
	t.mu.Unlock()
}

func (t *transports) end() {
	t.mu.Lock()
	t.building--
	t.mu.Unlock()
}

// prune is retain between reloads, when an API's discovered targets changed: it drops the
// transports of targets no longer served. It does nothing (false) while a build is under way,
// which may hold transports snap does not use: the build's retain, or the next prune, settles
// them.
func (t *transports) prune(snap *snapshot) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.building > 0 {
		return false
	}
	t.keepLocked(snap)
	return true
}

// keepLocked keeps the transports snap forwards on and closes the idle connections of the
// others.
func (t *transports) keepLocked(snap *snapshot) {
	used := map[http.RoundTripper]bool{}
	for _, rt := range snap.apis {
		for i := range rt.versions {
			v := &rt.versions[i]
			if u, ok := v.upstream.(transported); ok {
				for _, tr := range u.Transports() {
					used[tr] = true
				}
			}
		}
		for _, c := range rt.uptimeChecks() {
			if c.Transport != nil {
				used[c.Transport] = true
			}
		}
	}
	certs, pins := map[string]bool{}, map[string]bool{}
	for k, tr := range t.m {
		if !used[tr] {
			tr.CloseIdleConnections()
			delete(t.m, k)
			continue
		}
		certs[k.clientCert] = true
		for f := range strings.SplitSeq(k.pinFiles, "\x00") {
			pins[f] = true
		}
	}
	// The files tyk.conf names stay; the others only while a transport in use was made
	// from them.
	for _, f := range t.cfg.Security.Certificates.Upstream {
		certs[f] = true
	}
	for _, f := range t.configPinFiles() {
		pins[f] = true
	}
	maps.DeleteFunc(t.certs, func(f string, _ *tlsFile[*tls.Certificate]) bool { return !certs[f] })
	maps.DeleteFunc(t.pins, func(f string, _ *tlsFile[[][32]byte]) bool { return !pins[f] })
}

// close closes every transport's idle connections.
func (t *transports) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.m {
		tr.CloseIdleConnections()
	}
}

// logInsecureUpstream warns, once per new or changed definition, that it turns off the check of
// its upstream's certificate.
func (g *Gateway) logInsecureUpstream(prev *snapshot, rt *apiRuntime, def *apidef.APIDefinition) {
	if !def.Proxy.Transport.SSLInsecureSkipVerify {
		return
	}
	if old, ok := prevAPI(prev, rt.id); ok && old.rawSum == rt.rawSum {
		return
	}
	g.log.Warn("API definition turns off the check of its upstream's TLS certificate (proxy.transport.ssl_insecure_skip_verify)", "api_id", rt.id)
}

// configPinFiles are the files and certificate-store ids among tyk.conf's pinned_public_keys,
// sorted.
func (t *transports) configPinFiles() []string {
	var out []string
	for _, list := range t.cfg.Security.PinnedPublicKeys {
		entries, _ := apidef.PinnedKeys(list)
		for _, e := range entries {
			if _, fp := apidef.PinFingerprint(e); (!fp || certstore.IsID(e)) && !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	slices.Sort(out)
	return out
}
