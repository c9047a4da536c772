package bundle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// storeFixture is a Store downloading from a bundleServer, verifying with the test key.
type storeFixture struct {
	srv     *bundleServer
	store   *bundle.Store
	dir     string
	changes chan struct{}
}

func newStoreFixture(t *testing.T, edit func(o *bundle.StoreOptions)) *storeFixture {
	t.Helper()
	return newStoreFixtureOn(t, newBundleServer(t), edit)
}

// newStoreFixtureOn is newStoreFixture with a server of the caller's.
func newStoreFixtureOn(t *testing.T, srv *bundleServer, edit func(o *bundle.StoreOptions)) *storeFixture {
	t.Helper()
	key, _ := testKeys()
	fx := &storeFixture{srv: srv, dir: filepath.Join(t.TempDir(), "bundles"), changes: make(chan struct{}, 64)}
	f, err := bundle.NewFetcher(bundle.FetchOptions{BaseURL: fx.srv.URL + "/bundles/", Attempts: 1, ProgressTimeout: 5 * time.Second, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := bundle.StoreOptions{
		Dir:        fx.dir,
		Fetcher:    f,
		Key:        &key.PublicKey,
		RetryAfter: time.Hour,
		OnChange:   func() { fx.changes <- struct{}{} },
	}
	if edit != nil {
		edit(&o)
	}
	fx.store = bundle.NewStore(o)
	t.Cleanup(fx.store.Close) // before the server closes
	return fx
}

// waitChange waits for OnChange.
func (fx *storeFixture) waitChange(t *testing.T) {
	t.Helper()
	select {
	case <-fx.changes:
	case <-time.After(10 * time.Second):
		t.Fatal("OnChange was not called within 10s")
	}
}

// noMoreChanges checks OnChange is not called again soon.
func (fx *storeFixture) noMoreChanges(t *testing.T) {
	t.Helper()
	select {
	case <-fx.changes:
		t.Error("OnChange was called once more")
	case <-time.After(50 * time.Millisecond):
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// goodFiles and goodManifest make the bundle the tests download.
func goodFiles() map[string][]byte {
	return map[string][]byte{"plugin.so": []byte("AAAABBBB"), "lib/dep.so": []byte("CCCC")}
}

func goodManifest() *apidef.BundleManifest {
	m := goManifest("plugin.so", "lib/dep.so")
	m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Post", Path: "lib/dep.so"}}
	return m
}

func TestStoreDownloadsInBackground(t *testing.T) {
	key, _ := testKeys()
	fx := newStoreFixture(t, nil)
	fx.srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key))
	release := fx.srv.holdRequests()

	if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("first Get = %v, want ErrPending", err)
	}
	// More Gets while the download runs, concurrently: still pending, one download.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = fx.store.Get("b.zip")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, bundle.ErrPending) {
			t.Errorf("Get #%d during the download = %v, want ErrPending", i, err)
		}
	}
	if exists(filepath.Join(fx.dir, "b.zip")) {
		t.Error("the bundle folder exists before the download ended")
	}
	release()
	fx.waitChange(t)

	b, err := fx.store.Get("b.zip")
	if err != nil {
		t.Fatalf("Get after the download = %v", err)
	}
	if b.Name != "b.zip" || b.Dir != filepath.Join(fx.dir, "b.zip") {
		t.Errorf("bundle = %q in %q, want b.zip in %q", b.Name, b.Dir, filepath.Join(fx.dir, "b.zip"))
	}
	if len(b.Manifest.CustomMiddleware.Pre) != 1 || b.Manifest.CustomMiddleware.Pre[0].Name != "Pre" || b.Manifest.Seal == nil {
		t.Errorf("manifest = %+v", b.Manifest)
	}
	if _, err := fx.store.Get("b.zip"); err != nil {
		t.Errorf("second Get = %v", err)
	}
	if n := fx.srv.count("b.zip"); n != 1 {
		t.Errorf("%d downloads, want 1", n)
	}
	fx.noMoreChanges(t)
}

func TestStoreAcceptsTykSignedBundle(t *testing.T) {
	key, _ := testKeys()
	fx := newStoreFixture(t, func(o *bundle.StoreOptions) { o.AllowUnsealed = true })
	files := goodFiles()
	m := goodManifest()
	tykSign(t, m, bundleDir(t, files), key) // no seal, as Tyk's bundler writes it
	fx.srv.put("tyk.zip", manifestZip(t, m, files))
	if _, err := fx.store.Get("tyk.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("Get = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	if _, err := fx.store.Get("tyk.zip"); err != nil {
		t.Fatalf("Get of a Tyk-signed bundle = %v", err)
	}
}

// TestStoreRequiresTheSeal strips the seal from a signed bundle and drops its security hook:
// Tyk's signature, over the files only, still verifies. With a public key, the bundle is refused
// (saying how to fix it) unless bundle_allow_unsealed opts out; the sealed bundle is accepted.
func TestStoreRequiresTheSeal(t *testing.T) {
	key, _ := testKeys()
	sealed := func(t *testing.T) (*apidef.BundleManifest, map[string][]byte) {
		files := goodFiles()
		m := goodManifest()
		if err := bundle.Sign(m, bundleDir(t, files), "b.zip", key); err != nil {
			t.Fatal(err)
		}
		return m, files
	}
	m, files := sealed(t)
	stripped := cloneManifest(t, m)
	stripped.Seal = nil
	stripped.CustomMiddleware.Pre = nil
	if len(m.CustomMiddleware.Pre) == 0 {
		t.Fatal("the good manifest has no pre hook to drop")
	}
	for _, tt := range []struct {
		name          string
		allowUnsealed bool
		bundle        *apidef.BundleManifest
		want          error
	}{
		{"sealed", false, m, nil},
		{"sealed, unsealed allowed", true, m, nil},
		{"seal stripped", false, stripped, bundle.ErrUnsealed},
		{"seal stripped, unsealed allowed", true, stripped, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newStoreFixture(t, func(o *bundle.StoreOptions) { o.AllowUnsealed = tt.allowUnsealed })
			fx.srv.put("b.zip", manifestZip(t, tt.bundle, files))
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
				t.Fatalf("Get = %v, want ErrPending", err)
			}
			fx.waitChange(t)
			b, err := fx.store.Get("b.zip")
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Get = %v", err)
				}
				if len(b.Manifest.CustomMiddleware.Pre) != len(tt.bundle.CustomMiddleware.Pre) {
					t.Errorf("pre hooks %+v", b.Manifest.CustomMiddleware.Pre)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			for _, fix := range []string{"gatehouse bundle build -k", "bundle_allow_unsealed", "as Tyk does"} {
				if !strings.Contains(err.Error(), fix) {
					t.Errorf("the refusal does not say %q: %v", fix, err)
				}
			}
		})
	}
}

