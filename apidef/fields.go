package apidef

import (
	"encoding/json"
	"maps"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// IgnoredFields returns, sorted, the fields of a definition that Gatehouse does not read and that
// hold something other than a zero value (false, 0, "", null, {} or []), as dotted paths: top
// level, and inside the objects Gatehouse reads (proxy, auth, auth_configs.*, definition,
// version_data.versions.*, ...), list entries included with their index
// (custom_middleware.pre[0].x, ...extended_paths.white_list[2].x). Tyk definitions carry
// hundreds of fields; the gateway logs these once per definition.
func IgnoredFields(raw []byte) []string {
	var out []string
	ignored(raw, reflect.TypeFor[APIDefinition](), "", &out)
	sort.Strings(out)
	return out
}

// ignored walks a JSON object against a struct type, adding the unknown non-zero fields.
func ignored(raw []byte, t reflect.Type, prefix string, out *[]string) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return
	}
	known := knownFieldsOf(t)
	for k, v := range fields {
		f, ok := known[strings.ToLower(k)]
		if !ok {
			if !zeroJSON(v) {
				*out = append(*out, prefix+k)
			}
			continue
		}
		ignoredIn(v, f, prefix+k, out)
	}
}

// ignoredIn walks the value at path, read into type t, when t holds structs: a struct, or a
// list, map or pointer leading to one. Values of other types (strings, config_data, raw JSON)
// have no fields of Gatehouse's to compare against.
func ignoredIn(raw json.RawMessage, t reflect.Type, path string, out *[]string) {
	if !holdsStruct(t) {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		ignoredIn(raw, t.Elem(), path, out)
	case reflect.Struct:
		ignored(raw, t, path+".", out)
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for i, item := range items {
				ignoredIn(item, t.Elem(), path+"["+strconv.Itoa(i)+"]", out)
			}
		}
	case reflect.Map:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for k, v := range m {
				ignoredIn(v, t.Elem(), path+"."+k, out)
			}
		}
	}
}

// holdsStruct reports whether values of t are, or contain, structs.
func holdsStruct(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsStruct(t.Elem())
	}
	return false
}

var knownCache sync.Map // reflect.Type → map[string]reflect.Type

// knownFieldsOf maps the lower-cased JSON names of a struct's fields to their types
// (encoding/json matches names case-insensitively, so "USE_KEYLESS" is read too).
func knownFieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := knownCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" && f.Anonymous {
			// An embedded struct's fields are read in the same object, as encoding/json does.
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				maps.Copy(m, knownFieldsOf(et))
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft == reflect.TypeFor[json.RawMessage]() {
			ft = reflect.TypeFor[any]()
		}
		m[strings.ToLower(name)] = ft
	}
	knownCache.Store(t, m)
	return m
}
func zeroJSON(v json.RawMessage) bool {
	switch s := strings.TrimSpace(string(v)); s {
	case "", "null", "false", "0", `""`, "{}", "[]":
		return true
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	return isZeroValue(x)
}

// isZeroValue reports whether a decoded JSON value holds nothing but zero values, so that a
// block like {"enabled": false, "value": ""} counts as unset.
func isZeroValue(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		for _, e := range v {
			if !isZeroValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !isZeroValue(e) {
				return false
			}
		}
		return true
	}
	return false
}
