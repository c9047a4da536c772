package bundle_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

// openFixture extracts a committed bundle of testdata/seal into a fresh folder and returns its
// manifest as read from disk, and the folder.
func openFixture(t *testing.T, name string) (*apidef.BundleManifest, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "seal", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	if err := bundle.Extract(data, dir, bundle.DefaultLimits); err != nil {
		t.Fatalf("Extract %s: %v", name, err)
	}
	m, err := bundle.ReadManifest(filepath.Join(dir, bundle.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.CheckManifest(m); err != nil {
		t.Fatalf("%s: CheckManifest = %v", name, err)
	}
	if err := bundle.CheckContents(dir, m); err != nil {
		t.Fatalf("%s: CheckContents = %v", name, err)
	}
	return m, dir
}

// TestSealGolden: the bundles of testdata/seal, sealed by each version, still verify, and the
// bytes their seals sign are exactly the committed ones. If this fails, the encoding of a seal
// version changed, and every bundle sealed with it would be refused: add a version instead.
func TestSealGolden(t *testing.T) {
	pub, err := bundle.LoadPublicKey(filepath.Join("testdata", "seal", "key.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pubV3, err := bundle.LoadPublicKey(filepath.Join("testdata", "seal", "key-v3.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bundle, golden string
		version        int
	}{
		{"v1-full.zip", "v1-full.sealed.json", 1},
		{"v1-minimal.zip", "v1-minimal.sealed.json", 1},
		{"v2-full.zip", "v2-full.sealed.hex", 2},
		{"v2-minimal.zip", "v2-minimal.sealed.hex", 2},
		{"v3-full.zip", "v3-full.sealed.hex", 3},
		{"v3-minimal.zip", "v3-minimal.sealed.hex", 3},
	}
	for _, tt := range tests {
		t.Run(tt.bundle, func(t *testing.T) {
			pub := pub
			if tt.version == 3 {
				pub = pubV3
			}
			m, dir := openFixture(t, tt.bundle)
			if m.Seal == nil || m.Seal.Version != tt.version {
				t.Fatalf("seal = %+v, want version %d", m.Seal, tt.version)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "seal", tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(tt.golden, ".hex") {
				if want, err = hex.DecodeString(strings.Join(strings.Fields(string(want)), "")); err != nil {
					t.Fatal(err)
				}
			}
			got, err := bundle.SealContent(tt.version, m, m.Seal.Files, m.Seal.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("version %d sealed content changed:\ngot\n%s\nwant\n%s", tt.version, hex.Dump(got), hex.Dump(want))
			}
			if _, err := bundle.VerifyFiles(m, dir, tt.bundle, pub, false); err != nil {
				t.Errorf("VerifyFiles = %v", err)
			}
		})
	}
	t.Run("the full fixtures set every field their version covers", func(t *testing.T) {
		for _, name := range []string{"v1-full.zip", "v2-full.zip", "v3-full.zip"} {
			m, _ := openFixture(t, name)
			set := map[string]bool{}
			for _, mut := range mutations(t, m) {
				if mut.leaf && covers(m.Seal.Version, mut) {
					key := mut.section
					if mut.hook != "" {
						key = "hook " + mut.hook
					}
					set[key] = set[key] || mut.wasSet
				}
			}
			for key, ok := range set {
				if !ok {
					t.Errorf("%s: no value for %s", name, key)
				}
			}
		}
	})
}

// jsonFields lists the JSON names of struct type typ's fields, as encoding/json names them;
// fields of a nested struct other than a hook are listed as "field.sub".
func jsonFields(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[apidef.MiddlewareDefinition]() && typ != reflect.TypeFor[apidef.BundleManifest]() {
			for _, sub := range jsonFields(f.Type) {
				out = append(out, name+"."+sub)
			}
			continue
		}
		out = append(out, name)
	}
	return out
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// TestSealCoversEveryField fails when a field is added to apidef.BundleManifest,
// MiddlewareSection or MiddlewareDefinition (or one is renamed) without the seal Sign writes
// covering it. Do not add the field to that version: its encoding is frozen, and bundles sealed
// with it must keep verifying. Add a new version (an encoding and a coverage in seal.go) that
// covers the field, make Sign write it, and keep the old one for verifying: it refuses a manifest
// that sets the new field.
func TestSealCoversEveryField(t *testing.T) {
	manifest, section, hook := bundle.SealCoverage(bundle.SealVersion)
	for _, tt := range []struct {
		typ     reflect.Type
		covered []string
	}{
		{reflect.TypeFor[apidef.BundleManifest](), manifest},
		{reflect.TypeFor[apidef.MiddlewareSection](), section},
		{reflect.TypeFor[apidef.MiddlewareDefinition](), hook},
	} {
		fields := jsonFields(tt.typ)
		for _, f := range fields {
			if !slices.Contains(tt.covered, f) {
				t.Errorf("%s field %q is not covered by seal version %d: add a seal version that covers it", tt.typ, f, bundle.SealVersion)
			}
		}
		for _, f := range tt.covered {
			if !slices.Contains(fields, f) {
				t.Errorf("seal version %d covers %s field %q, which apidef no longer has", bundle.SealVersion, tt.typ, f)
			}
		}
	}
}

// mutation is one change to a manifest, made by reflection so that fields added to apidef later
// get theirs without a change here.
type mutation struct {
	name string
	// section and hook name the field changed as a seal's coverage does; hook is empty for a
	// change to a whole list.
	section, hook string
	// leaf says the change is to one field; wasSet that the field held a value before.
	leaf, wasSet bool
	apply        func(m *apidef.BundleManifest)
}

// mutations lists changes to m: each field of custom_middleware (each field of each hook, and
// hooks added, removed and swapped in each list), and changes to file_list.
func mutations(t *testing.T, m *apidef.BundleManifest) []mutation {
	t.Helper()
	hookType := reflect.TypeFor[apidef.MiddlewareDefinition]()
	st := reflect.TypeFor[apidef.MiddlewareSection]()
	cm := func(m *apidef.BundleManifest) reflect.Value { return reflect.ValueOf(&m.CustomMiddleware).Elem() }
	base := cm(m)
	var out []mutation
	leaf := func(name, section, hook string, get func(cm reflect.Value) reflect.Value) {
		checkChangeable(t, name, get(base))
		out = append(out, mutation{name: name, section: section, hook: hook, leaf: true, wasSet: !isEmpty(get(base)),
			apply: func(m *apidef.BundleManifest) { change(get(cm(m))) }})
	}
	for i := range st.NumField() {
		f := st.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		switch {
		case f.Type == hookType:
			for j := range hookType.NumField() {
				h := jsonName(hookType.Field(j))
				leaf(name+"."+h, name, h, func(cm reflect.Value) reflect.Value { return cm.Field(i).Field(j) })
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem() == hookType:
			n := base.Field(i).Len()
			for k := range n {
				for j := range hookType.NumField() {
					h := jsonName(hookType.Field(j))
					leaf(fmt.Sprintf("%s[%d].%s", name, k, h), name, h, func(cm reflect.Value) reflect.Value { return cm.Field(i).Index(k).Field(j) })
				}
			}
			list := func(what string, edit func(l reflect.Value) reflect.Value) {
				out = append(out, mutation{name: name + ": " + what, section: name, apply: func(m *apidef.BundleManifest) {
					l := cm(m).Field(i)
					l.Set(edit(l))
				}})
			}
			list("a hook added", func(l reflect.Value) reflect.Value {
				return reflect.Append(l, reflect.ValueOf(apidef.MiddlewareDefinition{Name: "Evil", Path: "plugin.so"}))
			})
			if n > 0 {
				list("the last hook removed", func(l reflect.Value) reflect.Value { return l.Slice(0, l.Len()-1) })
			}
			if n > 1 {
				list("two hooks swapped", func(l reflect.Value) reflect.Value {
					s := reflect.MakeSlice(l.Type(), l.Len(), l.Len())
					reflect.Copy(s, l)
					a, b := s.Index(0).Interface(), s.Index(1).Interface()
					s.Index(0).Set(reflect.ValueOf(b))
					s.Index(1).Set(reflect.ValueOf(a))
					return s
				})
			}
		case f.Type.Kind() == reflect.Struct:
			for j := range f.Type.NumField() {
				sub := name + "." + jsonName(f.Type.Field(j))
				leaf(sub, sub, "", func(cm reflect.Value) reflect.Value { return cm.Field(i).Field(j) })
			}
		default:
			leaf(name, name, "", func(cm reflect.Value) reflect.Value { return cm.Field(i) })
		}
	}
	// file_list: not a custom_middleware field, but sealed too.
	if len(m.FileList) > 1 {
		out = append(out, mutation{name: "file_list: two names swapped", section: "file_list", apply: func(m *apidef.BundleManifest) {
			m.FileList[0], m.FileList[1] = m.FileList[1], m.FileList[0]
		}})
	}
	out = append(out, mutation{name: "file_list: a name added", section: "file_list", apply: func(m *apidef.BundleManifest) {
		m.FileList = append(m.FileList, "extra.so")
	}})
	return out
}

// checkChangeable fails the test for a field change cannot handle: extend change then.
func checkChangeable(t *testing.T, name string, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64, reflect.Slice:
		return
	}
	t.Fatalf("field %s is a %s: teach change (seal_test.go) to change it", name, v.Kind())
}

// change gives a field another value: a non-empty one when it was empty.
func change(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
	}
}

func isEmpty(v reflect.Value) bool {
	if v.Kind() == reflect.Slice || v.Kind() == reflect.Map {
		return v.Len() == 0
	}
	return v.IsZero()
}

// covers reports whether a seal version covers what mut changes.
func covers(version int, mut mutation) bool {
	_, section, hook := bundle.SealCoverage(version)
	if mut.section == "file_list" {
		return true
	}
	return slices.Contains(section, mut.section) && (mut.hook == "" || slices.Contains(hook, mut.hook))
}

// richManifest sets every field the seals cover, with two hooks in every list.
func richManifest() *apidef.BundleManifest {
	m := goManifest("plugin.so", "lib/helper.so")
	cm := &m.CustomMiddleware
	hooks := func(name string) []apidef.MiddlewareDefinition {
		return []apidef.MiddlewareDefinition{
			{Name: name + "1", Path: "plugin.so", RequireSession: true},
			{Name: name + "2", Path: "lib/helper.so", RawBodyOnly: true, Disabled: true},
		}
	}
	cm.Pre, cm.Post, cm.PostKeyAuth, cm.Response = hooks("Pre"), hooks("Post"), hooks("Auth"), hooks("Resp")
	cm.AuthCheck = apidef.MiddlewareDefinition{Name: "Check", Path: "plugin.so", RequireSession: true, RawBodyOnly: true}
	cm.TrafficLogs = apidef.MiddlewareDefinition{Name: "Logs", Path: "lib/helper.so", RequireSession: true, RawBodyOnly: true}
	cm.IdExtractor.ExtractFrom, cm.IdExtractor.ExtractWith = "header", "value"
	return m
}

// TestSealSeesEveryField: for each seal version, every change to any field of the manifest's
// hooks either changes the sealed content (the version covers the field) or makes the seal
// refuse the manifest (it does not). No field can change unseen.
func TestSealSeesEveryField(t *testing.T) {
	files := map[string]string{"plugin.so": strings.Repeat("a", 64), "lib/helper.so": strings.Repeat("b", 64)}
	for _, version := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			base := richManifest()
			manifest, section, hook := bundle.SealCoverage(version)
			if un := bundle.Uncovered(base, manifest, section, hook); len(un) > 0 {
				t.Fatalf("the base manifest sets fields the seal does not cover: %v", un)
			}
			want, err := bundle.SealContent(version, base, files, "b.zip")
			if err != nil {
				t.Fatal(err)
			}
			for _, mut := range mutations(t, base) {
				m := cloneManifest(t, base)
				mut.apply(m)
				got, err := bundle.SealContent(version, m, files, "b.zip")
				if err != nil {
					t.Fatal(err)
				}
				un := bundle.Uncovered(m, manifest, section, hook)
				switch {
				case covers(version, mut) && bytes.Equal(got, want):
					t.Errorf("%s: the sealed content did not change", mut.name)
				case covers(version, mut) && len(un) > 0:
					t.Errorf("%s: covered, yet reported uncovered: %v", mut.name, un)
				case !covers(version, mut) && len(un) == 0:
					t.Errorf("%s: not covered by version %d, yet not refused", mut.name, version)
				}
			}
			other, err := bundle.SealContent(version, base, files, "other.zip")
			if err != nil {
				t.Fatal(err)
			}
			if binds := version >= bundle.NameBoundSeal; binds == bytes.Equal(other, want) {
				t.Errorf("version %d: the sealed content changes with the name: %v, want %v", version, !binds, binds)
			}
		})
	}
}