func TestStoreRefusesBadDownloads(t *testing.T) {
	key, other := testKeys()
	// signedThen signs the good bundle, then changes it (files or manifest) before zipping, as
	// an attacker without the key would.
	signedThen := func(t *testing.T, edit func(m *apidef.BundleManifest, files map[string][]byte)) []byte {
		files := goodFiles()
		m := goodManifest()
		if err := bundle.Sign(m, bundleDir(t, files), "b.zip", key); err != nil {
			t.Fatal(err)
		}
		edit(m, files)
		return manifestZip(t, m, files)
	}
	tests := []struct {
		name string
		zip  func(t *testing.T) []byte // nil: the server has no such bundle
		want error                     // nil: any error
	}{
		{"signed with another key", func(t *testing.T) []byte {
			return signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), other)
		}, bundle.ErrBadSig},
		{"not signed", func(t *testing.T) []byte {
			return signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), nil)
		}, bundle.ErrUnsigned},
		{"a file changed after signing", func(t *testing.T) []byte {
			return signedThen(t, func(m *apidef.BundleManifest, f map[string][]byte) { f["plugin.so"] = []byte("AAAAXBBB") })
		}, bundle.ErrChecksum},
		{"bytes moved between files after signing", func(t *testing.T) []byte {
			return signedThen(t, func(m *apidef.BundleManifest, f map[string][]byte) {
				f["plugin.so"], f["lib/dep.so"] = []byte("AAAA"), []byte("BBBBCCCC")
			})
		}, bundle.ErrBadSeal},
		{"a hook renamed after signing", func(t *testing.T) []byte {
			return signedThen(t, func(m *apidef.BundleManifest, f map[string][]byte) { m.CustomMiddleware.Pre[0].Name = "Evil" })
		}, bundle.ErrBadSeal},
		{"an auth_check hook added after signing", func(t *testing.T) []byte {
			return signedThen(t, func(m *apidef.BundleManifest, f map[string][]byte) {
				m.CustomMiddleware.AuthCheck = apidef.MiddlewareDefinition{Name: "LetIn", Path: "plugin.so"}
			})
		}, bundle.ErrBadSeal},
		{"an unlisted file in the zip", func(t *testing.T) []byte {
			return signedThen(t, func(m *apidef.BundleManifest, f map[string][]byte) { f["evil.so"] = []byte("evil") })
		}, bundle.ErrUnsafe},
		{"an unlisted .so that a hook uses", func(t *testing.T) []byte {
			files := goodFiles()
			files["evil.so"] = []byte("evil")
			m := goodManifest()
			m.CustomMiddleware.Post[0].Path = "evil.so"
			tykSign(t, m, bundleDir(t, files), key)
			return manifestZip(t, m, files)
		}, nil},
		{"a zip slip entry", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{Name: "../escaped.txt", Data: []byte("x")}, zipEntry{Name: "manifest.json", Data: []byte("{}")})
		}, bundle.ErrUnsafe},
		{"a python bundle", func(t *testing.T) []byte {
			m := goodManifest()
			m.CustomMiddleware.Driver = "python"
			return signedBundleZip(t, "b.zip", m, goodFiles(), key)
		}, nil},
		{"no manifest", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{Name: "plugin.so", Data: []byte("x")})
		}, nil},
		{"an unparsable manifest", func(t *testing.T) []byte {
			return buildZip(t, zipEntry{Name: "plugin.so", Data: []byte("x")}, zipEntry{Name: "manifest.json", Data: []byte("{junk")})
		}, nil},
		{"not a zip", func(t *testing.T) []byte { return []byte("<html>not found</html>") }, bundle.ErrUnsafe},
		{"missing on the server", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newStoreFixture(t, nil)
			if tt.zip != nil {
				fx.srv.put("b.zip", tt.zip(t))
			}
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
				t.Fatalf("first Get = %v, want ErrPending", err)
			}
			fx.waitChange(t)
			if left := tree(t, filepath.Dir(fx.dir)); len(left) > 1 || (len(left) == 1 && left[0] != "bundles/") {
				t.Errorf("the failed download left %v", left)
			}
			for i := 0; i < 3; i++ {
				b, err := fx.store.Get("b.zip")
				if err == nil {
					t.Fatalf("Get #%d returned the bundle in %s", i+2, b.Dir)
				}
				if errors.Is(err, bundle.ErrPending) {
					t.Fatalf("Get #%d = ErrPending: the failed download was retried within RetryAfter", i+2)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("Get #%d = %v, want %v", i+2, err, tt.want)
				}
				if i == 0 {
					t.Logf("reported: %v", err)
				}
			}
			if n := fx.srv.count("b.zip"); n != 1 {
				t.Errorf("%d downloads, want 1 (no retry within RetryAfter)", n)
			}
			if left := tree(t, filepath.Dir(fx.dir)); len(left) > 1 || (len(left) == 1 && left[0] != "bundles/") {
				t.Errorf("after the Gets, the failed bundle left %v", left)
			}
			fx.noMoreChanges(t)
		})
	}
}

