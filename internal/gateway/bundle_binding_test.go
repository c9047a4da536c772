package gateway_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// guardBundles packs, with Gatehouse's bundler and one key, the bundle of an API's security
// hook (a pre hook answering 403) as guardName, and a harmless one (a post hook adding X-Foo) as
// otherName. Both use the tykcompat plugin every bundle test shares.
func guardBundles(t *testing.T, key *rsa.PrivateKey, guardName, otherName string) (guard, other []byte) {
	t.Helper()
	so := plugintest.Build(t, tykcompatPkg)
	dir, m := bundleDir(t, so, "RejectWithoutBody")
	guard = writeBundle(t, guardName, dir, m, key)
	dir, m = bundleDir(t, so, "MyPluginPerPathFoo")
	m.CustomMiddleware.Pre, m.CustomMiddleware.Post = nil, m.CustomMiddleware.Pre
	other = writeBundle(t, otherName, dir, m, key)
	return guard, other
}

// TestBundleSubstitutionRefused: the bundle server answers guard-2.zip with the bytes of another
// bundle signed and sealed by the same key (other-1.zip, whose only hook is harmless). The seal
// binds the name the bundle was built as, so the gateway refuses it, saying what to do: the API
// pointed at guard-2.zip keeps its verified version (the security hook keeps answering 403), an
// API with no earlier version answers 503, and nothing runs the other bundle's hooks under the
// wrong name. The bundles served under the names they were built as load.
func TestBundleSubstitutionRefused(t *testing.T) {
	key, pub := keyPair(t)
	guard, other := guardBundles(t, key, "guard-1.zip", "other-1.zip")
	srv := newBundleServer(t)
	srv.put("guard-1.zip", guard)
	srv.put("other-1.zip", other)
	srv.put("guard-2.zip", other) // the substitution
	up := gt.NewUpstream(t)
	def := bundleAPI("guard", up.URL, "guard-1.zip")
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{def, bundleAPI("other", up.URL, "other-1.zip"), bundleAPI("fresh", up.URL, "guard-2.zip")},
		Config: func(c *config.Config) {
			c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
		}})
	eventually(t, "every download has ended", func() bool {
		return !strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "is being downloaded")
	})
	g.Run(t,
		gt.Case{Name: "the guard bundle, under its name, runs its security hook", Path: "/guard/x", Code: 403},
		gt.Case{Name: "the other bundle, under its name, loads", Path: "/other/x", Code: 200, HeadersMatch: map[string]string{"X-Foo": "foo"}},
		gt.Case{Name: "another bundle served as guard-2.zip is refused", Path: "/fresh/x", Code: 503, BodyMatch: "its plugin bundle could not be loaded"},
	)
	wants := []string{"built as other-1.zip", "served as guard-2.zip", "-o guard-2.zip"}
	reason := bundleReason(t, g, "fresh")
	for _, want := range wants {
		if !strings.Contains(reason, want) {
			t.Errorf("/hello reports API fresh with %q, want %q", reason, want)
		}
	}

	// The API moves to guard-2.zip: its verified version, with the security hook, keeps serving.
	def.CustomMiddlewareBundle = "guard-2.zip"
	g.WriteAPI(def)
	g.Reload()
	eventually(t, "the substitution is reported for API guard", func() bool {
		return strings.Contains(bundleReason(t, g, "guard"), "served as guard-2.zip")
	})
	gt.Check(t, gt.Case{Code: 403}, g.Do(gt.Case{Path: "/guard/x"}))
	if up := up.Requests(); len(up) != 1 {
		t.Errorf("the upstream received %d requests, want 1 (API other's)", len(up))
	}
	if !strings.Contains(g.Logs(), "bundle not available; the previous version of the API keeps serving") {
		t.Error("the refusal was not logged")
	}

	// The guard bundle rebuilt under the name it is served as loads, once the refused download
	// is tried again (a reload after its wait).
	rebuilt, _ := guardBundles(t, key, "guard-2.zip", "unused.zip")
	srv.put("guard-2.zip", rebuilt)
	eventually(t, "guard-2.zip, rebuilt as guard-2.zip, serves", func() bool {
		g.Reload()
		time.Sleep(100 * time.Millisecond)
		return g.Do(gt.Case{Path: "/fresh/x"}).Code == 403
	})
	if reason := bundleReason(t, g, "guard"); reason != "" {
		t.Errorf("/hello still reports API guard: %q", reason)
	}
}

