package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EnvPrefix starts the name of every environment variable that overrides a config key.
const EnvPrefix = "GATEHOUSE_"

// leaf is one settable config value: a string, bool, number or string list.
type leaf struct {
	path  []string // JSON key path from the root, e.g. ["storage", "host"]
	index []int    // reflect field index path
}

// key returns the dotted JSON key path, e.g. "storage.host".
func (l leaf) key() string { return strings.Join(l.path, ".") }

// envName returns the overriding environment variable, e.g. "GATEHOUSE_STORAGE_HOST".
func (l leaf) envName() string { return EnvPrefix + strings.ToUpper(strings.Join(l.path, "_")) }

// leaves lists every leaf of Config, in field order, derived from the JSON tags so that a new
// field gets its environment override and unknown-key checking for free.
var leaves = sync.OnceValue(func() []leaf {
	var out []leaf
	var walk func(t reflect.Type, path []string, index []int)
	walk = func(t reflect.Type, path []string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if embedded(f) {
				walk(f.Type, path, append(slices.Clone(index), i))
				continue
			}
			name, ok := jsonName(f)
			if !ok {
				continue
			}
			p := append(slices.Clone(path), name)
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, p, idx)
				continue
			}
			out = append(out, leaf{path: p, index: idx})
		}
	}
	walk(reflect.TypeFor[Config](), nil, nil)
	return out
})

// embedded reports whether f is a struct embedded without a JSON tag, whose keys encoding/json
// takes as its parent's (opentelemetry's trace keys).
func embedded(f reflect.StructField) bool {
	return f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct
}

// jsonName returns the JSON key of a struct field as encoding/json sees it, and false for
// fields that encoding/json skips.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

// EnvVars returns the name of every supported environment variable, sorted.
func EnvVars() []string {
	var names []string
	for _, l := range leaves() {
		names = append(names, l.envName())
	}
	slices.Sort(names)
	return names
}

// envResult is what applying the environment did.
type envResult struct {
	set      map[string]bool // dotted keys set from the environment
	warnings []string
	errs     []error
}

// applyEnv applies GATEHOUSE_* overrides from environ (KEY=VALUE entries, as os.Environ returns)
// to c. As with os.Getenv, the first entry for a name wins.
func applyEnv(c *Config, environ []string) envResult {
	res := envResult{set: map[string]bool{}}
	byName := map[string]leaf{}
	for _, l := range leaves() {
		byName[l.envName()] = l
	}
	seen := map[string]bool{}
	var unknown, tyk []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, tykEnvPrefix) && !seen[name] {
			seen[name] = true
			tyk = append(tyk, name)
			continue
		}
		if !ok || !strings.HasPrefix(name, EnvPrefix) || seen[name] {
			continue
		}
		seen[name] = true
		l, known := byName[name]
		if !known {
			unknown = append(unknown, name)
			continue
		}
		field := reflect.ValueOf(c).Elem().FieldByIndex(l.index)
		if err := setFromString(field, value); err != nil {
			if mayHoldSecret(l.key(), field.Kind()) {
				// Its value may be a secret: never in an error, which reaches the log.
				res.errs = append(res.errs, fmt.Errorf("environment variable %s (value not shown) %w", name, err))
				continue
			}
			res.errs = append(res.errs, fmt.Errorf("environment variable %s=%q %w", name, clip(value), err))
			continue
		}
		res.set[l.key()] = true
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		w := fmt.Sprintf("environment variable %s matches no config key and is ignored", name)
		if s := suggest(name, slices.Collect(maps.Keys(byName))); s != "" {
			w += fmt.Sprintf(" (did you mean %s?)", s)
		}
		res.warnings = append(res.warnings, w)
	}
	if len(tyk) > 0 {
		// A Tyk deployment's settings (TLS, the secret) would otherwise go unread in silence.
		slices.Sort(tyk)
		res.warnings = append(res.warnings, fmt.Sprintf("environment variables %s are Tyk's and are not read: "+
			"set the same settings in tyk.conf, or as %s<KEY> variables (the config key's path in capitals, "+
			"e.g. %sHTTP_SERVER_OPTIONS_USE_SSL; see docs/configuration.md)", strings.Join(tyk, ", "), EnvPrefix, EnvPrefix))
	}
	return res
}

// tykEnvPrefix starts Tyk's own environment overrides, which Gatehouse does not read.
const tykEnvPrefix = "TYK_GW_"

// setFromString parses s into v according to v's kind. Lists are comma-separated, with spaces
// around items and empty items dropped.
func setFromString(v reflect.Value, s string) error {
	t := strings.TrimSpace(s)
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(t)
		if err != nil {
			return fmt.Errorf("is not a boolean; use true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(t, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("is not a whole number")
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(t, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("is not a number")
		}
		v.SetFloat(f)
	case reflect.Map:
		if k := v.Type().Elem().Kind(); v.Type().Key().Kind() == reflect.String && (k == reflect.Struct || k == reflect.Slice) {
			// A map of objects (override_messages) or of lists (error_overrides) is written as
			// JSON.
			p := reflect.New(v.Type())
			if err := decodeJSONValue(s, p.Interface()); err != nil {
				return fmt.Errorf("is not a JSON object of %ss: %v", map[bool]string{true: "object", false: "list"}[v.Type().Elem().Kind() == reflect.Struct], err)
			}
			v.Set(p.Elem())
			return nil
		}
		// A map of strings is written as comma-separated KEY=VALUE pairs, or as a JSON object
		// (for values that hold commas, as pinned_public_keys' lists do).
		if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("sets a map of unsupported type %s", v.Type())
		}
		if strings.HasPrefix(t, "{") {
			p := reflect.New(v.Type())
			if err := decodeJSONValue(s, p.Interface()); err != nil {
				return fmt.Errorf("is not a JSON object of strings: %v", err)
			}
			v.Set(p.Elem())
			return nil
		}
		m := reflect.MakeMap(v.Type())
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			k, val, ok := strings.Cut(item, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("is not a list of KEY=VALUE pairs")
			}
			m.SetMapIndex(reflect.ValueOf(strings.TrimSpace(k)), reflect.ValueOf(strings.TrimSpace(val)))
		}
		v.Set(m)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			// A list of objects (http_server_options.certificates) is written as JSON, as in Tyk.
			p := reflect.New(v.Type())
			if err := decodeJSONValue(s, p.Interface()); err != nil {
				return fmt.Errorf("is not a JSON list of objects: %v", err)
			}
			v.Set(p.Elem())
			return nil
		}
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("sets a list of unsupported type %s", v.Type())
		}
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("sets a value of unsupported type %s", v.Type())
	}
	return nil
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// suggest returns the candidate closest to name when it is close enough to be a likely typo.
func suggest(name string, candidates []string) string {
	slices.Sort(candidates) // ties resolve the same way every run
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// mayHoldSecret reports whether a key's value may hold a secret, so that an error about it does
// not show it: maps (secrets, exporter headers, certificate files by host), and strings or
// lists whose key's name says so (numbers and booleans hold none).
func mayHoldSecret(key string, kind reflect.Kind) bool {
	switch kind {
	case reflect.Map:
		return true
	case reflect.String, reflect.Slice:
	default:
		return false
	}
	for _, w := range []string{"secret", "password", "key", "token", "header", "auth"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// decodeJSONValue decodes s, one JSON value and nothing after it, into p; unknown fields are
// errors.
func decodeJSONValue(s string, p any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return err
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("text follows the JSON value")
	}
	return nil
}
