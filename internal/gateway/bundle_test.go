package gateway_test

import (
	"archive/zip"
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/redistest"
)

// bundleServer serves bundles by name, can hold requests and can be taken down: a request
// while it is down (or held, then let go once it is down) has its connection closed.
type bundleServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hold  chan struct{} // when set, requests wait until it is closed
	names map[string]int
	down  atomic.Bool
	hits  atomic.Int64
	held  atomic.Int64 // requests waiting now
}

func newBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{files: map[string][]byte{}, names: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		hold := s.hold
		s.names[strings.TrimPrefix(r.URL.Path, "/bundles/")]++
		s.mu.Unlock()
		if hold != nil {
			s.held.Add(1)
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			s.held.Add(-1)
		}
		if s.down.Load() {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		s.mu.Lock()
		data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/bundles/")]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) put(name string, data []byte) {
	s.mu.Lock()
	s.files[name] = data
	s.mu.Unlock()
}

// count is how many times the bundle name was requested.
func (s *bundleServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name]
}

// holdRequests makes the next requests wait; the returned func lets them go.
func (s *bundleServer) holdRequests() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.hold = nil
			s.mu.Unlock()
			close(ch)
		})
	}
}

// keyPair writes a fresh RSA key pair and returns the private key and the public key's file.
func keyPair(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, p
}

// bundleDir lays out a bundle's files: the plugin at lib/plugin.so, and its manifest.
func bundleDir(t *testing.T, so, symbol string) (string, *apidef.BundleManifest) {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, so, filepath.Join(dir, "lib", "plugin.so"))
	m := &apidef.BundleManifest{
		FileList: []string{"lib/plugin.so"},
		CustomMiddleware: apidef.MiddlewareSection{Driver: "goplugin",
			Pre: []apidef.MiddlewareDefinition{{Name: symbol, Path: "lib/plugin.so"}}},
	}
	return dir, m
}

// ourBundle packs a bundle with Gatehouse's bundler (signed and sealed when key is set), as
// `gatehouse bundle build -o name` does.
func ourBundle(t *testing.T, name, so, symbol string, key *rsa.PrivateKey) []byte {
	t.Helper()
	dir, m := bundleDir(t, so, symbol)
	return writeBundle(t, name, dir, m, key)
}

// writeBundle packs the files of dir that m lists with Gatehouse's bundler, written as name
// (the name a seal binds: the bundle is to be served under it).
func writeBundle(t *testing.T, name, dir string, m *apidef.BundleManifest, key *rsa.PrivateKey) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	if err := bundle.Write(m, dir, out, key); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tykBundle packs a bundle as Tyk's bundler does, computed here independently of Gatehouse's
// code: MD5 checksum and RSA PKCS#1 v1.5 SHA-256 signature of the listed files concatenated.
func tykBundle(t *testing.T, so, symbol string, key *rsa.PrivateKey) []byte {
	t.Helper()
	plugin, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	md := md5.Sum(plugin)
	sha := sha256.Sum256(plugin)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sha[:])
	if err != nil {
		t.Fatal(err)
	}
	manifest := map[string]any{
		"file_list": []string{"plugin.so"},
		"custom_middleware": map[string]any{"driver": "goplugin", "pre": []map[string]any{{"name": symbol, "path": "plugin.so"}},
			"post": []any{}, "post_key_auth": []any{}, "response": []any{}, "auth_check": map[string]any{"name": "", "path": ""}},
		"checksum":  hex.EncodeToString(md[:]),
		"signature": base64.StdEncoding.EncodeToString(sig),
	}
	return zipOf(t, map[string][]byte{"plugin.so": plugin, "manifest.json": mustJSON(t, manifest)})
}

// bombZip is a small archive whose entry claims to inflate to 600 MiB, more than a gateway
// accepts. (The unit tests cover entries that lie about their size.)
func bombZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "lib/plugin.so", Method: zip.Store, CompressedSize64: 1, UncompressedSize64: 600 << 20})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{0})
	zw.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	return buf.Bytes()
}

// rezip rewrites one entry of a bundle, leaving the others as they are.
func rezip(t *testing.T, data []byte, edit func(name string, content []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		files[f.Name] = edit(f.Name, b.Bytes())
	}
	return zipOf(t, files)
}