// TestSealRefusesUncoveredFields: a manifest that sets a field a seal's version does not cover is
// neither sealed nor verified under it. No field lies outside today's versions, so the coverage
// is cut down here to stand for a version older than the field.
func TestSealRefusesUncoveredFields(t *testing.T) {
	m := richManifest()
	manifest, section, hook := bundle.SealCoverage(bundle.SealVersion)
	drop := func(list []string, name string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == name })
	}
	got := bundle.Uncovered(m, manifest, drop(drop(section, "traffic_logs"), "id_extractor.extract_with"), drop(hook, "raw_body_only"))
	want := []string{
		"custom_middleware.pre[1].raw_body_only", "custom_middleware.post[1].raw_body_only",
		"custom_middleware.post_key_auth[1].raw_body_only", "custom_middleware.auth_check.raw_body_only",
		"custom_middleware.response[1].raw_body_only", "custom_middleware.traffic_logs",
		"custom_middleware.id_extractor.extract_with",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Uncovered = %q\nwant %q", got, want)
	}
	// Empty values behave as absent ones: not reported.
	m.CustomMiddleware.TrafficLogs = apidef.MiddlewareDefinition{}
	m.CustomMiddleware.IdExtractor.ExtractWith = ""
	if got := bundle.Uncovered(m, manifest, drop(section, "traffic_logs"), hook); len(got) > 0 {
		t.Errorf("Uncovered with traffic_logs empty = %q, want nothing", got)
	}
	m.Signature = "c2lnbmF0dXJl"
	if got := bundle.Uncovered(m, drop(manifest, "signature"), section, hook); !slices.Equal(got, []string{"signature"}) {
		t.Errorf("Uncovered without signature = %q, want [signature]", got)
	}
}

