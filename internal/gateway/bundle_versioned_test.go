package gateway_test

import (
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
	"github.com/gatehouse/gatehouse/internal/version"
)

// versioned is the name the plugin compiler gives plugin name for this gateway.
func versioned(name string) string {
	return name + "_" + version.Version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".so"
}

// TestBundleVersionedPluginName: inside a bundle, a hook path p1.so resolves as it does outside
// one (and as in Tyk) to p1_{version}_{GOOS}_{GOARCH}.so first, among the files the bundle lists.
//
//   - both.zip lists p1.so, built for another gateway build (-trimpath flipped: it cannot load
//     here), and the versioned file, built for this one: the versioned file runs.
//   - only.zip, sealed, and tyk.zip, signed as Tyk's bundler does, list the versioned file only,
//     as Tyk's usual manifests do: `bundle build` and the gateway accept them, and the versioned
//     file runs.
//   - A per-endpoint plugin path in the bundle's folder that names no listed file is refused,
//     never looked for on disk.
func TestBundleVersionedPluginName(t *testing.T) {
	key, pub := keyPair(t)
	v1 := plugintest.BuildModule(t, hotDir, "example.com/hot/bundle1", nil)
	other := plugintest.BuildVariant(t, hotDir, "flipped-trimpath", func(flags []string) []string {
		for i, f := range flags {
			if f == "-trimpath" {
				return append(flags[:i:i], flags[i+1:]...)
			}
		}
		return append(flags, "-trimpath")
	})
	hook := apidef.MiddlewareSection{Driver: "goplugin", Pre: []apidef.MiddlewareDefinition{{Name: "Version", Path: "lib/p1.so"}}}

	dir := t.TempDir()
	copyFile(t, other, filepath.Join(dir, "lib", "p1.so"))
	copyFile(t, v1, filepath.Join(dir, "lib", versioned("p1")))
	both := writeBundle(t, "both.zip", dir, &apidef.BundleManifest{FileList: []string{"lib/p1.so", "lib/" + versioned("p1")}, CustomMiddleware: hook}, key)

	dir = t.TempDir()
	copyFile(t, v1, filepath.Join(dir, "lib", versioned("p1")))
	only := writeBundle(t, "only.zip", dir, &apidef.BundleManifest{FileList: []string{"lib/" + versioned("p1")}, CustomMiddleware: hook}, key)

	plugin, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	tyk := tykSigned(t, map[string][]byte{versioned("p1"): plugin}, []string{versioned("p1")},
		map[string]any{"driver": "goplugin", "pre": []map[string]any{{"name": "Version", "path": "p1.so"}}}, key)

	srv := newBundleServer(t)
	srv.put("both.zip", both)
	srv.put("only.zip", only)
	srv.put("tyk.zip", tyk)
	up := gt.NewUpstream(t)
	endpoint := bundleAPI("endpoint", up.URL, "only.zip")
	endpoint.VersionData.Versions = map[string]apidef.VersionInfo{"Default": {Name: "Default", UseExtendedPaths: true,
		ExtendedPaths: apidef.ExtendedPathsSet{GoPlugin: []apidef.GoPluginMeta{
			{Path: "/bar", Method: "GET", PluginPath: "lib/p2.so", SymbolName: "Version"}}}}}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		bundleAPI("both", up.URL, "both.zip"), bundleAPI("only", up.URL, "only.zip"), bundleAPI("tykstyle", up.URL, "tyk.zip"), endpoint,
	}, Config: func(c *config.Config) {
		c.EnableBundleDownloader, c.BundleBaseURL, c.PublicKeyPath = true, srv.URL+"/bundles/", pub
		c.BundleAllowUnsealed = true // for tyk.zip
	}})
	eventually(t, "every download has ended", func() bool {
		return !strings.Contains(g.Do(gt.Case{Admin: true, Path: "/hello"}).Body, "is being downloaded")
	})
	for _, api := range []string{"both", "only", "tykstyle"} {
		if code, v := versionOf(g, "/"+api+"/x"); code != 200 || v != "v1" {
			t.Errorf("API %s: status %d, version %q, want 200 from the versioned file", api, code, v)
		}
	}
	gt.Check(t, gt.Case{Code: 500, BodyMatch: "a plugin it needs could not be loaded"}, g.Do(gt.Case{Path: "/endpoint/bar"}))
	h := g.Do(gt.Case{Admin: true, Path: "/hello"}).Body
	if !strings.Contains(h, "file_list") || !strings.Contains(h, "p2.so") {
		t.Errorf("/hello does not report the per-endpoint plugin outside file_list:\n%s", h)
	}
	if strings.Contains(h, "bundle:") {
		t.Errorf("/hello reports a bundle refused:\n%s", h)
	}
}

// tykSigned packs a bundle as Tyk's bundler does (MD5 checksum and RSA PKCS#1 v1.5 SHA-256
// signature over the listed files concatenated, no seal), computed here independently of
// Gatehouse's code.
func tykSigned(t *testing.T, files map[string][]byte, list []string, cm map[string]any, key *rsa.PrivateKey) []byte {
	t.Helper()
	md, sha := md5.New(), sha256.New()
	for _, f := range list {
		md.Write(files[f])
		sha.Write(files[f])
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sha.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	entries := maps.Clone(files)
	entries["manifest.json"] = mustJSON(t, map[string]any{"file_list": list, "custom_middleware": cm,
		"checksum": hex.EncodeToString(md.Sum(nil)), "signature": base64.StdEncoding.EncodeToString(sig)})
	return zipOf(t, entries)
}