func bundleAPI(id, upstream, bundleName string) *apidef.APIDefinition {
	d := gt.API(id, "/"+id+"/", upstream)
	d.CustomMiddlewareBundle = bundleName
	return d
}

// eventually retries check until it passes or time is up.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if check() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// bundleReason returns what /hello reports about the bundle of API id ("" when nothing).
func bundleReason(t *testing.T, g *gt.Gateway, id string) string {
	t.Helper()
	var h admin.Health
	if err := json.Unmarshal([]byte(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body), &h); err != nil {
		t.Fatalf("/hello: %v", err)
	}
	return h.Details["bundle:"+id].Output
}

func versionOf(g *gt.Gateway, path string) (int, string) {
	r := g.Do(gt.Case{Path: path})
	return r.Code, r.Header.Get("X-Plugin-Version")
}

// TestSignedBundles covers verification with public_key_path: bundles signed by Gatehouse (with
// the seal) and by Tyk's method (computed in the test, with bundle_allow_unsealed) load; unsigned, tampered and hostile
// bundles never do, and say why.
func TestSignedBundles(t *testing.T) {
	key, pub := keyPair(t)
	other, _ := keyPair(t)
	so := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle-signed", map[string]string{`"v1"`: `"signed"`})
	srv := newBundleServer(t)
	srv.put("ours.zip", ourBundle(t, "ours.zip", so, "Version", key))
	srv.put("tykstyle.zip", tykBundle(t, so, "Version", key))
	// Bundles that must be refused carry a small stand-in for the plugin: verification fails
	// before anything is loaded, whatever the file holds.
	small := filepath.Join(t.TempDir(), "small.so")
	if err := os.WriteFile(small, bytes.Repeat([]byte("plugin bytes "), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	good := ourBundle(t, "good.zip", small, "Version", key)
	srv.put("unsigned.zip", ourBundle(t, "unsigned.zip", small, "Version", nil))
	srv.put("otherkey.zip", ourBundle(t, "otherkey.zip", small, "Version", other))
	srv.put("tampered-plugin.zip", rezip(t, good, func(name string, b []byte) []byte {
		if name == "lib/plugin.so" {
			b = append([]byte(nil), b...)
			b[len(b)/2] ^= 0xff
		}
		return b
	}))
	srv.put("tampered-hooks.zip", rezip(t, good, func(name string, b []byte) []byte {
		if name == "manifest.json" {
			return bytes.Replace(b, []byte(`"name": "Version"`), []byte(`"name": "Other"`), 1)
		}
		return b
	}))
	srv.put("slip.zip", zipOf(t, map[string][]byte{"../../escaped.txt": []byte("x"), "manifest.json": []byte("{}")}))
	srv.put("link.zip", func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		h := &zip.FileHeader{Name: "lib/plugin.so"}
		h.SetMode(os.ModeSymlink | 0o777)
		w, _ := zw.CreateHeader(h)
		w.Write([]byte("/etc/passwd"))
		zw.Close()
		return buf.Bytes()
	}())
	srv.put("bomb.zip", bombZip(t))

	names := []string{"ours", "tykstyle", "unsigned", "otherkey", "tampered-plugin", "tampered-hooks", "slip", "link", "bomb", "missing"}
	var apis []*apidef.APIDefinition
	up := gt.NewUpstream(t)
	for _, n := range names {
		apis = append(apis, bundleAPI(n, up.URL, n+".zip"))
	}
	apis = append(apis, gt.API("plain", "/plain/", up.URL))
	g := gt.Start(t, gt.Options{APIs: apis, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
		c.BundleAllowUnsealed = true // for Tyk's format: TestBundleSealRequired covers the default
	}})
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/plain/x"}))
	eventually(t, "every download has ended", func() bool {
		h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
		return !strings.Contains(h, "is being downloaded")
	})
	for _, ok := range []string{"ours", "tykstyle"} {
		if code, v := versionOf(g, "/"+ok+"/x"); code != 200 || v != "signed" {
			t.Errorf("%s bundle: status %d, version %q", ok, code, v)
		}
	}
	for name, reason := range map[string]string{
		"unsigned":        "is not signed",
		"otherkey":        "signature does not verify",
		"tampered-plugin": "checksum does not match",
		"tampered-hooks":  "gatehouse_seal does not verify",
		"slip":            "unsafe bundle archive",
		"link":            "symbolic link",
		"bomb":            "more than the limit",
		"missing":         "HTTP status 404",
	} {
		gt.Check(t, gt.Case{Code: 503, BodyMatch: "its plugin bundle could not be loaded"}, g.Do(gt.Case{Path: "/" + name + "/x"}))
		got := bundleReason(t, g, name)
		if !strings.Contains(got, reason) {
			t.Errorf("/hello reports API %s with %q, want %q", name, got, reason)
		}
		if n := strings.Count(got, "bundle "+name+".zip"); n != 1 {
			t.Errorf("/hello names bundle %s.zip %d times, want once: %q", name, n, got)
		}
	}
	// Archives are extracted in middleware_path/bundles/.extract-*, so "../../escaped.txt" would
	// land in middleware_path: look everywhere in the gateway's folder, and beside it.
	root := filepath.Dir(g.Config.MiddlewarePath)
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "escaped.txt" {
			t.Errorf("the zip-slip entry was written, at %s", p)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escaped.txt")); err == nil {
		t.Error("the zip-slip entry was written beside the gateway's folder")
	}
	if len(up.Requests()) != 3 {
		t.Errorf("upstream received %d requests, want 3", len(up.Requests()))
	}
	// A cached bundle is verified on every load: tamper with it on disk and reload. The server
	// holds the fresh download that follows, so that the report can be seen.
	release := srv.holdRequests()
	defer release()
	cached := filepath.Join(g.Config.MiddlewarePath, "bundles", "ours.zip", "lib", "plugin.so")
	data, err := os.ReadFile(cached)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0xff
	if err := os.WriteFile(cached, data, 0o644); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	// The reload that finds the tampered file reports the checksum; a later one (the gateway
	// may reload on its own) the download of a fresh copy.
	if got := bundleReason(t, g, "ours"); (!strings.Contains(got, "checksum does not match") && !strings.Contains(got, "is being downloaded")) ||
		strings.Count(got, "bundle ours.zip") != 1 {
		t.Errorf("a bundle tampered on disk was reported as %q, want its checksum or its download, naming bundle ours.zip once", got)
	}
	if !strings.Contains(g.Logs(), "a cached bundle failed verification and is removed") {
		t.Error("the tampered bundle's removal was not logged")
	}
	// The verified version already loaded keeps serving meanwhile, and a fresh copy comes back.
	if code, v := versionOf(g, "/ours/x"); code != 200 || v != "signed" {
		t.Errorf("after tampering: status %d, version %q", code, v)
	}
	release()
	eventually(t, "a fresh copy of ours.zip serves", func() bool { return bundleReason(t, g, "ours") == "" })
	if code, v := versionOf(g, "/ours/x"); code != 200 || v != "signed" {
		t.Errorf("with the fresh copy: status %d, version %q", code, v)
	}
}