// TestSealOldVersionsStillVerify: version 1 and 2 seals, as earlier builds wrote them, verify;
// tampering with what they cover does not. They bind no name: the bundle verifies under any
// (the store warns of it: TestStoreOldSealWarns), and a name written into them changes nothing.
func TestSealOldVersionsStillVerify(t *testing.T) {
	key, _ := testKeys()
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			dir := bundleDir(t, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/helper.so": []byte("BBBB")})
			m := richManifest()
			if err := bundle.Sign(m, dir, "b.zip", key); err != nil {
				t.Fatal(err)
			}
			if err := bundle.Reseal(m, key, version); err != nil {
				t.Fatal(err)
			}
			m = cloneManifest(t, m)
			if m.Seal.Version != version || m.Seal.Name != "" {
				t.Fatalf("seal version %d with the name %q, want version %d without", m.Seal.Version, m.Seal.Name, version)
			}
			for _, name := range []string{"b.zip", "any-other.zip"} {
				if _, err := bundle.VerifyFiles(m, dir, name, &key.PublicKey, false); err != nil {
					t.Fatalf("VerifyFiles(version %d seal, as %s) = %v", version, name, err)
				}
			}
			named := cloneManifest(t, m)
			named.Seal.Name = "b.zip"
			if _, err := bundle.VerifyFiles(named, dir, "other.zip", &key.PublicKey, false); err != nil {
				t.Errorf("VerifyFiles(version %d seal with a name written in) = %v", version, err)
			}
			for _, relabel := range []int{1, 2, 3} {
				if relabel == version {
					continue
				}
				relabelled := cloneManifest(t, m)
				relabelled.Seal.Version = relabel
				if _, err := bundle.VerifyFiles(relabelled, dir, "b.zip", &key.PublicKey, false); !errors.Is(err, bundle.ErrBadSeal) {
					t.Errorf("VerifyFiles(version %d seal relabelled version %d) = %v, want ErrBadSeal", version, relabel, err)
				}
			}
			for _, mut := range mutations(t, m) {
				if mut.section == "file_list" {
					continue // changes Tyk's checksum: TestVerifyCatchesTampering
				}
				tampered := cloneManifest(t, m)
				mut.apply(tampered)
				if _, err := bundle.VerifyFiles(tampered, dir, "b.zip", &key.PublicKey, false); !errors.Is(err, bundle.ErrBadSeal) {
					t.Errorf("%s: VerifyFiles = %v, want ErrBadSeal", mut.name, err)
				}
			}
		})
	}
}

