package bundle_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"hash/crc32"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

// testKeys returns two RSA keys, generated once for the whole package: the signer's and a
// stranger's.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	return gen(), gen()
})

// writeFiles writes files (slash-separated names, sub-folders created) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// goManifest is a Go plugin manifest listing files, with a pre hook "Pre" in the first.
func goManifest(files ...string) *apidef.BundleManifest {
	m := &apidef.BundleManifest{FileList: files}
	m.CustomMiddleware.Driver = apidef.GoPluginDriver
	if len(files) > 0 {
		m.CustomMiddleware.Pre = []apidef.MiddlewareDefinition{{Name: "Pre", Path: files[0]}}
	}
	return m
}

// bundleDir makes a folder holding files, and returns it.
func bundleDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// cloneManifest deep-copies a manifest through JSON, as it travels on disk.
func cloneManifest(t *testing.T, m *apidef.BundleManifest) *apidef.BundleManifest {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out apidef.BundleManifest
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// zipEntry is one entry of a zip built by hand.
type zipEntry struct {
	Name string
	Data []byte
	// Mode, when set, is written into the header (symlinks, directories).
	Mode fs.FileMode
	// Deflate compresses the entry; otherwise it is stored.
	Deflate bool
	// Declared, when not nil, is the uncompressed size written into the headers instead of
	// the real one (the zip bomb's lie).
	Declared *uint64
}

// buildZip writes entries into a zip archive, raw, so that headers can lie.
func buildZip(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		payload := e.Data
		method := zip.Store
		if e.Deflate {
			payload = deflate(t, e.Data)
			method = zip.Deflate
		}
		h := &zip.FileHeader{
			Name:               e.Name,
			Method:             method,
			CRC32:              crc32.ChecksumIEEE(e.Data),
			CompressedSize64:   uint64(len(payload)),
			UncompressedSize64: uint64(len(e.Data)),
		}
		if e.Declared != nil {
			h.UncompressedSize64 = *e.Declared
		}
		if e.Mode != 0 {
			h.SetMode(e.Mode)
		}
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deflate returns the raw DEFLATE stream of data, as a zip entry holds it.
func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "x", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	f := zr.File[0]
	off, err := f.DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes()[off : off+int64(f.CompressedSize64)])
}

// signedBundleZip packs files with m (signed by key, or checksum only when key is nil) with
// bundle.Write as name (the name a seal binds), and returns the archive's bytes.
func signedBundleZip(t *testing.T, name string, m *apidef.BundleManifest, files map[string][]byte, key *rsa.PrivateKey) []byte {
	t.Helper()
	dir := bundleDir(t, files)
	out := filepath.Join(t.TempDir(), name)
	if err := bundle.Write(m, dir, out, key); err != nil {
		t.Fatalf("Write: %v", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// manifestZip packs a manifest as given (no signing) with files, as an attacker would.
func manifestZip(t *testing.T, m *apidef.BundleManifest, files map[string][]byte) []byte {
	t.Helper()
	mdata, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var entries []zipEntry
	for _, n := range names {
		entries = append(entries, zipEntry{Name: n, Data: files[n], Deflate: true})
	}
	entries = append(entries, zipEntry{Name: bundle.ManifestName, Data: mdata, Deflate: true})
	return buildZip(t, entries...)
}

// tree lists everything under dir (slash-separated, relative), directories with a trailing
// slash.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bundleServer serves bundles by name, counting requests, and can hold requests until
// released.
type bundleServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	total atomic.Int64
	// hold, when set, makes requests wait until it is closed (or the client gives up).
	hold chan struct{}
}

func newBundleServer(t *testing.T) *bundleServer {
	t.Helper()
	s := &bundleServer{files: map[string][]byte{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/bundles/")
		s.total.Add(1)
		s.mu.Lock()
		s.hits[name]++
		data, ok := s.files[name]
		hold := s.hold
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
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
	defer s.mu.Unlock()
	s.files[name] = data
}

func (s *bundleServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name]
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