// TestBundleSealRequired strips the seal from a bundle signed by Gatehouse and moves its pre hook
// to post, which Tyk's signature (over the files only) does not see. With public_key_path, that
// bundle and a Tyk-signed one (no seal) are refused by default, saying how to fix it; the sealed
// one serves. With bundle_allow_unsealed, the Tyk-signed bundle serves, as in Tyk.
func TestBundleSealRequired(t *testing.T) {
	key, pub := keyPair(t)
	so := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle-signed", map[string]string{`"v1"`: `"signed"`})
	srv := newBundleServer(t)
	ours := ourBundle(t, "ours.zip", so, "Version", key)
	srv.put("ours.zip", ours)
	srv.put("tykstyle.zip", tykBundle(t, so, "Version", key))
	srv.put("stripped.zip", rezip(t, ours, func(name string, b []byte) []byte {
		if name != "manifest.json" {
			return b
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["gatehouse_seal"]; !ok {
			t.Fatal("the bundle has no seal to strip")
		}
		delete(m, "gatehouse_seal")
		cm := m["custom_middleware"].(map[string]any)
		cm["post"], cm["pre"] = cm["pre"], []any{}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}))
	up := gt.NewUpstream(t)
	start := func(allowUnsealed bool) *gt.Gateway {
		g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
			bundleAPI("ours", up.URL, "ours.zip"), bundleAPI("tykstyle", up.URL, "tykstyle.zip"), bundleAPI("stripped", up.URL, "stripped.zip"),
		}, Config: func(c *config.Config) {
			c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
			c.BundleAllowUnsealed = allowUnsealed
		}})
		eventually(t, "every download has ended", func() bool {
			return !strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "is being downloaded")
		})
		return g
	}

	g := start(false)
	if code, v := versionOf(g, "/ours/x"); code != 200 || v != "signed" {
		t.Errorf("sealed bundle: status %d, version %q", code, v)
	}
	for _, name := range []string{"tykstyle", "stripped"} {
		gt.Check(t, gt.Case{Code: 503, BodyMatch: "its plugin bundle could not be loaded"}, g.Do(gt.Case{Path: "/" + name + "/x"}))
		got := bundleReason(t, g, name)
		for _, want := range []string{"has no gatehouse_seal", "gatehouse bundle build -k", "bundle_allow_unsealed"} {
			if !strings.Contains(got, want) {
				t.Errorf("/hello reports API %s with %q, want %q", name, got, want)
			}
		}
	}

	g = start(true)
	for _, name := range []string{"ours", "tykstyle"} {
		if code, v := versionOf(g, "/"+name+"/x"); code != 200 || v != "signed" {
			t.Errorf("%s bundle with bundle_allow_unsealed: status %d, version %q", name, code, v)
		}
	}
}