// TestSealBindsName: a version 3 seal binds the name the bundle was built as. Under that name
// the bundle verifies; under another it is refused, naming both and the command that fixes it;
// rewriting the sealed name breaks the seal. Sign refuses a name no gateway can ask for.
func TestSealBindsName(t *testing.T) {
	key, _ := testKeys()
	dir := bundleDir(t, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/helper.so": []byte("BBBB")})
	m := richManifest()
	if err := bundle.Sign(m, dir, "guard-1.zip", key); err != nil {
		t.Fatal(err)
	}
	m = cloneManifest(t, m)
	if m.Seal.Version != bundle.SealVersion || m.Seal.Name != "guard-1.zip" {
		t.Fatalf("seal version %d for %q, want version %d for guard-1.zip", m.Seal.Version, m.Seal.Name, bundle.SealVersion)
	}
	if _, err := bundle.VerifyFiles(m, dir, "guard-1.zip", &key.PublicKey, false); err != nil {
		t.Fatalf("VerifyFiles under its name = %v", err)
	}
	for _, served := range []string{"guard-2.zip", "GUARD-1.zip", "guard-1.zip.bak", "guard-1"} {
		_, err := bundle.VerifyFiles(m, dir, served, &key.PublicKey, false)
		var ne *bundle.NameError
		if !errors.Is(err, bundle.ErrWrongName) || !errors.As(err, &ne) || ne.Built != "guard-1.zip" || ne.Served != served {
			t.Errorf("VerifyFiles as %s = %v, want a NameError", served, err)
			continue
		}
		for _, want := range []string{"built as guard-1.zip, served as " + served, "gatehouse bundle build -o " + served} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("VerifyFiles as %s = %q, want it to say %q", served, err, want)
			}
		}
	}
	// Without a key nothing is authenticated, the name included (as the files' names are not).
	if _, err := bundle.VerifyFiles(m, dir, "guard-2.zip", nil, false); err != nil {
		t.Errorf("VerifyFiles without a key = %v", err)
	}
	renamed := cloneManifest(t, m)
	renamed.Seal.Name = "guard-2.zip"
	if _, err := bundle.VerifyFiles(renamed, dir, "guard-2.zip", &key.PublicKey, false); !errors.Is(err, bundle.ErrBadSeal) {
		t.Errorf("VerifyFiles with the sealed name rewritten = %v, want ErrBadSeal", err)
	}
	for _, bad := range []string{"", "my bundle.zip", ".hidden.zip", "dir/b.zip", strings.Repeat("a", 256)} {
		if err := bundle.Sign(richManifest(), dir, bad, key); err == nil || !strings.Contains(err.Error(), "binds the bundle's name") {
			t.Errorf("Sign as %q = %v, want a refusal naming the name", bad, err)
		}
	}
	if err := bundle.Sign(richManifest(), dir, "", nil); err != nil {
		t.Errorf("Sign without a key (nothing sealed) and no name = %v", err)
	}
}

