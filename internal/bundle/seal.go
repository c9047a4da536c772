package bundle

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
)

// The seal's sealed content is encoded in a form of its own, never by encoding the apidef types:
// a field added to apidef.MiddlewareSection must not change the seals that earlier builds made,
// nor go unsealed. Each seal version is frozen: its encoding and the list of manifest fields it
// covers never change. A build that learns a new field adds a new version covering it, keeps
// verifying the older ones, and refuses an older seal over a manifest that sets a field that seal
// does not cover (see coverage and uncovered).

// sealVersion is the version Sign writes.
const sealVersion = 3

// NameBoundSeal is the first seal version that binds the bundle's name: a seal of an earlier
// version lets the bundle pass for any other name (see VerifyFiles).
const NameBoundSeal = 3

// A sealFormat is one version of the seal: its encoding of the sealed content, and the fields it
// covers. name is the bundle's name, which versions before NameBoundSeal do not encode.
type sealFormat struct {
	encode func(m *apidef.BundleManifest, files map[string]string, name string) ([]byte, error)
	cover  coverage
}

// coverage names, by their JSON names, the manifest fields a seal version accounts for.
type coverage struct {
	// manifest lists the top-level fields: file_list and custom_middleware are sealed,
	// checksum and signature are Tyk's own check, and gatehouse_seal is the seal.
	manifest []string
	// section lists the fields of custom_middleware; a field of a nested object other than a
	// hook is written "object.field".
	section []string
	// hook lists the fields of each hook (apidef.MiddlewareDefinition).
	hook []string
}

// sealFormats are the versions VerifyFiles accepts.
var sealFormats = map[int]sealFormat{
	1: {encode: sealContentV1, cover: coverageV1},
	2: {encode: sealContentV2, cover: coverageV2},
	3: {encode: sealContentV3, cover: coverageV3},
}

