package bundle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/bundle"
	"github.com/gatehouse/gatehouse/internal/leakcheck"
)

// TestMain fails the package when a test leaves goroutines behind: a download never stopped, a
// server never closed.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// leakFixture is a bundle server holding a.zip and b.zip, and a store on it made after the
// leak check's baseline: the server stays up until the check, so that a connection the store
// left open shows, both its ends.
func leakFixture(t *testing.T) (*bundleServer, *bundle.Store, chan struct{}, *leakcheck.Baseline) {
	t.Helper()
	key, _ := testKeys()
	srv := newBundleServer(t)
	srv.put("a.zip", signedBundleZip(t, "a.zip", goodManifest(), goodFiles(), key))
	srv.put("b.zip", signedBundleZip(t, "b.zip", goodManifest(), goodFiles(), key))
	base := leakcheck.Start(leakcheck.IncludeIdleHTTP())
	f, err := bundle.NewFetcher(bundle.FetchOptions{BaseURL: srv.URL + "/bundles/", Attempts: 1, ProgressTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan struct{}, 8)
	store := bundle.NewStore(bundle.StoreOptions{
		Dir: t.TempDir(), Fetcher: f, Key: &key.PublicKey, RetryAfter: time.Hour,
		OnChange: func() { changes <- struct{}{} },
	})
	t.Cleanup(store.Close)
	return srv, store, changes, base
}

// closeChecked closes the store, with a bound, and checks nothing it started still runs.
func closeChecked(t *testing.T, store *bundle.Store, base *leakcheck.Baseline) {
	t.Helper()
	closed := make(chan struct{})
	go func() { defer close(closed); store.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s")
	}
	base.Verify(t)
}

// TestStoreCloseAfterDownloads: once the downloads are over, Close leaves nothing running, not
// even the idle connection of the last download.
func TestStoreCloseAfterDownloads(t *testing.T) {
	leakcheck.Check(t)
	_, store, changes, base := leakFixture(t)
	for _, name := range []string{"a.zip", "b.zip"} {
		if _, err := store.Get(name); !errors.Is(err, bundle.ErrPending) {
			t.Fatalf("first Get(%s) = %v, want ErrPending", name, err)
		}
		select {
		case <-changes:
		case <-time.After(10 * time.Second):
			t.Fatalf("the download of %s did not end within 10s", name)
		}
		if _, err := store.Get(name); err != nil {
			t.Fatalf("Get(%s) after the download = %v", name, err)
		}
	}
	closeChecked(t, store, base)
}

// TestStoreCloseDuringDownload: Close stops a download the server holds, and leaves nothing
// running.
func TestStoreCloseDuringDownload(t *testing.T) {
	leakcheck.Check(t)
	srv, store, _, base := leakFixture(t)
	release := srv.holdRequests()
	defer release()
	if _, err := store.Get("b.zip"); !errors.Is(err, bundle.ErrPending) {
		t.Fatalf("Get of b.zip = %v, want ErrPending", err)
	}
	for deadline := time.Now().Add(10 * time.Second); srv.count("b.zip") == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the download of b.zip did not reach the server")
		}
	}
	closeChecked(t, store, base)
}