// TestSealTamperingAnyField: changing any field of the hooks of a sealed bundle (committed
// bundles of each version, and one sealed now) makes its seal fail, though Tyk's checksum and
// signature still verify.
func TestSealTamperingAnyField(t *testing.T) {
	key, _ := testKeys()
	pub, err := bundle.LoadPublicKey(filepath.Join("testdata", "seal", "key.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := func(t *testing.T) (*apidef.BundleManifest, string) {
		dir := bundleDir(t, map[string][]byte{"plugin.so": []byte("AAAA"), "lib/helper.so": []byte("BBBB")})
		m := richManifest()
		if err := bundle.Sign(m, dir, "b.zip", key); err != nil {
			t.Fatal(err)
		}
		return cloneManifest(t, m), dir
	}
	pubV3, err := bundle.LoadPublicKey(filepath.Join("testdata", "seal", "key-v3.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		open func(t *testing.T) (*apidef.BundleManifest, string)
		key  *rsa.PublicKey
	}{
		{"v1-full.zip", func(t *testing.T) (*apidef.BundleManifest, string) { return openFixture(t, "v1-full.zip") }, pub},
		{"v2-full.zip", func(t *testing.T) (*apidef.BundleManifest, string) { return openFixture(t, "v2-full.zip") }, pub},
		{"v3-full.zip", func(t *testing.T) (*apidef.BundleManifest, string) { return openFixture(t, "v3-full.zip") }, pubV3},
		{"b.zip", fresh, &key.PublicKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, dir := tt.open(t)
			k := tt.key
			if _, err := bundle.VerifyFiles(m, dir, tt.name, k, false); err != nil {
				t.Fatalf("untampered: VerifyFiles = %v", err)
			}
			muts := mutations(t, m)
			if len(muts) < 20 {
				t.Fatalf("only %d mutations", len(muts))
			}
			for _, mut := range muts {
				tampered := cloneManifest(t, m)
				mut.apply(tampered)
				_, err := bundle.VerifyFiles(tampered, dir, tt.name, k, false)
				if mut.section == "file_list" {
					if err == nil {
						t.Errorf("%s: VerifyFiles accepted it", mut.name)
					}
					continue
				}
				if !errors.Is(err, bundle.ErrBadSeal) {
					t.Errorf("%s: VerifyFiles = %v, want ErrBadSeal", mut.name, err)
				}
			}
		})
	}
}

// TestSealV2IgnoresNilVersusEmpty: a list absent and a list empty behave alike, and are sealed
// alike (version 1 told them apart).
func TestSealV2IgnoresNilVersusEmpty(t *testing.T) {
	files := map[string]string{"plugin.so": strings.Repeat("a", 64)}
	a := goManifest("plugin.so")
	b := goManifest("plugin.so")
	b.CustomMiddleware.Post, b.CustomMiddleware.Response = []apidef.MiddlewareDefinition{}, []apidef.MiddlewareDefinition{}
	ea, _ := bundle.SealContent(2, a, files, "")
	eb, _ := bundle.SealContent(2, b, files, "")
	if !bytes.Equal(ea, eb) {
		t.Error("version 2 seals a nil list and an empty one differently")
	}
}

// sealReader decodes a version 2 sealed content, to show that the encoding can be read back
// (so no two contents share one).
type sealReader struct {
	b   []byte
	err error
}

func (r *sealReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *sealReader) num() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("truncated number")
		return 0
	}
	n := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return n
}