// TestUnsignedBundlesWithoutKey loads an unsigned bundle when no key is configured (checksum
// only), as Tyk does, and serves its hooks from a sub-folder.
func TestUnsignedBundlesWithoutKey(t *testing.T) {
	so := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle-unsigned", map[string]string{`"v1"`: `"unsigned"`})
	srv := newBundleServer(t)
	srv.put("b.zip", ourBundle(t, "b.zip", so, "Version", nil))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{bundleAPI("u", up.URL, "b.zip")}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	eventually(t, "the bundle serves", func() bool { _, v := versionOf(g, "/u/x"); return v == "unsigned" })
}

// TestBundleUpdateAndOutage updates an API from one bundle to the next without a restart, and
// takes the bundle server down during a later reload: the API keeps its verified version, and a
// reload of other APIs is not held up.
func TestBundleUpdateAndOutage(t *testing.T) {
	key, pub := keyPair(t)
	v1 := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle1", nil)
	v2 := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle2", map[string]string{`"v1"`: `"v2"`})
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", v1, "Version", key))
	srv.put("app-v2.zip", ourBundle(t, "app-v2.zip", v2, "Version", key))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
	}})
	eventually(t, "v1 serves", func() bool { _, v := versionOf(g, "/app/x"); return v == "v1" })

	def.CustomMiddlewareBundle = "app-v2.zip"
	g.WriteAPI(def)
	g.Reload()
	eventually(t, "v2 serves after the update", func() bool { _, v := versionOf(g, "/app/x"); return v == "v2" })

	srv.put("app-v3.zip", ourBundle(t, "app-v3.zip", v1, "Version", key))
	srv.down.Store(true)
	def.CustomMiddlewareBundle = "app-v3.zip"
	g.WriteAPI(def)
	g.WriteAPI(gt.API("other", "/other/", up.URL))
	start := time.Now()
	g.Reload()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the reload took %s while the bundle server was down", took)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
	eventually(t, "the failed download is reported", func() bool {
		return strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "the previous version of the API keeps serving")
	})
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "v2" {
		t.Errorf("during the outage: status %d version %q, want v2 still serving", code, v)
	}
	if !strings.Contains(g.Logs(), "bundle not available; the previous version of the API keeps serving") {
		t.Error("keeping the previous version was not logged as a warning")
	}

	// A definition changed besides its bundle (keyless to keyed) never serves as it was: while
	// its new bundle cannot be had, the API answers 503, and no request passes without a key.
	keyed := gt.Keyed(bundleAPI("app", up.URL, "app-v4.zip"))
	g.WriteAPI(keyed)
	g.Reload()
	eventually(t, "the changed definition stops the previous version", func() bool {
		code, _ := versionOf(g, "/app/x")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(g.Logs(), "changed besides its plugins, so its previous version does not serve meanwhile") {
		t.Error("not serving the previous version was not logged")
	}
}

// versionPlugin builds the hot plugin as one that adds its version to X-Plugin-Version (rather
// than setting it), so that every hook that ran shows, in order.
func versionPlugin(t *testing.T, version string) string {
	return plugintest.BuildModule(t, hotDir, "example.com/hot/bundle-add-"+version,
		map[string]string{`"v1"`: `"` + version + `"`, "Header().Set(": "Header().Add("})
}

// TestBundleList: a comma-separated custom_middleware_bundle runs the hooks of every bundle, in
// the order listed; one bundle of the list that is not available keeps the API from serving
// with the list, and the reason names that bundle.
func TestBundleList(t *testing.T) {
	first, second := versionPlugin(t, "first"), versionPlugin(t, "second")
	srv := newBundleServer(t)
	srv.put("first.zip", ourBundle(t, "first.zip", first, "Version", nil))
	srv.put("second.zip", ourBundle(t, "second.zip", second, "Version", nil))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		bundleAPI("ab", up.URL, "first.zip,second.zip"),
		bundleAPI("ba", up.URL, " second.zip , first.zip"),
		bundleAPI("absent", up.URL, "first.zip,absent.zip"),
	}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	eventually(t, "every download has ended", func() bool {
		return !strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "is being downloaded")
	})
	for api, want := range map[string][]string{"ab": {"first", "second"}, "ba": {"second", "first"}} {
		r := g.Do(gt.Case{Path: "/" + api + "/x"})
		if got := r.Header.Values("X-Plugin-Version"); r.Code != 200 || !slices.Equal(got, want) {
			t.Errorf("API %s: status %d, hooks ran %q, want %q", api, r.Code, got, want)
		}
	}
	gt.Check(t, gt.Case{Code: 503, BodyMatch: "its plugin bundle could not be loaded"}, g.Do(gt.Case{Path: "/absent/x"}))
	if got := bundleReason(t, g, "absent"); !strings.Contains(got, "HTTP status 404") || strings.Count(got, "bundle absent.zip") != 1 || strings.Contains(got, "first.zip") {
		t.Errorf("/hello reports API absent with %q, want the 404 of bundle absent.zip, named once", got)
	}
	if n := srv.count("first.zip"); n != 1 {
		t.Errorf("first.zip was downloaded %d times for three APIs, want once", n)
	}
}

