package bundle_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
)

// TestWriteFuzzSeeds writes the seed corpora of FuzzManifest and FuzzExtract into
// testdata/fuzz, when GATEHOUSE_WRITE_FUZZ_SEEDS=1. The files are committed: run it again only to
// change the seeds, and commit what it writes.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("GATEHOUSE_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set GATEHOUSE_WRITE_FUZZ_SEEDS=1 to write the seed corpora")
	}
	for name, data := range manifestSeeds() {
		writeSeed(t, "FuzzManifest", name, fmt.Sprintf("[]byte(%q)\n", data))
	}
	for name, s := range extractSeeds(t) {
		writeSeed(t, "FuzzExtract", name, fmt.Sprintf("[]byte(%q)\nuint16(%d)\nuint16(%d)\n", s.data, s.maxEntries, s.maxBytes))
	}
}

func writeSeed(t *testing.T, target, name, values string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+values), 0o644); err != nil {
		t.Fatal(err)
	}
}

func manifestSeeds() map[string]string {
	return map[string]string{
		"minimal":           `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"plugin.so"}]}}`,
		"every-hook":        `{"file_list":["plugin.so","lib/helper.so","lib/auth.so"],"custom_middleware":{"pre":[{"name":"Pré","path":"plugin.so"},{"disabled":true,"name":"Off","path":"gone.so"}],"post":[{"name":"Post","path":"lib/helper.so","require_session":true}],"post_key_auth":[{"name":"AfterAuth","path":"./plugin.so","raw_body_only":true}],"auth_check":{"name":"Auth","path":"lib/auth.so"},"response":[],"traffic_logs":{"name":"Logs","path":"lib/helper.so"},"driver":"goplugin","id_extractor":{"extract_from":"header","extract_with":"value \u003c\u0026\u003e \u2028"}},"checksum":"34a47ed3289731abacf9b853a64b769f","signature":"c2ln","gatehouse_seal":{"version":2,"files":{"plugin.so":"f1"},"signature":"c2VhbA=="}}`,
		"tyk-bundler":       `{"file_list":["plugin.so"],"custom_middleware":{"pre":[{"name":"Sym","path":"plugin.so"}],"post":[],"post_key_auth":[],"auth_check":{"name":"","path":""},"response":[],"traffic_logs":{"name":"","path":""},"driver":"goplugin","id_extractor":{"extract_from":"","extract_with":"","extractor_config":{}}},"checksum":"d41d8cd98f00b204e9800998ecf8427e","signature":""}`,
		"python":            `{"file_list":["middleware.py"],"custom_middleware":{"driver":"python","pre":[{"name":"MyPre","path":""}],"post":[{"name":"Other","path":"other.py"}]}}`,
		"keys-in-caps":      `{"FILE_LIST":["plugin.so"],"Custom_Middleware":{"DRIVER":"goplugin","PRE":[{"NAME":"Pre","PATH":"plugin.so"}]}}`,
		"keys-folded":       `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin","poſt":[{"name":"Post","path":"evil.so"}],"pre":[{"name":"Pre","path":"plugin.so"}]}}`,
		"keys-repeated":     `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"A","path":"plugin.so"}],"pre":[{"name":"B","path":"evil.so"}],"Pre":null}}`,
		"hook-not-listed":   `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"other.so"}]}}`,
		"hook-paths-odd":    `{"file_list":["plugin.so","lib/x.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"A","path":"lib/../plugin.so"},{"name":"B","path":"./lib//x.so"},{"name":"C","path":"/plugin.so"},{"name":"D","path":"../b/plugin.so"}]}}`,
		"hook-auth-only":    `{"file_list":["auth.so"],"custom_middleware":{"driver":"goplugin","auth_check":{"name":"Auth","path":"auth.so"}}}`,
		"hook-logs-only":    `{"file_list":["logs.so"],"custom_middleware":{"driver":"goplugin","traffic_logs":{"name":"Logs","path":"logs.so","disabled":false}}}`,
		"hooks-disabled":    `{"file_list":[],"custom_middleware":{"driver":"goplugin","pre":[{"name":"A","path":"a.so","disabled":true}],"auth_check":{"name":"Auth","path":"auth.so","disabled":true}}}`,
		"file-list-bad":     `{"file_list":["plugin.so","../etc/passwd","/abs","a\\b","C:x","a//b","./a","a/.","PLUGIN.so","a\u0000b","a\u007fb"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"plugin.so"}]}}`,
		"file-list-unicode": `{"file_list":["ünïcode.so","a\u2028b.so","\ud800.so","\u00e9.so","e\u0301.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"ünïcode.so"}]}}`,
		"invalid-utf8":      "{\"file_list\":[\"p\xff.so\"],\"custom_middleware\":{\"driver\":\"goplugin\",\"pre\":[{\"name\":\"\xc3\x28\",\"path\":\"p\xff.so\"}]}}",
		"seal-odd":          `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"plugin.so"}]},"gatehouse_seal":{"version":-1,"files":null,"signature":"%%%"}}`,
		"seal-version-huge": `{"file_list":["plugin.so"],"custom_middleware":{"driver":"goplugin"},"gatehouse_seal":{"version":1e400}}`,
		"types-wrong":       `{"file_list":"plugin.so","custom_middleware":{"driver":1,"pre":{"name":"Pre"}}}`,
		"null":              `null`,
		"array":             `[]`,
		"empty-object":      `{}`,
		"truncated":         `{"file_list": ["plugin.so"], "custom_middleware": {"driver": "goplu`,
		"trailing-garbage":  `{"file_list":["plugin.so"]} {}`,
		"deep-nesting":      `{"custom_middleware":{"id_extractor":{"extractor_config":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}}}`,
		"long-name":         `{"file_list":["` + strings.Repeat("a", 300) + `"],"custom_middleware":{"driver":"goplugin","pre":[{"name":"Pre","path":"` + strings.Repeat("a", 300) + `"}]}}`,
	}
}