func (r *sealReader) count() int {
	n := r.num()
	if n > uint64(len(r.b)) { // every element takes at least a byte
		r.fail("count %d larger than what is left", n)
		return 0
	}
	return int(n)
}

func (r *sealReader) str() string {
	n := r.num()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail("truncated string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *sealReader) label(want string) {
	if got := r.str(); got != want {
		r.fail("label %q, want %q", got, want)
	}
}

func (r *sealReader) flag() bool {
	if r.err != nil || len(r.b) < 1 || r.b[0] > 1 {
		r.fail("bad flag")
		return false
	}
	f := r.b[0] == 1
	r.b = r.b[1:]
	return f
}

func (r *sealReader) hook() apidef.MiddlewareDefinition {
	var d apidef.MiddlewareDefinition
	r.label("name")
	d.Name = r.str()
	r.label("path")
	d.Path = r.str()
	r.label("disabled")
	d.Disabled = r.flag()
	r.label("require_session")
	d.RequireSession = r.flag()
	r.label("raw_body_only")
	d.RawBodyOnly = r.flag()
	return d
}

// decodeSealV2 reads a version 2 sealed content back into a manifest (lists that are empty are
// nil) and the file hashes.
func decodeSealV2(b []byte) (*apidef.BundleManifest, map[string]string, error) {
	m, files, _, err := decodeSeal(b, 2)
	return m, files, err
}

// decodeSeal reads a version 2 or 3 sealed content back into a manifest (lists that are empty
// are nil), the file hashes and (version 3) the bundle's name.
func decodeSeal(b []byte, version uint64) (*apidef.BundleManifest, map[string]string, string, error) {
	r := &sealReader{b: b}
	m := &apidef.BundleManifest{}
	r.label("gatehouse bundle seal")
	if v := r.num(); v != version {
		r.fail("version %d", v)
	}
	name := ""
	if version >= 3 {
		r.label("name")
		name = r.str()
	}
	r.label("file_list")
	for range r.count() {
		m.FileList = append(m.FileList, r.str())
	}
	r.label("files")
	files := map[string]string{}
	prev := ""
	for i := range r.count() {
		name := r.str()
		if i > 0 && name <= prev {
			r.fail("files out of order")
		}
		files[name], prev = r.str(), name
	}
	cm := &m.CustomMiddleware
	r.label("custom_middleware")
	r.label("driver")
	cm.Driver = r.str()
	for _, l := range []struct {
		name string
		list *[]apidef.MiddlewareDefinition
	}{{"pre", &cm.Pre}, {"post_key_auth", &cm.PostKeyAuth}, {"post", &cm.Post}, {"response", &cm.Response}} {
		r.label(l.name)
		for range r.count() {
			*l.list = append(*l.list, r.hook())
		}
	}
	r.label("auth_check")
	cm.AuthCheck = r.hook()
	r.label("traffic_logs")
	cm.TrafficLogs = r.hook()
	r.label("id_extractor")
	r.label("extract_from")
	cm.IdExtractor.ExtractFrom = r.str()
	r.label("extract_with")
	cm.IdExtractor.ExtractWith = r.str()
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes left over", len(r.b))
	}
	return m, files, name, r.err
}