// TestBundleRelativePathsAndDisabled: relative per-endpoint and analytics plugin paths of an API
// with a bundle, and a bundle's traffic_logs hook, load from the bundle's folder; an API with
// custom_middleware_bundle_disabled serves without its bundle and never downloads it.
func TestBundleRelativePathsAndDisabled(t *testing.T) {
	so := plugintest.Build(t, tykcompatPkg)
	srv := newBundleServer(t)
	srv.put("paths.zip", ourBundle(t, "paths.zip", so, "MyPluginPerPathFoo", nil))
	dir, m := bundleDir(t, so, "MyPluginPerPathFoo")
	m.CustomMiddleware.TrafficLogs = apidef.MiddlewareDefinition{Name: "MyAnalyticsPluginAddTag", Path: "lib/plugin.so"}
	srv.put("logs.zip", writeBundle(t, "logs.zip", dir, m, nil))
	srv.put("off.zip", ourBundle(t, "off.zip", so, "MyPluginPerPathFoo", nil))

	up := gt.NewUpstream(t)
	paths := bundleAPI("paths", up.URL, "paths.zip")
	paths.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{
			{Path: "/bar", Method: "GET", PluginPath: "lib/plugin.so", SymbolName: "MyPluginPerPathBar"}}}}}
	paths.AnalyticsPlugin = apidef.AnalyticsPluginConfig{Enabled: true, PluginPath: "lib/plugin.so", FuncName: "MyAnalyticsPluginAddTag"}
	logs := bundleAPI("logs", up.URL, "logs.zip")
	off := bundleAPI("off", up.URL, "off.zip")
	off.CustomMiddlewareBundleDisabled = true
	file, analytics := analyticsFile(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{paths, logs, off}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
		analytics(c)
	}})
	eventually(t, "every download has ended", func() bool {
		return !strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "is being downloaded")
	})
	g.Run(t,
		gt.Case{Name: "the bundle's hook and the per-endpoint plugin, both from the bundle", Path: "/paths/bar", Code: 200,
			HeadersMatch: map[string]string{"X-Foo": "foo", "X-Bar": "bar"}},
		gt.Case{Name: "traffic_logs bundle", Path: "/logs/x", Code: 200, HeadersMatch: map[string]string{"X-Foo": "foo"}},
		gt.Case{Name: "bundle disabled", Path: "/off/x", Code: 200, HeadersNotPresent: []string{"X-Foo"}},
	)
	if h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body; strings.Contains(h, `"bundle:`) || strings.Contains(h, `"plugin:`) {
		t.Errorf("/hello reports bundle or plugin trouble:\n%s", h)
	}
	if n := srv.count("off.zip"); n != 0 {
		t.Errorf("the disabled bundle was requested %d times", n)
	}
	tagged := map[string]bool{}
	eventually(t, "both APIs' analytics plugins tagged a record", func() bool {
		for _, r := range readRecords(t, file, 0) {
			if slices.Contains(r.Tags, "TEST") {
				tagged[r.APIID+" "+r.Path] = true
			}
		}
		return tagged["paths /paths/bar"] && tagged["logs /logs/x"]
	})
}