type extractSeed struct {
	data                 []byte
	maxEntries, maxBytes uint16
}

func extractSeeds(t *testing.T) map[string]extractSeed {
	ptr := func(v uint64) *uint64 { return &v }
	file := func(name, data string) zipEntry { return zipEntry{Name: name, Data: []byte(data), Deflate: true} }
	folder := func(name string) zipEntry { return zipEntry{Name: name, Mode: fs.ModeDir | 0o755} }
	z := func(entries ...zipEntry) []byte { return buildZip(t, entries...) }
	const lim, big = 16, 65535
	many := func(n int) []byte {
		var entries []zipEntry
		for i := range n {
			entries = append(entries, zipEntry{Name: fmt.Sprint("f", i)})
		}
		return z(entries...)
	}
	m := goManifest("plugin.so", "lib/dep.so")
	m.CustomMiddleware.Post = []apidef.MiddlewareDefinition{{Name: "Post", Path: "lib/dep.so"}}
	written := signedBundleZip(t, "bundle.zip", m, map[string][]byte{"plugin.so": []byte("plugin code"), "lib/dep.so": []byte("dep")}, nil)
	zeros := string(make([]byte, 200<<10))
	return map[string]extractSeed{
		"bundle-written":         {written, lim, big},
		"folders-explicit":       {z(folder("lib/"), folder("lib/deeper/"), file("lib/deeper/x.so", "x"), file("manifest.json", "{}")), lim, big},
		"folders-implicit":       {z(file("a/b/c.so", "c"), file("a/d.so", "d"), file("..x", "dots")), lim, big},
		"folders-case":           {z(folder("Lib/"), file("Lib/a.so", "a"), file("lib/b.so", "b")), lim, big},
		"empty-files":            {z(zipEntry{Name: "empty"}, zipEntry{Name: "lib/empty"}), lim, big},
		"climb":                  {z(file("../x", "x")), lim, big},
		"climb-deep":             {z(file("a/../../../../x", "x")), lim, big},
		"climb-inside":           {z(file("a/../b", "x")), lim, big},
		"climb-after-good":       {z(file("ok.so", "ok"), file("../../x", "x")), lim, big},
		"climb-backslash":        {z(file(`..\x`, "x")), lim, big},
		"absolute":               {z(file("/etc/gatehouse-fuzz", "x")), lim, big},
		"absolute-windows":       {z(file(`C:\x`, "x"), file("C:/y", "y")), lim, big},
		"dot-elements":           {z(file("./a", "x"), file("a/./b", "y")), lim, big},
		"empty-elements":         {z(file("a//b", "x"), zipEntry{Name: "c//"}), lim, big},
		"empty-name":             {z(file("", "x")), lim, big},
		"control-character":      {z(file("a\x00b", "x"), file("a\nb", "y")), lim, big},
		"long-element":           {z(file(strings.Repeat("a", 300), "x")), lim, big},
		"long-name":              {z(file(strings.Repeat("abcdefg/", 64)+"x", "x")), lim, big},
		"symlink":                {z(zipEntry{Name: "plugin.so", Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777}), lim, big},
		"symlink-then-through":   {z(zipEntry{Name: "lib", Data: []byte("/tmp"), Mode: fs.ModeSymlink | 0o777}, file("lib/x.so", "x")), lim, big},
		"fifo":                   {z(zipEntry{Name: "fifo", Mode: fs.ModeNamedPipe | 0o644}), lim, big},
		"device":                 {z(zipEntry{Name: "dev", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o644}), lim, big},
		"setuid":                 {z(zipEntry{Name: "suid", Data: []byte("x"), Mode: fs.ModeSetuid | 0o755}), lim, big},
		"duplicate":              {z(file("plugin.so", "one"), file("plugin.so", "two")), lim, big},
		"duplicate-case":         {z(file("lib/Plugin.so", "one"), file("lib/plugin.so", "two")), lim, big},
		"duplicate-folder-file":  {z(folder("x/"), file("x", "file")), lim, big},
		"file-then-inside-it":    {z(file("a", "file"), file("a/b", "inside")), lim, big},
		"inside-then-file":       {z(file("a/b", "inside"), file("a", "file")), lim, big},
		"file-then-inside-case":  {z(file("a", "file"), file("A/b", "inside")), lim, big},
		"declared-huge":          {z(zipEntry{Name: "big", Data: []byte("x"), Declared: ptr(1 << 40)}), lim, big},
		"declared-wraps":         {z(file("a", "ab"), zipEntry{Name: "b", Data: []byte("x"), Declared: ptr(math.MaxUint64)}), lim, big},
		"declared-sum-over":      {z(file("a", strings.Repeat("a", 600)), file("b", strings.Repeat("b", 600))), lim, 1000},
		"declared-lie-bomb":      {z(zipEntry{Name: "bomb", Data: []byte(zeros), Deflate: true, Declared: ptr(100)}), lim, big},
		"declared-lie-small":     {z(zipEntry{Name: "short", Data: []byte("0123456789"), Declared: ptr(4)}), lim, big},
		"declared-lie-large":     {z(zipEntry{Name: "long", Data: []byte("0123"), Declared: ptr(10)}), lim, big},
		"at-the-limits":          {z(file("a", strings.Repeat("a", 500)), file("b", strings.Repeat("b", 500))), 2, 1000},
		"one-byte-over":          {z(file("a", strings.Repeat("a", 500)), file("b", strings.Repeat("b", 501))), 2, 1000},
		"too-many-entries":       {many(17), lim, big},
		"too-many-entries-large": {many(300), 299, big},
		"no-entries":             {z(), lim, big},
		"zero-limits":            {z(file("a", "a")), 0, 0},
		"not-a-zip":              {[]byte("this is not a zip archive, just text"), lim, big},
		"empty-input":            {nil, lim, big},
		"truncated":              {z(file("a", "aaaa"))[:30], lim, big},
		"corrupt-deflate":        {corruptDeflate(t), lim, big},
	}
}

// corruptDeflate is an archive whose one entry's compressed bytes are damaged.
func corruptDeflate(t *testing.T) []byte {
	data := buildZip(t, zipEntry{Name: "a", Data: bytes.Repeat([]byte("abcdefgh"), 100), Deflate: true})
	out := bytes.Clone(data)
	for i := 40; i < 60 && i < len(out); i++ {
		out[i] ^= 0x5a
	}
	return out
}