// sealedPart is what version 2 seals of a manifest, with empty lists made nil, to compare with
// what decodeSealV2 returns.
func sealedPart(m *apidef.BundleManifest) *apidef.BundleManifest {
	out := &apidef.BundleManifest{FileList: slices.Clip(m.FileList), CustomMiddleware: m.CustomMiddleware}
	nilIfEmpty := func(l *[]apidef.MiddlewareDefinition) {
		if len(*l) == 0 {
			*l = nil
		}
	}
	cm := &out.CustomMiddleware
	nilIfEmpty(&cm.Pre)
	nilIfEmpty(&cm.Post)
	nilIfEmpty(&cm.PostKeyAuth)
	nilIfEmpty(&cm.Response)
	if len(out.FileList) == 0 {
		out.FileList = nil
	}
	return out
}

// TestSealDecodesBack: the binary encodings (versions 2 and 3) read back into what they encode,
// so no two contents (nor two names, for version 3) share one.
func TestSealDecodesBack(t *testing.T) {
	for _, version := range []uint64{2, 3} {
		for _, name := range []string{"b.zip", ""} {
			for _, m := range []*apidef.BundleManifest{richManifest(), goManifest("plugin.so"), {}} {
				files := map[string]string{"b": "2", "a": "1", "": ""}
				enc, err := bundle.SealContent(int(version), m, files, name)
				if err != nil {
					t.Fatal(err)
				}
				got, gotFiles, gotName, err := decodeSeal(enc, version)
				if err != nil {
					t.Fatalf("version %d: decodeSeal: %v", version, err)
				}
				if version < 3 {
					name = ""
				}
				if !reflect.DeepEqual(got, sealedPart(m)) || !reflect.DeepEqual(gotFiles, files) || gotName != name {
					t.Errorf("version %d decoded %+v %v %q, want %+v %v %q", version, got, gotFiles, gotName, sealedPart(m), files, name)
				}
			}
		}
	}
}