// TestBundleServerDiesMidDownload: the bundle server takes a download and holds it open, then
// dies. Reloads meanwhile are not held up (another API loads and serves, the API keeps its
// previous version), and once the server is gone /hello gives the download's failure.
func TestBundleServerDiesMidDownload(t *testing.T) {
	first := versionPlugin(t, "first")
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", first, "Version", nil))
	srv.put("app-v2.zip", ourBundle(t, "app-v2.zip", first, "Version", nil))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	eventually(t, "v1 serves", func() bool { _, v := versionOf(g, "/app/x"); return v == "first" })

	release := srv.holdRequests()
	defer release()
	def.CustomMiddlewareBundle = "app-v2.zip"
	g.WriteAPI(def)
	g.Reload()
	eventually(t, "the server holds the download", func() bool { return srv.held.Load() == 1 })
	g.WriteAPI(gt.API("other", "/other/", up.URL))
	g.Reload()
	if srv.held.Load() != 1 {
		t.Fatal("the download ended before the reload returned: the reload waited for it")
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "first" {
		t.Errorf("during the download: status %d, version %q, want the previous version serving", code, v)
	}
	if got, want := bundleReason(t, g, "app"), "bundle app-v2.zip is being downloaded; the previous version of the API keeps serving"; got != want {
		t.Errorf("/hello during the download: %q, want %q", got, want)
	}

	// The server dies with the request open: its connection is closed, and so is every later one.
	srv.down.Store(true)
	release()
	eventually(t, "the failed download is reported", func() bool {
		return strings.Contains(bundleReason(t, g, "app"), "downloading bundle app-v2.zip from")
	})
	if got := bundleReason(t, g, "app"); !strings.HasSuffix(got, "; the previous version of the API keeps serving") || strings.Count(got, "bundle app-v2.zip") != 1 {
		t.Errorf("/hello after the server died: %q", got)
	}
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "first" {
		t.Errorf("after the server died: status %d, version %q, want the previous version serving", code, v)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
}

// TestBlockingReloadWaitsForBundles: GET /tyk/reload?block=true returns when the bundle the
// reload needs is downloaded and serves, or, past its timeout, says what is still pending.
func TestBlockingReloadWaitsForBundles(t *testing.T) {
	first, second := versionPlugin(t, "first"), versionPlugin(t, "second")
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", first, "Version", nil))
	srv.put("app-v2.zip", ourBundle(t, "app-v2.zip", second, "Version", nil))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	// gatewaytest.Start waits for the downloads the first load started.
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "first" {
		t.Fatalf("after start: status %d version %q, want v1 serving", code, v)
	}

	release := srv.holdRequests()
	defer release()
	def.CustomMiddlewareBundle = "app-v2.zip"
	g.WriteAPI(def)
	gt.Check(t, gt.Case{Code: 202, BodyMatch: `"message": "after 300ms, 1 thing still waits \(see pending\)"(?s:.*)bundle app-v2.zip is being downloaded`},
		g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=0.3"}))
	if _, v := versionOf(g, "/app/x"); v != "first" {
		t.Errorf("during the download version %q serves, want the previous one", v)
	}
	blocked := make(chan blockingReply, 1)
	go func() { blocked <- blockingReload(g, 120) }()
	time.Sleep(100 * time.Millisecond)
	release()
	reply := <-blocked
	if reply.err != nil {
		t.Fatal(reply.err)
	}
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"status": "ok"`}, reply.r)
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "second" {
		t.Errorf("right after the blocking reload: status %d version %q, want v2", code, v)
	}

	// A bundle that cannot be had is reported by the blocking reload, not waited for forever.
	srv.down.Store(true)
	def.CustomMiddlewareBundle = "app-v3.zip"
	g.WriteAPI(def)
	r := g.Do(gt.Case{Admin: true, Path: "/tyk/reload?block=true&timeout=30"})
	gt.Check(t, gt.Case{Code: 200, BodyMatch: `"message": "reloaded; 1 thing is not available \(see failed\)"(?s:.*)"failed"(?s:.*)app-v3.zip`}, r)
	if n := strings.Count(r.Body, `API \"app\"`); n != 1 {
		t.Errorf("the failure is told %d times in the reply, want once:\n%s", n, r.Body)
	}
}

// TestBundleForgottenWithItsAPI: a bundle no API names any more is forgotten by the bundle
// store on the next reload (bundle.Store.Retain), so that APIs created and deleted with new
// bundle names leave nothing behind. Seen from outside: an API deleted while its bundle's
// download had failed, and added again, has its bundle downloaded again at once, where the
// remembered failure would have made it wait out the retry window.
func TestBundleForgottenWithItsAPI(t *testing.T) {
	srv := newBundleServer(t) // holds nothing: every download fails with 404
	up := gt.NewUpstream(t)
	def := bundleAPI("gone", up.URL, "gone.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	eventually(t, "the failed download is reported", func() bool {
		return strings.Contains(bundleReason(t, g, "gone"), "downloading bundle gone.zip from")
	})
	if n := srv.count("gone.zip"); n != 1 {
		t.Fatalf("%d downloads of gone.zip, want 1", n)
	}
	// Within the retry window (5 s), a reload asks again and is told the failure.
	g.Reload()
	if n := srv.count("gone.zip"); n != 1 {
		t.Fatalf("a reload within the retry window downloaded gone.zip again (%d downloads)", n)
	}
	if err := os.Remove(filepath.Join(g.AppPath, "gone.json")); err != nil {
		t.Fatal(err)
	}
	g.Reload()
	g.WriteAPI(def)
	g.Reload()
	eventually(t, "gone.zip, forgotten with its API, is downloaded again", func() bool { return srv.count("gone.zip") == 2 })
}

// TestReadyWaitsForFirstBundles: a gateway whose first APIs wait for their bundle is not ready
// (/ready 503, Tyk's message; /hello 200) until the download ends, then ready; a later update
// waiting for its bundle does not take it out of service (the previous version serves); nor
// does a bundle that cannot be had (its API answers 503 on every gateway alike).
func TestReadyWaitsForFirstBundles(t *testing.T) {
	first, second := versionPlugin(t, "first"), versionPlugin(t, "second")
	srv := newBundleServer(t)
	srv.put("app-v1.zip", ourBundle(t, "app-v1.zip", first, "Version", nil))
	srv.put("app-v2.zip", ourBundle(t, "app-v2.zip", second, "Version", nil))
	up := gt.NewUpstream(t)
	def := bundleAPI("app", up.URL, "app-v1.zip")
	release := srv.holdRequests()
	defer release()
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def}, Unsettled: true, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL = true, srv.URL+"/bundles/"
	}})
	eventually(t, "the server holds the first download", func() bool { return srv.held.Load() == 1 })
	if msg := wantReady(g, t, "A successful API reload did not happen")(); msg != "" {
		t.Errorf("while the first bundle downloads: %s", msg)
	}
	if h := health(t, g); h.Status == "" {
		t.Error("/hello while the first bundle downloads: no health document")
	}
	gt.Check(t, gt.Case{Code: 503}, g.Do(gt.Case{Path: "/app/x"}))
	release()
	eventually(t, "ready once the bundle serves", func() bool { return wantReady(g, t, "")() == "" })
	if code, v := versionOf(g, "/app/x"); code != 200 || v != "first" {
		t.Errorf("once ready: status %d, version %q, want v1", code, v)
	}

	// An update waiting for its bundle: the previous version serves, the gateway stays ready.
	release = srv.holdRequests()
	defer release()
	def.CustomMiddlewareBundle = "app-v2.zip"
	g.WriteAPI(def)
	g.Reload()
	eventually(t, "the server holds the update's download", func() bool { return srv.held.Load() == 1 })
	if msg := wantReady(g, t, "")(); msg != "" {
		t.Errorf("while an update downloads: %s", msg)
	}
	// A new API whose bundle cannot be had: it answers 503, the gateway stays ready.
	g.WriteAPI(bundleAPI("missing", up.URL, "missing.zip"))
	release()
	g.Reload()
	eventually(t, "v2 serves", func() bool { _, v := versionOf(g, "/app/x"); return v == "second" })
	eventually(t, "the missing bundle is reported", func() bool {
		return strings.Contains(bundleReason(t, g, "missing"), "missing.zip")
	})
	if msg := wantReady(g, t, "")(); msg != "" {
		t.Errorf("with an API whose bundle cannot be had: %s", msg)
	}
}