// TestStoreGetWhileDownloadVerifies: a Get while a download is verifying what it extracted
// reads nothing of that folder, which is the download's until it ends (verified, or removed when
// it fails): the Get reports the download running, nothing is removed or counted invalid twice,
// and the failure Gets report afterwards is the download's own (once a reload verified the
// folder beside it, removed it, and the download failed on a missing file).
func TestStoreGetWhileDownloadVerifies(t *testing.T) {
	_, other := testKeys()
	var invalid atomic.Int64
	fx := newStoreFixture(t, func(o *bundle.StoreOptions) {
		o.OnInvalid = func() { invalid.Add(1) }
	})
	fx.srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), other))
	held, release := make(chan struct{}), make(chan struct{})
	bundle.SetAfterExtract(t, func(string) {
		close(held)
		<-release
	})
	if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("first Get = %v, want ErrPending", err)
	}
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the download did not extract the bundle within 10s")
	}
	if !exists(filepath.Join(fx.dir, "b.zip")) {
		t.Fatal("the extracted folder is not there while the download verifies it")
	}
	_, err := fx.store.Get("b.zip")
	close(release)
	if !errors.Is(err, bundle.ErrPending) {
		t.Errorf("a Get while the download verifies = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrBadSig) {
		t.Errorf("after the download: %v, want %v", err, bundle.ErrBadSig)
	}
	if n := invalid.Load(); n != 1 {
		t.Errorf("OnInvalid called %d times for one bad download, want 1", n)
	}
}

// TestStoreRetriesAfterRetryAfter runs on a fake clock (testing/synctest), so that "right
// after", "just before RetryAfter" and "once RetryAfter has passed" are instants, not sleeps a
// loaded machine could stretch. The bundle server runs outside the bubble, real: its clock does
// not move while a download is on the network.
func TestStoreRetriesAfterRetryAfter(t *testing.T) {
	key, _ := testKeys()
	srv := newBundleServer(t)
	// Every answer closes its connection: an idle one kept for reuse would leave a goroutine of
	// the bubble waiting on the network, which stops its clock.
	srv.Config.SetKeepAlivesEnabled(false)
	const retryAfter = 100 * time.Millisecond
	synctest.Test(t, func(t *testing.T) {
		fx := newStoreFixtureOn(t, srv, func(o *bundle.StoreOptions) { o.RetryAfter = retryAfter })
		// The server is down for this bundle (404): the API fails closed.
		if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("Get = %v, want ErrPending", err)
		}
		fx.waitChange(t)
		if _, err := fx.store.Get("b.zip"); err == nil || errors.Is(err, bundle.ErrPending) {
			t.Fatalf("Get right after the failure = %v, want the download's error", err)
		}
		// The server comes back; up to RetryAfter, nothing is downloaded; after it, a Get
		// downloads again, reporting the failure until the new download ends.
		fx.srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key))
		time.Sleep(retryAfter - time.Millisecond)
		if _, err := fx.store.Get("b.zip"); err == nil || errors.Is(err, bundle.ErrPending) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("Get just before RetryAfter = %v, want the previous failure (404)", err)
		}
		synctest.Wait()
		if n := fx.srv.count("b.zip"); n != 1 {
			t.Fatalf("%d downloads before RetryAfter has passed, want 1", n)
		}
		time.Sleep(time.Millisecond)
		if _, err := fx.store.Get("b.zip"); err == nil || errors.Is(err, bundle.ErrPending) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("Get after RetryAfter = %v, want the previous failure (404) while it downloads again", err)
		}
		fx.waitChange(t)
		if _, err := fx.store.Get("b.zip"); err != nil {
			t.Fatalf("Get after the second download = %v", err)
		}
		if n := fx.srv.count("b.zip"); n != 2 {
			t.Errorf("%d downloads, want 2", n)
		}
	})
}

// failureLog is a log handler passing on each "bundle download failed" record.
type failureLog chan string

func (c failureLog) Enabled(context.Context, slog.Level) bool { return true }
func (c failureLog) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c failureLog) WithGroup(string) slog.Handler            { return c }
func (c failureLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "bundle download failed" {
		c <- r.Message
	}
	return nil
}

func (c failureLog) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("no download failed within 10s")
	}
}

// TestStoreRetryFailingAgainReportsTheFailure: a bundle that failed (404) is tried again after
// RetryAfter. Meanwhile, and after the retry fails the same way, the failure is what Get
// reports, never "being downloaded": the retry asks for no reload (no OnChange), so whatever a
// reload built during the retry is what the gateway shows afterwards.
func TestStoreRetryFailingAgainReportsTheFailure(t *testing.T) {
	failures := make(failureLog, 16)
	fx := newStoreFixture(t, func(o *bundle.StoreOptions) {
		o.RetryAfter = 50 * time.Millisecond
		o.Log = slog.New(failures)
	})
	if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("first Get = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	failures.wait(t)
	_, failure := fx.store.Get("b.zip")
	if failure == nil || errors.Is(failure, bundle.ErrPending) || !strings.Contains(failure.Error(), "404") {
		t.Fatalf("Get after the failure = %v, want the 404", failure)
	}

	time.Sleep(100 * time.Millisecond) // past RetryAfter
	release := fx.srv.holdRequests()
	defer release()
	check := func(when string) {
		t.Helper()
		if _, err := fx.store.Get("b.zip"); err == nil || err.Error() != failure.Error() {
			t.Errorf("Get %s = %v, want the failure %q", when, err, failure)
		}
	}
	check("that starts the retry")
	for deadline := time.Now().Add(10 * time.Second); fx.srv.count("b.zip") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bundle was not requested again after RetryAfter")
		}
	}
	check("while the retry runs")
	release()
	failures.wait(t)
	check("after the retry failed the same way")
	fx.noMoreChanges(t)
}