func sealDigest(version int, m *apidef.BundleManifest, files map[string]string, name string) ([]byte, error) {
	f, ok := sealFormats[version]
	if !ok {
		return nil, fmt.Errorf("unknown seal version %d", version)
	}
	if un := uncovered(m, f.cover); len(un) > 0 {
		return nil, fmt.Errorf("the manifest sets %s, which a version %d seal does not cover", strings.Join(un, ", "), version)
	}
	data, err := f.encode(m, files, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return sum[:], nil
}

// Version 1 is the JSON encoding of a fixed structure (encoding/json sorts the keys of files). It
// was first computed by encoding apidef.MiddlewareSection itself; the types below freeze the
// fields, names and omitempty/omitzero rules that type had then, so that version 1 seals keep
// verifying whatever apidef becomes. Sign no longer writes it.

var coverageV1 = coverage{
	manifest: []string{"file_list", "custom_middleware", "checksum", "signature", "gatehouse_seal"},
	section: []string{"pre", "post", "post_key_auth", "auth_check", "response", "traffic_logs", "driver",
		"id_extractor.extract_from", "id_extractor.extract_with"},
	hook: []string{"disabled", "name", "path", "require_session", "raw_body_only"},
}

type sealedV1 struct {
	Version          int               `json:"version"`
	FileList         []string          `json:"file_list"`
	Files            map[string]string `json:"files"`
	CustomMiddleware sectionV1         `json:"custom_middleware"`
}

type sectionV1 struct {
	Pre         []hookV1 `json:"pre"`
	Post        []hookV1 `json:"post"`
	PostKeyAuth []hookV1 `json:"post_key_auth"`
	AuthCheck   hookV1   `json:"auth_check"`
	Response    []hookV1 `json:"response"`
	TrafficLogs hookV1   `json:"traffic_logs,omitzero"`
	Driver      string   `json:"driver"`
	IdExtractor struct {
		ExtractFrom string `json:"extract_from,omitempty"`
		ExtractWith string `json:"extract_with,omitempty"`
	} `json:"id_extractor,omitzero"`
}

type hookV1 struct {
	Disabled       bool   `json:"disabled,omitempty"`
	Name           string `json:"name"`
	Path           string `json:"path"`
	RequireSession bool   `json:"require_session,omitempty"`
	RawBodyOnly    bool   `json:"raw_body_only,omitempty"`
}

func hookToV1(d apidef.MiddlewareDefinition) hookV1 {
	return hookV1{Disabled: d.Disabled, Name: d.Name, Path: d.Path, RequireSession: d.RequireSession, RawBodyOnly: d.RawBodyOnly}
}

// hooksToV1 keeps a nil list nil: version 1 encodes it as null, and an empty one as [].
func hooksToV1(list []apidef.MiddlewareDefinition) []hookV1 {
	if list == nil {
		return nil
	}
	out := make([]hookV1, 0, len(list))
	for _, d := range list {
		out = append(out, hookToV1(d))
	}
	return out
}

func sealContentV1(m *apidef.BundleManifest, files map[string]string, _ string) ([]byte, error) {
	cm := m.CustomMiddleware
	s := sealedV1{Version: 1, FileList: m.FileList, Files: files, CustomMiddleware: sectionV1{
		Pre:         hooksToV1(cm.Pre),
		Post:        hooksToV1(cm.Post),
		PostKeyAuth: hooksToV1(cm.PostKeyAuth),
		AuthCheck:   hookToV1(cm.AuthCheck),
		Response:    hooksToV1(cm.Response),
		TrafficLogs: hookToV1(cm.TrafficLogs),
		Driver:      cm.Driver,
	}}
	s.CustomMiddleware.IdExtractor.ExtractFrom = cm.IdExtractor.ExtractFrom
	s.CustomMiddleware.IdExtractor.ExtractWith = cm.IdExtractor.ExtractWith
	return json.Marshal(s)
}

// Version 2 (which Sign wrote until version 3 added the bundle's name) is a canonical binary
// form built field by field: every string is its length (8
// bytes, big-endian) then its bytes, every count and number 8 bytes big-endian, every flag one
// byte (0 or 1), and every field is preceded by its JSON name as a string. Nothing is optional
// and the order is fixed, so two different contents never give the same bytes, and a nil list
// and an empty one (which behave alike) give the same.
//
//	"gatehouse bundle seal" 2
//	"file_list" count name...
//	"files" count (name sha256-hex)...         sorted by name
//	"custom_middleware"
//	"driver" driver
//	"pre" count hook...   then "post_key_auth", "post", "response" alike
//	"auth_check" hook   "traffic_logs" hook
//	"id_extractor" "extract_from" s "extract_with" s
//
// where hook is "name" s "path" s "disabled" flag "require_session" flag "raw_body_only" flag.

var coverageV2 = coverage{
	manifest: []string{"file_list", "custom_middleware", "checksum", "signature", "gatehouse_seal"},
	section: []string{"driver", "pre", "post_key_auth", "post", "response", "auth_check", "traffic_logs",
		"id_extractor.extract_from", "id_extractor.extract_with"},
	hook: []string{"name", "path", "disabled", "require_session", "raw_body_only"},
}

// canonical accumulates a version 2 encoding.
type canonical []byte

func (c *canonical) str(s string) {
	*c = binary.BigEndian.AppendUint64(*c, uint64(len(s)))
	*c = append(*c, s...)
}

func (c *canonical) num(n int) { *c = binary.BigEndian.AppendUint64(*c, uint64(n)) }

func (c *canonical) flag(b bool) {
	if b {
		*c = append(*c, 1)
	} else {
		*c = append(*c, 0)
	}
}

func (c *canonical) hook(d apidef.MiddlewareDefinition) {
	c.str("name")
	c.str(d.Name)
	c.str("path")
	c.str(d.Path)
	c.str("disabled")
	c.flag(d.Disabled)
	c.str("require_session")
	c.flag(d.RequireSession)
	c.str("raw_body_only")
	c.flag(d.RawBodyOnly)
}

func sealContentV2(m *apidef.BundleManifest, files map[string]string, _ string) ([]byte, error) {
	var c canonical
	c.str("gatehouse bundle seal")
	c.num(2)
	c.body(m, files)
	return c, nil
}

// body appends what versions 2 and 3 seal after their header: from "file_list" on.
func (c *canonical) body(m *apidef.BundleManifest, files map[string]string) {
	c.str("file_list")
	c.num(len(m.FileList))
	for _, f := range m.FileList {
		c.str(f)
	}
	c.str("files")
	c.num(len(files))
	for _, name := range slices.Sorted(maps.Keys(files)) {
		c.str(name)
		c.str(files[name])
	}
	cm := m.CustomMiddleware
	c.str("custom_middleware")
	c.str("driver")
	c.str(cm.Driver)
	for _, l := range []struct {
		name string
		list []apidef.MiddlewareDefinition
	}{{"pre", cm.Pre}, {"post_key_auth", cm.PostKeyAuth}, {"post", cm.Post}, {"response", cm.Response}} {
		c.str(l.name)
		c.num(len(l.list))
		for _, d := range l.list {
			c.hook(d)
		}
	}
	c.str("auth_check")
	c.hook(cm.AuthCheck)
	c.str("traffic_logs")
	c.hook(cm.TrafficLogs)
	c.str("id_extractor")
	c.str("extract_from")
	c.str(cm.IdExtractor.ExtractFrom)
	c.str("extract_with")
	c.str(cm.IdExtractor.ExtractWith)
}

// Version 3 is version 2 with the bundle's name after the version: the name the bundle was built
// as (`gatehouse bundle build -o NAME`, the output file's base name), which is the name a
// gateway asks its bundle server for (custom_middleware_bundle, one path element). Tyk's
// signature and the earlier seals cover the bundle's content but not its name, so any bundle
// signed by the key (another API's, an earlier release) passed for any name; binding the name
// makes the gateway refuse a bundle served under another name than the one it was built as.
// The name is also written in the seal (gatehouse_seal.name), so that a refusal can say which.
//
//	"gatehouse bundle seal" 3
//	"name" name
//	then version 2's encoding from "file_list" on.

var coverageV3 = coverage{
	manifest: []string{"file_list", "custom_middleware", "checksum", "signature", "gatehouse_seal"},
	section: []string{"driver", "pre", "post_key_auth", "post", "response", "auth_check", "traffic_logs",
		"id_extractor.extract_from", "id_extractor.extract_with"},
	hook: []string{"name", "path", "disabled", "require_session", "raw_body_only"},
}

func sealContentV3(m *apidef.BundleManifest, files map[string]string, name string) ([]byte, error) {
	var c canonical
	c.str("gatehouse bundle seal")
	c.num(3)
	c.str("name")
	c.str(name)
	c.body(m, files)
	return c, nil
}

// uncovered lists the manifest fields that hold a value (a non-empty list, a non-zero value)
// but that c does not name, as "custom_middleware.pre[0].field". It looks at the manifest type
// by reflection, so a field added to apidef later is found without any change here: a seal
// whose version predates the field is refused when the field is used, rather than letting it
// go unsealed. An empty list or a zero value behaves as an absent field, and is not reported.
func uncovered(m *apidef.BundleManifest, c coverage) []string {
	var out []string
	hookType := reflect.TypeFor[apidef.MiddlewareDefinition]()
	hook := func(where string, v reflect.Value) {
		for i := range hookType.NumField() {
			name := jsonName(hookType.Field(i))
			if name != "" && !slices.Contains(c.hook, name) && !isEmpty(v.Field(i)) {
				out = append(out, where+"."+name)
			}
		}
	}
	mv := reflect.ValueOf(m).Elem()
	for i := range mv.NumField() {
		name := jsonName(mv.Type().Field(i))
		if name == "" {
			continue
		}
		if !slices.Contains(c.manifest, name) {
			if !isEmpty(mv.Field(i)) {
				out = append(out, name)
			}
			continue
		}
		if name != "custom_middleware" {
			continue
		}
		section := mv.Field(i)
		for j := range section.NumField() {
			f := section.Type().Field(j)
			fname := jsonName(f)
			if fname == "" {
				continue
			}
			v := section.Field(j)
			where := "custom_middleware." + fname
			covered := slices.Contains(c.section, fname)
			switch {
			case covered && f.Type == hookType:
				hook(where, v)
			case covered && f.Type.Kind() == reflect.Slice && f.Type.Elem() == hookType:
				for k := range v.Len() {
					hook(fmt.Sprintf("%s[%d]", where, k), v.Index(k))
				}
			case !covered && f.Type.Kind() == reflect.Struct && f.Type != hookType:
				// A nested object other than a hook: each of its fields on its own.
				for k := range f.Type.NumField() {
					nname := jsonName(f.Type.Field(k))
					if nname != "" && !slices.Contains(c.section, fname+"."+nname) && !isEmpty(v.Field(k)) {
						out = append(out, where+"."+nname)
					}
				}
			case !covered && !isEmpty(v):
				out = append(out, where)
			}
		}
	}
	return out
}

// jsonName returns the name encoding/json gives a struct field, or "" for a field it skips.
func jsonName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return sf.Name
}

// isEmpty reports whether v behaves as an absent field: an empty list or map, or a zero value.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}
