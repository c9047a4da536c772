package apidef

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
)

var knownFields = sync.OnceValue(func() map[string]bool {
	known := map[string]bool{}
	t := reflect.TypeFor[APIDefinition]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			known[strings.ToLower(name)] = true
		}
	}
	return known
})

// IgnoredFields returns, sorted, the top-level fields of a definition that Gatehouse does not
// read and that hold something other than a zero value (false, 0, "", null, {} or []). Tyk
// definitions carry hundreds of fields; the gateway logs these once per definition.
func IgnoredFields(raw []byte) []string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return nil
	}
	known := knownFields()
	var out []string
	for k, v := range fields {
		// encoding/json matches field names case-insensitively, so "USE_KEYLESS" is read too.
		if known[strings.ToLower(k)] || zeroJSON(v) {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