// editManifestOnDisk rewrites a bundle folder's manifest.json.
func editManifestOnDisk(t *testing.T, dir string, edit func(m *apidef.BundleManifest)) {
	t.Helper()
	p := filepath.Join(dir, bundle.ManifestName)
	m, err := bundle.ReadManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRefusesTamperedCache(t *testing.T) {
	key, other := testKeys()
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   error // nil: any error
	}{
		{"a byte of the plugin changed", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"plugin.so": []byte("AAAAXBBB")})
		}, bundle.ErrChecksum},
		{"bytes moved between files", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/dep.so": []byte("BBBBCCCC")})
		}, bundle.ErrBadSeal},
		{"an unlisted .so added", func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string][]byte{"lib/evil.so": []byte("evil")})
		}, bundle.ErrUnsafe},
		{"a hook renamed in manifest.json", func(t *testing.T, dir string) {
			editManifestOnDisk(t, dir, func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Name = "Evil" })
		}, bundle.ErrBadSeal},
		{"a hook pointed at another listed file", func(t *testing.T, dir string) {
			editManifestOnDisk(t, dir, func(m *apidef.BundleManifest) { m.CustomMiddleware.Pre[0].Path = "lib/dep.so" })
		}, bundle.ErrBadSeal},
		{"re-signed with another key", func(t *testing.T, dir string) {
			editManifestOnDisk(t, dir, func(m *apidef.BundleManifest) {
				if err := bundle.Sign(m, dir, "b.zip", other); err != nil {
					t.Fatal(err)
				}
			})
		}, bundle.ErrBadSig},
		{"signature and seal stripped", func(t *testing.T, dir string) {
			editManifestOnDisk(t, dir, func(m *apidef.BundleManifest) { m.Signature, m.Seal = "", nil })
		}, bundle.ErrUnsigned},
		{"manifest.json deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bundle.ManifestName))
		}, nil},
		{"a listed file deleted", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "lib", "dep.so"))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newStoreFixture(t, nil)
			fx.srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key))
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
				t.Fatalf("first Get = %v, want ErrPending", err)
			}
			fx.waitChange(t)
			b, err := fx.store.Get("b.zip")
			if err != nil {
				t.Fatalf("Get after the download = %v", err)
			}

			tt.tamper(t, b.Dir)
			release := fx.srv.holdRequests() // the new download waits, so the removal can be seen
			defer release()
			_, err = fx.store.Get("b.zip")
			if err == nil {
				t.Fatal("Get returned a bundle tampered on disk")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Get = %v, want %v", err, tt.want)
			}
			if exists(b.Dir) {
				t.Errorf("the tampered bundle %s was not removed", b.Dir)
			}
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
				t.Errorf("Get after the removal = %v, want ErrPending (downloading again)", err)
			}
			release()
			fx.waitChange(t)
			if _, err := fx.store.Get("b.zip"); err != nil {
				t.Fatalf("Get after downloading again = %v", err)
			}
			if n := fx.srv.count("b.zip"); n != 2 {
				t.Errorf("%d downloads, want 2", n)
			}
		})
	}
}

// TestStoreConcurrentGetsOfTamperedCache: two Gets find the same tampered bundle on disk at
// once. The first to get on removes it and downloads it again; the other, which verified the
// tampered folder before that download replaced it, must not remove what the download put there:
// the verified bundle (it returns it), or the folder the download is still verifying (it reports
// the download, whose verdict stays its own). The tampering is counted once, the bundle is
// downloaded once more, not twice, and the Gets after the download return it.
func TestStoreConcurrentGetsOfTamperedCache(t *testing.T) {
	for _, whileVerifying := range []bool{false, true} {
		name := "after the download"
		if whileVerifying {
			name = "while the download verifies"
		}
		t.Run(name, func(t *testing.T) {
			key, _ := testKeys()
			var invalid atomic.Int64
			fx := newStoreFixture(t, func(o *bundle.StoreOptions) {
				o.OnInvalid = func() { invalid.Add(1) }
			})
			fx.srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key))
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
				t.Fatalf("first Get = %v, want ErrPending", err)
			}
			fx.waitChange(t)
			b, err := fx.store.Get("b.zip")
			if err != nil {
				t.Fatalf("Get after the download = %v", err)
			}
			writeFiles(t, b.Dir, map[string][]byte{"plugin.so": []byte("AAAAXBBB")})

			// The first Get to find the folder tampered is held before it removes it.
			held, release := make(chan struct{}), make(chan struct{})
			var first atomic.Bool
			bundle.SetCachedInvalid(t, func(string) {
				if first.CompareAndSwap(false, true) {
					close(held)
					<-release
				}
			})
			slow := make(chan error, 1)
			go func() {
				_, err := fx.store.Get("b.zip")
				slow <- err
			}()
			<-held
			var slowErr error
			if whileVerifying {
				// The held Get goes on while the new download holds what it extracted.
				bundle.SetAfterExtract(t, func(string) {
					close(release)
					slowErr = <-slow
				})
			}
			// The other removes the folder and downloads the bundle again, which ends verified.
			if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrChecksum) {
				t.Fatalf("second Get of the tampered bundle = %v, want %v", err, bundle.ErrChecksum)
			}
			fx.waitChange(t)
			if whileVerifying {
				if !errors.Is(slowErr, bundle.ErrPending) {
					t.Errorf("the Get held until the download verified = %v, want ErrPending", slowErr)
				}
			} else {
				close(release)
				if err := <-slow; err != nil {
					t.Errorf("the Get held until the bundle was downloaded again = %v, want the downloaded bundle", err)
				}
			}
			got, err := fx.store.Get("b.zip")
			if err != nil {
				t.Fatalf("Get once the download ended = %v, want the downloaded bundle", err)
			}
			if got.Dir != b.Dir {
				t.Errorf("bundle in %s, want %s", got.Dir, b.Dir)
			}
			if ch := fx.store.Pending("b.zip"); ch != nil {
				<-ch // let a needless download end before counting
			}
			if n := fx.srv.count("b.zip"); n != 2 {
				t.Errorf("%d downloads, want 2 (the first, and one after the tampering was found)", n)
			}
			if n := invalid.Load(); n != 1 {
				t.Errorf("OnInvalid called %d times for one tampered folder, want 1", n)
			}
		})
	}
}

func TestStoreWithoutFetcher(t *testing.T) {
	key, _ := testKeys()
	const why = "enable_bundle_downloader is off"
	dir := filepath.Join(t.TempDir(), "bundles")
	store := bundle.NewStore(bundle.StoreOptions{Dir: dir, NoFetch: why, Key: &key.PublicKey})
	t.Cleanup(store.Close)

	_, err := store.Get("missing.zip")
	if err == nil || errors.Is(err, bundle.ErrPending) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "missing.zip") {
		t.Fatalf("Get = %v, want an error naming the bundle and %q", err, why)
	}

	// A verified bundle already on disk is used without downloading.
	if err := bundle.Extract(signedBundleZip(t, "cached.zip", goodManifest(), goodFiles(), key), filepath.Join(dir, "cached.zip"), bundle.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	b, err := store.Get("cached.zip")
	if err != nil {
		t.Fatalf("Get of a cached bundle = %v", err)
	}
	if b.Dir != filepath.Join(dir, "cached.zip") {
		t.Errorf("Dir = %s", b.Dir)
	}

	// Tampered on disk: refused and removed; it cannot come back without a fetcher.
	writeFiles(t, b.Dir, map[string][]byte{"plugin.so": []byte("tampered")})
	if _, err := store.Get("cached.zip"); !errors.Is(err, bundle.ErrChecksum) {
		t.Fatalf("Get of a tampered bundle = %v, want ErrChecksum", err)
	}
	if exists(b.Dir) {
		t.Error("the tampered bundle was not removed")
	}
	if _, err := store.Get("cached.zip"); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Get after the removal = %v, want an error naming %q", err, why)
	}
}