// TestReadyWaitsForFleetBundles: a gateway that started while Redis was down serves its own
// APIs, but is not ready until it has read the fleet's definitions and those wait for nothing
// more: an API of the fleet waiting for its first bundle keeps /ready at 503.
func TestReadyWaitsForFleetBundles(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	bs := newBundleServer(t)
	bs.put("shared.zip", ourBundle(t, "shared.zip", versionPlugin(t, "first"), "Version", nil))
	release := bs.holdRequests()
	defer release()
	up := gt.NewUpstream(t)
	cfg := func(c *config.Config) {
		withTimeout(c)
		c.EnableBundleDownloader, c.BundleBaseURL = true, bs.URL+"/bundles/"
	}
	first := gt.Start(t, gt.Options{Redis: srv.Addr, Config: cfg, Unsettled: true})
	if r := first.Do(gt.Case{Admin: true, Method: "POST", Path: "/tyk/apis", Body: string(mustJSON(t, bundleAPI("shared", up.URL, "shared.zip")))}); r.Code != 200 {
		t.Fatalf("POST /tyk/apis: %d %s", r.Code, r.Body)
	}
	first.Stop()
	srv.Kill()

	g := gt.Start(t, gt.Options{Redis: srv.Addr, Config: cfg, Unsettled: true, APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}})
	if msg := wantReady(g, t, "Redis connection not available")(); msg != "" {
		t.Errorf("with Redis down: %s", msg)
	}
	srv.Restart()
	eventually(t, "the fleet's API is loaded and waits for its bundle", func() bool {
		return g.Do(gt.Case{Path: "/shared/x"}).Code == 503 && bs.held.Load() == 1
	})
	if msg := wantReady(g, t, "A successful API reload did not happen")(); msg != "" {
		t.Errorf("while the fleet's API waits for its first bundle: %s", msg)
	}
	release()
	eventually(t, "ready once the fleet's API serves", func() bool { return wantReady(g, t, "")() == "" })
	if code, v := versionOf(g, "/shared/x"); code != 200 || v != "first" {
		t.Errorf("once ready: %d %q, want the bundle's plugin serving", code, v)
	}
}