// TestBundleOldSealWarns: a bundle sealed by an earlier release (seal version 2, computed here
// independently of Gatehouse's code, as documented in internal/bundle/seal.go) does not bind its
// name: it still loads, so that existing deployments keep working, with a warning that says so
// and how to fix it.
func TestBundleOldSealWarns(t *testing.T) {
	key, pub := keyPair(t)
	so := plugintest.Build(t, tykcompatPkg)
	srv := newBundleServer(t)
	srv.put("legacy.zip", resealV2(t, ourBundle(t, "legacy.zip", so, "MyPluginPerPathFoo", key), key))
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{bundleAPI("legacy", up.URL, "legacy.zip")}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
	}})
	eventually(t, "the bundle serves", func() bool { return g.Do(gt.Case{Path: "/legacy/x"}).Header.Get("X-Foo") == "foo" })
	logs := g.Logs()
	for _, want := range []string{"not bound to its name", "legacy.zip", "gatehouse bundle build"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %q:\n%s", want, logs)
		}
	}
}

// resealV2 replaces the seal of a bundle signed by Gatehouse with a version 2 seal, as releases
// before seal version 3 wrote it, over the same files.
func resealV2(t *testing.T, zipped []byte, key *rsa.PrivateKey) []byte {
	t.Helper()
	return rezip(t, zipped, func(name string, b []byte) []byte {
		if name != "manifest.json" {
			return b
		}
		var m apidef.BundleManifest
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Seal == nil {
			t.Fatal("the bundle has no seal")
		}
		sum := sha256.Sum256(sealV2(&m, m.Seal.Files))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		m.Seal = &apidef.BundleSeal{Version: 2, Files: m.Seal.Files, Signature: base64.StdEncoding.EncodeToString(sig)}
		return mustJSON(t, &m)
	})
}

// sealV2 encodes what a version 2 seal signs: every string its length (8 bytes, big-endian)
// then its bytes, every count 8 bytes, every flag a byte, each field after its JSON name.
func sealV2(m *apidef.BundleManifest, files map[string]string) []byte {
	var b []byte
	str := func(s string) { b = append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...) }
	num := func(n int) { b = binary.BigEndian.AppendUint64(b, uint64(n)) }
	flag := func(f bool) {
		if f {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	hook := func(d apidef.MiddlewareDefinition) {
		str("name")
		str(d.Name)
		str("path")
		str(d.Path)
		str("disabled")
		flag(d.Disabled)
		str("require_session")
		flag(d.RequireSession)
		str("raw_body_only")
		flag(d.RawBodyOnly)
	}
	str("gatehouse bundle seal")
	num(2)
	str("file_list")
	num(len(m.FileList))
	for _, f := range m.FileList {
		str(f)
	}
	str("files")
	num(len(files))
	for _, f := range slices.Sorted(maps.Keys(files)) {
		str(f)
		str(files[f])
	}
	cm := m.CustomMiddleware
	str("custom_middleware")
	str("driver")
	str(cm.Driver)
	for _, l := range []struct {
		name string
		list []apidef.MiddlewareDefinition
	}{{"pre", cm.Pre}, {"post_key_auth", cm.PostKeyAuth}, {"post", cm.Post}, {"response", cm.Response}} {
		str(l.name)
		num(len(l.list))
		for _, d := range l.list {
			hook(d)
		}
	}
	str("auth_check")
	hook(cm.AuthCheck)
	str("traffic_logs")
	hook(cm.TrafficLogs)
	str("id_extractor")
	str("extract_from")
	str(cm.IdExtractor.ExtractFrom)
	str("extract_with")
	str(cm.IdExtractor.ExtractWith)
	return b
}