func TestStoreRefusesBadNames(t *testing.T) {
	fx := newStoreFixture(t, nil)
	for _, name := range []string{"../x.zip", "a/b.zip", "..", ".hidden", "%2e%2e", "@evil", ""} {
		if _, err := fx.store.Get(name); err == nil || errors.Is(err, bundle.ErrPending) {
			t.Errorf("Get(%q) = %v, want a refusal", name, err)
		}
	}
	if n := fx.srv.total.Load(); n != 0 {
		t.Errorf("%d requests for refused names", n)
	}
}

// TestStoreDistinctNamesDistinctFolders: two different bundle names are two different
// bundles, and must not share a cache folder.
func TestStoreDistinctNamesDistinctFolders(t *testing.T) {
	key, _ := testKeys()
	fx := newStoreFixture(t, nil)
	withHook := func(bundleName, name string) []byte {
		m := goodManifest()
		m.CustomMiddleware.Pre[0].Name = name
		return signedBundleZip(t, bundleName, m, goodFiles(), key)
	}
	fx.srv.put("auth.zip", withHook("auth.zip", "FromAuthZip"))
	fx.srv.put("auth", withHook("auth", "FromAuth"))

	if _, err := fx.store.Get("auth.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("Get(auth.zip) = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	if b, err := fx.store.Get("auth.zip"); err != nil || b.Manifest.CustomMiddleware.Pre[0].Name != "FromAuthZip" {
		t.Fatalf("Get(auth.zip) = %v, %v", b, err)
	}
	b, err := fx.store.Get("auth")
	if errors.Is(err, bundle.ErrPending) {
		fx.waitChange(t)
		b, err = fx.store.Get("auth")
	}
	if err != nil {
		t.Fatalf("Get(auth) = %v", err)
	}
	if got := b.Manifest.CustomMiddleware.Pre[0].Name; got != "FromAuth" {
		t.Errorf("Get(auth) returned the hooks of %q (from folder %s): bundle auth.zip's, not auth's", got, b.Dir)
	}
}

func TestStoreCloseStopsDownloads(t *testing.T) {
	fx := newStoreFixture(t, nil)
	fx.srv.put("b.zip", []byte("never served"))
	defer fx.srv.holdRequests()() // released at the end at the latest
	if _, err := fx.store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("Get = %v, want ErrPending", err)
	}
	done := make(chan struct{})
	go func() {
		fx.store.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a hanging download within 5s")
	}
	fx.noMoreChanges(t)
}

