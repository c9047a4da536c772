//go:build unix

package gateway_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// TestAppPathSpecialFiles: a named pipe (zz.json) and a symbolic link to /dev/zero among the
// definitions of app_path neither hold a reload (before, the pipe blocked it for good, and
// POST /tyk/apis with it, behind the store's lock) nor grow memory without end: the reload
// finishes, the other APIs serve, /hello names each file and why it is not loaded, and the
// Gateway API writes.
func TestAppPathSpecialFiles(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("good", "/good/", up.URL)}})
	if err := syscall.Mkfifo(filepath.Join(g.AppPath, "zz.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Sorted after the pipe: code that blocks on the pipe never reads /dev/zero without end.
	if err := os.Symlink("/dev/zero", filepath.Join(g.AppPath, "zzzero.json")); err != nil {
		t.Fatal(err)
	}
	g.WriteAPI(gt.API("other", "/other/", up.URL))

	// within fails the test when f has not returned after 10 s.
	within := func(what string, f func() error) error {
		t.Helper()
		return testkit.Within(t, 10*time.Second, what, f)
	}
	if err := within("the reload", func() error { return g.GW.Reload(context.Background(), true) }); err != nil {
		t.Fatalf("reload: %v", err)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/good/x"}))
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/other/x"}))
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	for _, want := range []string{
		`"status":"warn"`,
		`"file:zz.json"`, `zz.json: not a regular file but a named pipe (FIFO)`,
		`"file:zzzero.json"`, `zzzero.json: not a regular file but a character device`,
	} {
		if !strings.Contains(h, want) {
			t.Errorf("/hello does not say %s:\n%s", want, h)
		}
	}

	// The Gateway API's writes read app_path too, under the store's lock.
	var code int
	var body []byte
	err := within("POST /tyk/apis", func() error {
		req, err := http.NewRequest(http.MethodPost, g.URL+"/tyk/apis", strings.NewReader(
			`{"api_id": "new", "name": "new", "use_keyless": true, "active": true, "proxy": {"listen_path": "/new/", "target_url": "`+up.URL+`"}}`))
		if err != nil {
			return err
		}
		req.Header.Set("X-Tyk-Authorization", gt.Secret)
		resp, err := g.Client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		code = resp.StatusCode
		body, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil || code != 200 {
		t.Fatalf("POST /tyk/apis: %d %s, %v", code, body, err)
	}
	if err := within("the reload", func() error { return g.GW.Reload(context.Background(), true) }); err != nil {
		t.Fatalf("reload: %v", err)
	}
	gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/new/x"}))
}