// TestStoreRelativeDir: a store folder given relative (middleware_path defaults to
// "middleware") gives bundles absolute folders, and the hook paths Merge makes are exactly the
// paths whose hashes were verified, so the loader checks them.
func TestStoreRelativeDir(t *testing.T) {
	key, _ := testKeys()
	t.Chdir(t.TempDir())
	rel := filepath.Join("middleware", "bundles")
	store := bundle.NewStore(bundle.StoreOptions{Dir: rel, NoFetch: "off in this test", Key: &key.PublicKey})
	t.Cleanup(store.Close)
	if err := bundle.Extract(signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key), filepath.Join(rel, "b.zip"), bundle.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	b, err := store.Get("b.zip")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	want, err := filepath.Abs(filepath.Join(rel, "b.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Dir != want {
		t.Errorf("Dir = %q, want the absolute %q", b.Dir, want)
	}
	cm, err := bundle.Merge([]*bundle.Bundle{b})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(cm.Pre, cm.Post...) {
		if !filepath.IsAbs(d.Path) || !strings.HasPrefix(d.Path, want+string(filepath.Separator)) {
			t.Errorf("hook %s path %q is not inside %s", d.Name, d.Path, want)
		}
		if _, ok := b.Hashes[d.Path]; !ok {
			t.Errorf("hook %s path %q has no verified hash (Hashes %v): it would load unverified", d.Name, d.Path, b.Hashes)
		}
	}
}

func TestMerge(t *testing.T) {
	root := t.TempDir()
	def := func(name, path string) apidef.MiddlewareDefinition {
		return apidef.MiddlewareDefinition{Name: name, Path: path}
	}
	mk := func(name, dir string, edit func(cm *apidef.MiddlewareSection)) *bundle.Bundle {
		m := &apidef.BundleManifest{}
		m.CustomMiddleware.Driver = apidef.GoPluginDriver
		edit(&m.CustomMiddleware)
		return &bundle.Bundle{Name: name, Dir: dir, Manifest: m}
	}
	d1, d2, d3 := filepath.Join(root, "one"), filepath.Join(root, "two"), filepath.Join(root, "three")
	b1 := mk("one.zip", d1, func(cm *apidef.MiddlewareSection) {
		cm.Pre = []apidef.MiddlewareDefinition{def("Pre1a", "p.so"), def("Pre1b", "lib/q.so")}
		cm.Post = []apidef.MiddlewareDefinition{def("Post1", "p.so")}
		cm.AuthCheck = def("Auth", "auth.so")
	})
	b2 := mk("two.zip", d2, func(cm *apidef.MiddlewareSection) {
		cm.Pre = []apidef.MiddlewareDefinition{def("Pre2", "p.so")}
		cm.PostKeyAuth = []apidef.MiddlewareDefinition{def("PKA2", "p.so")}
		cm.Response = []apidef.MiddlewareDefinition{def("Resp2", "r.so"), {Name: "Off", Path: "r.so", Disabled: true}}
		cm.TrafficLogs = def("Logs", "logs.so")
	})
	b3 := mk("three.zip", d3, func(cm *apidef.MiddlewareSection) {
		cm.Pre = []apidef.MiddlewareDefinition{def("Pre3", "p.so")}
		cm.Post = []apidef.MiddlewareDefinition{def("Post3", "x/y/z.so")}
		cm.Response = []apidef.MiddlewareDefinition{def("Resp3", "")}
	})
	authToo := mk("auth2.zip", filepath.Join(root, "a2"), func(cm *apidef.MiddlewareSection) {
		cm.AuthCheck = def("Auth2", "auth.so")
	})
	logsToo := mk("logs2.zip", filepath.Join(root, "l2"), func(cm *apidef.MiddlewareSection) {
		cm.TrafficLogs = def("Logs2", "logs.so")
	})

	type hook struct{ Name, Path string }
	hooks := func(list []apidef.MiddlewareDefinition) []hook {
		var out []hook
		for _, d := range list {
			out = append(out, hook{d.Name, d.Path})
		}
		return out
	}
	tests := []struct {
		name    string
		bundles []*bundle.Bundle
		errHas  []string
		check   func(t *testing.T, cm apidef.MiddlewareSection)
	}{
		{name: "one bundle", bundles: []*bundle.Bundle{b1}, check: func(t *testing.T, cm apidef.MiddlewareSection) {
			if got, want := hooks(cm.Pre), []hook{{"Pre1a", filepath.Join(d1, "p.so")}, {"Pre1b", filepath.Join(d1, "lib", "q.so")}}; !slices.Equal(got, want) {
				t.Errorf("pre = %v, want %v", got, want)
			}
			if cm.AuthCheck.Name != "Auth" || cm.AuthCheck.Path != filepath.Join(d1, "auth.so") {
				t.Errorf("auth_check = %+v", cm.AuthCheck)
			}
		}},
		{name: "arrays concatenated in bundle order", bundles: []*bundle.Bundle{b1, b2, b3}, check: func(t *testing.T, cm apidef.MiddlewareSection) {
			if cm.Driver != apidef.GoPluginDriver {
				t.Errorf("driver = %q", cm.Driver)
			}
			for _, c := range []struct {
				what string
				got  []hook
				want []hook
			}{
				{"pre", hooks(cm.Pre), []hook{{"Pre1a", filepath.Join(d1, "p.so")}, {"Pre1b", filepath.Join(d1, "lib", "q.so")}, {"Pre2", filepath.Join(d2, "p.so")}, {"Pre3", filepath.Join(d3, "p.so")}}},
				{"post", hooks(cm.Post), []hook{{"Post1", filepath.Join(d1, "p.so")}, {"Post3", filepath.Join(d3, "x", "y", "z.so")}}},
				{"post_key_auth", hooks(cm.PostKeyAuth), []hook{{"PKA2", filepath.Join(d2, "p.so")}}},
				{"response", hooks(cm.Response), []hook{{"Resp2", filepath.Join(d2, "r.so")}, {"Off", filepath.Join(d2, "r.so")}, {"Resp3", ""}}},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			if !cm.Response[1].Disabled {
				t.Error("the disabled response hook lost its flag")
			}
			if cm.AuthCheck.Path != filepath.Join(d1, "auth.so") {
				t.Errorf("auth_check = %+v", cm.AuthCheck)
			}
			if cm.TrafficLogs.Name != "Logs" || cm.TrafficLogs.Path != filepath.Join(d2, "logs.so") {
				t.Errorf("traffic_logs = %+v", cm.TrafficLogs)
			}
		}},
		{name: "the reverse order", bundles: []*bundle.Bundle{b3, b2, b1}, check: func(t *testing.T, cm apidef.MiddlewareSection) {
			if got := hooks(cm.Pre); len(got) != 4 || got[0].Name != "Pre3" || got[1].Name != "Pre2" || got[2].Name != "Pre1a" || got[3].Name != "Pre1b" {
				t.Errorf("pre = %v", got)
			}
		}},
		{name: "two bundles setting auth_check", bundles: []*bundle.Bundle{b1, b2, authToo}, errHas: []string{"one.zip", "auth2.zip", "auth_check"}},
		{name: "two bundles setting traffic_logs", bundles: []*bundle.Bundle{b2, logsToo}, errHas: []string{"two.zip", "logs2.zip", "traffic_logs"}},
		{name: "no bundles", bundles: nil, check: func(t *testing.T, cm apidef.MiddlewareSection) {
			if cm.Enabled() {
				t.Errorf("merged = %+v, want no hooks", cm)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm, err := bundle.Merge(tt.bundles)
			if tt.errHas != nil {
				if err == nil {
					t.Fatalf("Merge = %+v, want an error", cm)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("Merge error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Merge = %v", err)
			}
			tt.check(t, cm)
			// Merge leaves the bundles' own manifests alone.
			if b1.Manifest.CustomMiddleware.Pre[0].Path != "p.so" {
				t.Errorf("Merge changed bundle one's manifest: %q", b1.Manifest.CustomMiddleware.Pre[0].Path)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		field string
		want  []string
	}{
		{"", nil},
		{"b.zip", []string{"b.zip"}},
		{"  b.zip  ", []string{"b.zip"}},
		{"a.zip,b.zip", []string{"a.zip", "b.zip"}},
		{"a.zip, b.zip ,c.zip", []string{"a.zip", "b.zip", "c.zip"}},
		{"a.zip,,b.zip,", []string{"a.zip", "b.zip"}},
		{" , ,", nil},
		{"b.zip,a.zip", []string{"b.zip", "a.zip"}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			if got := bundle.Names(tt.field); !slices.Equal(got, tt.want) {
				t.Errorf("Names(%q) = %q, want %q", tt.field, got, tt.want)
			}
		})
	}
}

// TestStoreRetainForgetsUnnamedBundles: bundles asked for once (downloaded, or failing) are
// forgotten when no API names them any more, so that APIs created and deleted with new bundle
// names leave nothing behind in memory; a bundle still named keeps its last download, and one
// forgotten and named again is verified from its folder without a new download.
func TestStoreRetainForgetsUnnamedBundles(t *testing.T) {
	key, _ := testKeys()
	fx := newStoreFixture(t, nil)
	const n = 20
	for i := range n {
		name := fmt.Sprintf("b%02d.zip", i)
		if i%2 == 0 { // the odd ones are missing from the server: their download fails
			fx.srv.put(name, signedBundleZip(t, name, goodManifest(), goodFiles(), key))
		}
		if _, err := fx.store.Get(name); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("first Get(%s) = %v, want ErrPending", name, err)
		}
		fx.waitChange(t)
	}
	if got := fx.store.Remembered(); got != n {
		t.Fatalf("%d bundles remembered after %d downloads, want %d", got, n, n)
	}
	fx.store.Retain(map[string]bool{"b00.zip": true, "b01.zip": true})
	if got := fx.store.Remembered(); got != 2 {
		t.Errorf("%d bundles remembered after Retain of 2, want 2", got)
	}
	if _, ok := fx.store.LastDownload("b00.zip"); !ok {
		t.Error("b00.zip, still named, lost its last download")
	}
	if _, ok := fx.store.LastDownload("b02.zip"); ok {
		t.Error("b02.zip, no longer named, still has its last download")
	}
	// b01.zip still fails and still waits its hour before another attempt.
	if _, err := fx.store.Get("b01.zip"); err == nil || errors.Is(err, bundle.ErrPending) {
		t.Errorf("Get(b01.zip), failed and retained = %v, want its failure", err)
	}
	// b02.zip, forgotten, is on disk: verified there, not downloaded again.
	if _, err := fx.store.Get("b02.zip"); err != nil {
		t.Errorf("Get(b02.zip) after Retain = %v", err)
	}
	if c := fx.srv.count("b02.zip"); c != 1 {
		t.Errorf("b02.zip downloaded %d times, want 1", c)
	}
	fx.store.Retain(nil)
	if got := fx.store.Remembered(); got != 0 {
		t.Errorf("%d bundles remembered after Retain of none, want 0", got)
	}
}

// TestStorePrunesUnusedDownloads: Prune removes the folders of downloaded bundles no API has
// used for UnusedFor, but the most recently used KeepUnused; a folder placed by hand, the
// bundles in use and those used lately stay; a bundle removed and named again is downloaded
// again; with downloading off nothing is removed.
func TestStorePrunesUnusedDownloads(t *testing.T) {
	key, _ := testKeys()
	fx := newStoreFixture(t, func(o *bundle.StoreOptions) { o.KeepUnused = 1 })
	names := []string{"r1.zip", "r2.zip", "r3.zip", "r4.zip", "r5.zip", "recent.zip"}
	for _, n := range names {
		fx.srv.put(n, signedBundleZip(t, n, goodManifest(), goodFiles(), key))
		if _, err := fx.store.Get(n); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("Get(%s) = %v, want ErrPending", n, err)
		}
		fx.waitChange(t)
	}
	// Last used a month ago, a minute apart, but recent.zip, used an hour ago.
	base := time.Now().Add(-30 * 24 * time.Hour)
	for i, n := range names {
		at := base.Add(time.Duration(i) * time.Minute)
		if n == "recent.zip" {
			at = time.Now().Add(-time.Hour)
		}
		if err := os.Chtimes(filepath.Join(fx.dir, ".downloaded", n), at, at); err != nil {
			t.Fatal(err)
		}
	}
	manual := filepath.Join(fx.dir, "manual.zip")
	writeFiles(t, manual, goodFiles())

	inUse := map[string]bool{"r2.zip": true, "r5.zip": true}
	removed := fx.store.Prune(inUse)
	slices.Sort(removed)
	// recent.zip is the most recently used unused one (kept by KeepUnused 1, and by its age).
	if want := []string{"r1.zip", "r3.zip", "r4.zip"}; !slices.Equal(removed, want) {
		t.Errorf("Prune removed %q, want %q", removed, want)
	}
	for n, want := range map[string]bool{"r1.zip": false, "r2.zip": true, "r3.zip": false, "r4.zip": false, "r5.zip": true, "recent.zip": true, "manual.zip": true} {
		if exists(filepath.Join(fx.dir, n)) != want {
			t.Errorf("folder %s exists = %v, want %v", n, !want, want)
		}
	}
	if exists(filepath.Join(fx.dir, ".downloaded", "r1.zip")) {
		t.Error("the note of a removed bundle stays")
	}
	// A bundle in use has its note set to now: unused later, it stays for UnusedFor.
	if info, err := os.Stat(filepath.Join(fx.dir, ".downloaded", "r2.zip")); err != nil || time.Since(info.ModTime()) > time.Minute {
		t.Errorf("the note of a bundle in use does not say it was used now: %v %v", info, err)
	}
	if again := fx.store.Prune(map[string]bool{}); len(again) != 0 {
		t.Errorf("bundles used a moment ago were removed: %q", again)
	}
	// Named again: downloaded again, and usable.
	if _, err := fx.store.Get("r1.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("Get of a removed bundle = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	if _, err := fx.store.Get("r1.zip"); err != nil {
		t.Fatalf("Get after downloading it again = %v", err)
	}
	if n := fx.srv.count("r1.zip"); n != 2 {
		t.Errorf("r1.zip downloaded %d times, want 2", n)
	}

	// A bundle in use at the last Prune and no more was used until now, however long ago that
	// Prune was (a gateway that did not reload for a month).
	month := time.Now().Add(-30 * 24 * time.Hour)
	fx.store.Prune(map[string]bool{"r2.zip": true})
	if err := os.Chtimes(filepath.Join(fx.dir, ".downloaded", "r2.zip"), month, month); err != nil {
		t.Fatal(err)
	}
	if got := fx.store.Prune(map[string]bool{}); slices.Contains(got, "r2.zip") {
		t.Errorf("a bundle in use until this reload was removed: %q", got)
	}

	// With downloading off, nothing is removed: it could not come back.
	off := bundle.NewStore(bundle.StoreOptions{Dir: fx.dir, NoFetch: "enable_bundle_downloader is off", KeepUnused: -1, UnusedFor: -1})
	if got := off.Prune(map[string]bool{}); len(got) != 0 {
		t.Errorf("with downloading off Prune removed %q", got)
	}
	off.Close()
}

// TestDownloadsBoundedAndStreamed: bundle transfers wait their turn, at most bundle.MaxTransfers
// at once, each streamed into a file of the store's folder that is gone once the bundle is
// extracted.
func TestDownloadsBoundedAndStreamed(t *testing.T) {
	key, _ := testKeys()
	var names []string
	zipped := map[string][]byte{}
	for i := range bundle.MaxTransfers + 3 {
		names = append(names, fmt.Sprintf("b%d.zip", i))
		zipped[names[i]] = signedBundleZip(t, names[i], goodManifest(), goodFiles(), key)
	}
	var inFlight, most atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		w.Write(zipped[strings.TrimPrefix(r.URL.Path, "/bundles/")])
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	f, err := bundle.NewFetcher(bundle.FetchOptions{BaseURL: srv.URL + "/bundles/", Attempts: 1, ProgressTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bundles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A file a stopped process left behind goes when a store starts.
	if err := os.WriteFile(filepath.Join(dir, ".download-stale"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := make(chan struct{}, 16)
	store := bundle.NewStore(bundle.StoreOptions{Dir: dir, Fetcher: f, Key: &key.PublicKey, RetryAfter: time.Hour,
		OnChange: func() { changes <- struct{}{} }})
	t.Cleanup(store.Close)
	if _, err := os.Stat(filepath.Join(dir, ".download-stale")); !os.IsNotExist(err) {
		t.Errorf("a stale download file was kept: %v", err)
	}
	for _, n := range names {
		if _, err := store.Get(n); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("Get(%s) = %v, want ErrPending", n, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for inFlight.Load() < bundle.MaxTransfers && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // one more, were it let through, shows up by then
	if n := inFlight.Load(); n != bundle.MaxTransfers {
		t.Errorf("%d downloads under way at once, want %d", n, bundle.MaxTransfers)
	}
	close(release)
	for range names {
		select {
		case <-changes:
		case <-time.After(20 * time.Second):
			t.Fatal("the downloads did not all end")
		}
	}
	for _, n := range names {
		if _, err := store.Get(n); err != nil {
			t.Errorf("Get(%s) after its download: %v", n, err)
		}
	}
	if m := most.Load(); m > bundle.MaxTransfers {
		t.Errorf("at most %d downloads ran at once, want %d", m, bundle.MaxTransfers)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".download-*")); len(left) > 0 {
		t.Errorf("download files left behind: %v", left)
	}
}

// TestStoreRefusesSubstitution: the server answers guard-2.zip with the bytes of another bundle
// signed and sealed by the same key, built as other-1.zip, whose hooks lack the guard's security
// hook. The seal binds the name a bundle was built as: the store refuses it, saying what to do,
// whether it was downloaded or placed in the store's folder by hand; under its own name it loads.
func TestStoreRefusesSubstitution(t *testing.T) {
	key, _ := testKeys()
	guard := goodManifest()
	other := goodManifest()
	other.CustomMiddleware.Pre = nil
	otherZip := signedBundleZip(t, "other-1.zip", other, goodFiles(), key)
	fx := newStoreFixture(t, nil)
	fx.srv.put("guard-1.zip", signedBundleZip(t, "guard-1.zip", guard, goodFiles(), key))
	fx.srv.put("guard-2.zip", otherZip)
	fx.srv.put("other-1.zip", otherZip)
	get := func(name string) (*bundle.Bundle, error) {
		t.Helper()
		if _, err := fx.store.Get(name); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("first Get(%s) = %v, want ErrPending", name, err)
		}
		fx.waitChange(t)
		return fx.store.Get(name)
	}
	for _, name := range []string{"guard-1.zip", "other-1.zip"} {
		if _, err := get(name); err != nil {
			t.Errorf("Get(%s) = %v", name, err)
		}
	}
	_, err := get("guard-2.zip")
	if err == nil {
		t.Fatal("another bundle served as guard-2.zip was accepted")
	}
	for _, want := range []string{"bundle guard-2.zip", "built as other-1.zip", "served as guard-2.zip", "gatehouse bundle build", "-o guard-2.zip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "guard-2.zip")); !os.IsNotExist(err) {
		t.Errorf("the refused bundle's folder stays: %v", err)
	}

	// Placed by hand, under another name than the one it was built as.
	dir := filepath.Join(t.TempDir(), "bundles")
	if err := bundle.Extract(otherZip, filepath.Join(dir, "guard-3.zip"), bundle.DefaultLimits); err != nil {
		t.Fatal(err)
	}
	off := bundle.NewStore(bundle.StoreOptions{Dir: dir, NoFetch: "off", Key: &key.PublicKey})
	defer off.Close()
	if _, err := off.Get("guard-3.zip"); err == nil || !strings.Contains(err.Error(), "built as other-1.zip, served as guard-3.zip") {
		t.Errorf("Get of a folder placed by hand under another name = %v", err)
	}
}

// TestStoreOldSealWarns: a bundle sealed by an earlier release does not bind its name. It still
// loads, so that existing deployments keep working, with a warning (once per bundle, not at
// every reload) that says so and how to fix it.
func TestStoreOldSealWarns(t *testing.T) {
	key, _ := testKeys()
	files := goodFiles()
	m := goodManifest()
	if err := bundle.Write(m, bundleDir(t, files), filepath.Join(t.TempDir(), "old.zip"), key); err != nil {
		t.Fatal(err)
	}
	if err := bundle.Reseal(m, key, 1); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	fx := newStoreFixture(t, func(o *bundle.StoreOptions) { o.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	fx.srv.put("old.zip", manifestZip(t, m, files))
	if _, err := fx.store.Get("old.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("first Get = %v, want ErrPending", err)
	}
	fx.waitChange(t)
	for range 3 {
		if _, err := fx.store.Get("old.zip"); err != nil {
			t.Fatalf("Get of a bundle with a version 1 seal = %v", err)
		}
	}
	got := logs.String()
	for _, want := range []string{"level=WARN", "not bound to its name", "bundle=old.zip", "seal_version=1", "gatehouse bundle build"} {
		if !strings.Contains(got, want) {
			t.Errorf("the logs lack %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "not bound to its name"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, got)
	}
}
