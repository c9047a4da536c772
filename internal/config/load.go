package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certstore"
	"github.com/gatehouse/gatehouse/internal/jsonerr"
)

// Load builds the configuration from the built-in defaults, the JSON file at path (none when
// path is "") and the GATEHOUSE_* variables in environ (KEY=VALUE entries, as os.Environ
// returns), then validates it.
//
// It returns the configuration, the warnings worth logging (unknown keys and variables, and
// other non-fatal notes) and an error. The error joins every problem found; the warnings are
// returned even when there is an error, and the configuration is nil then.
func Load(path string, environ []string) (*Config, []string, error) {
	c := Default()
	var warnings []string
	var fromFile map[string]bool
	dir := ""
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("reading config file: %w", err)
		}
		var w []string
		fromFile, w, err = decodeFile(path, data, c)
		warnings = append(warnings, w...)
		if err != nil {
			return nil, warnings, err
		}
		dir = filepath.Dir(path)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}

	env := applyEnv(c, environ)
	warnings = append(warnings, env.warnings...)
	resolvePaths(c, dir, fromFile, env.set)
	c.normalise()
	if c.Storage.Timeout == 0 && (fromFile["storage.timeout"] || env.set["storage.timeout"]) {
		// Tyk reads a timeout of 0 as its default; tyk.conf files carry it.
		c.Storage.Timeout = Default().Storage.Timeout
		warnings = append(warnings, fmt.Sprintf("storage.timeout is 0, which means the default "+
			"(%v s; Tyk's is 5 s): keyed requests fail closed this long after Redis stops answering", c.Storage.Timeout))
	}

	if path != "" && !fromFile["listen_address"] && !env.set["listen_address"] {
		warnings = append(warnings, fmt.Sprintf("listen_address is not set, so the gateway "+
			"listens on %s only (Tyk listens on all interfaces); set listen_address to \"\" "+
			"to listen on all interfaces", c.ListenAddress))
	}
	notes, problems := c.check()
	warnings = append(warnings, notes...)
	if errs := append(env.errs, problems...); len(errs) > 0 {
		return nil, warnings, errors.Join(errs...)
	}
	if c.Storage.Type == "redis" && !c.HashKeys {
		// Redis is shared, backed up and read by other tools: a raw key must never reach it.
		c.HashKeys = true
		warnings = append(warnings, "hash_keys is false, but with storage.type \"redis\" keys are "+
			"always stored under their SHA-256, so that no raw key is written to Redis; /tyk/keys "+
			"lists hashes, and ?hashed=true addresses a key by its hash")
	}
	return c, warnings, nil
}

// decodeFile decodes a config file over c. It returns the dotted keys the file set (to a
// non-null value) and a warning per unknown key. Syntax errors carry the line and column; type
// errors name every offending key.
func decodeFile(path string, data []byte, c *Config) (map[string]bool, []string, error) {
	// Unmarshal checks the whole input first, so its syntax errors carry an absolute offset.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return nil, nil, describeJSONError(path, data, err)
	}
	// Numbers are kept as written so that integer checks match encoding/json's exactly.
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, describeJSONError(path, data, err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("config file %s: the top-level value must be a JSON object, not %s",
			path, describeValue(raw))
	}
	k := keyCheck{present: map[string]bool{}}
	k.object(obj, reflect.TypeFor[Config](), "")
	if len(k.errs) > 0 {
		for i, err := range k.errs {
			k.errs[i] = fmt.Errorf("config file %s: %w", path, err)
		}
		return nil, k.warnings, errors.Join(k.errs...)
	}
	if err := json.Unmarshal(data, c); err != nil {
		// keyCheck should have caught every type error; this is a safety net.
		return nil, k.warnings, describeJSONError(path, data, err)
	}
	return k.present, k.warnings, nil
}

// keyCheck walks a decoded file against Config's JSON tags.
type keyCheck struct {
	present  map[string]bool
	warnings []string
	errs     []error
}

// object checks the keys of obj against the fields of struct type t; prefix is obj's dotted
// path ("" at the root).
func (k *keyCheck) object(obj map[string]any, t reflect.Type, prefix string) {
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		key := prefix + name
		f, exact, found := fieldByJSONName(t, name)
		if !found {
			k.warnings = append(k.warnings, fmt.Sprintf("unknown config key %q ignored", key))
			continue
		}
		tagName, _ := jsonName(f)
		canonical := prefix + tagName
		if !exact {
			// encoding/json matches keys case-insensitively, so the value is used.
			k.warnings = append(k.warnings, fmt.Sprintf("config key %q is used as %q; "+
				"spell it %q", key, canonical, canonical))
		}
		v := obj[name]
		if v == nil {
			continue // null leaves the default in place, as encoding/json does
		}
		if f.Type.Kind() == reflect.Struct {
			sub, ok := v.(map[string]any)
			if !ok {
				k.errs = append(k.errs, fmt.Errorf("%s must be an object, not %s", canonical, describeValue(v)))
				continue
			}
			k.object(sub, f.Type, canonical+".")
			continue
		}
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			k.objects(v, f.Type.Elem(), canonical)
			continue
		}
		if err := checkType(f.Type, v, canonical); err != nil {
			k.errs = append(k.errs, err)
			continue
		}
		k.present[canonical] = true
	}
}

// objects checks a list of objects of struct type t (http_server_options.certificates); key is
// the list's dotted path.
func (k *keyCheck) objects(v any, t reflect.Type, key string) {
	list, ok := v.([]any)
	if !ok {
		k.errs = append(k.errs, fmt.Errorf("%s must be a list of objects, not %s", key, describeValue(v)))
		return
	}
	errs := len(k.errs)
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			k.errs = append(k.errs, fmt.Errorf("%s[%d] must be an object, not %s", key, i, describeValue(item)))
			continue
		}
		k.object(obj, t, fmt.Sprintf("%s[%d].", key, i))
	}
	if len(k.errs) == errs {
		k.present[key] = true
	}
}

// fieldByJSONName finds the field of t that encoding/json would fill from key: an exact match
// first, then a case-insensitive one.
func fieldByJSONName(t reflect.Type, key string) (f reflect.StructField, exact, found bool) {
	var fold *reflect.StructField
	for i := range t.NumField() {
		sf := t.Field(i)
		if embedded(sf) {
			// encoding/json takes an untagged embedded struct's keys as its parent's.
			if f, exact, found := fieldByJSONName(sf.Type, key); found && exact {
				return f, true, true
			} else if found && fold == nil {
				fold = &f
			}
			continue
		}
		name, ok := jsonName(sf)
		if !ok {
			continue
		}
		if name == key {
			return sf, true, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = &sf
		}
	}
	if fold != nil {
		return *fold, false, true
	}
	return reflect.StructField{}, false, false
}

// checkType reports whether the decoded JSON value v fits a field of type t, with the same
// rules as encoding/json.
func checkType(t reflect.Type, v any, key string) error {
	want := ""
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			want = "a whole number"
		} else if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); errors.Is(err, strconv.ErrRange) {
			want = fmt.Sprintf("a whole number of at most %d bits", t.Bits())
		} else if err != nil {
			want = "a whole number"
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			want = "an object"
			break
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := checkType(t.Elem(), m[k], fmt.Sprintf("%s[%q]", key, k)); err != nil {
				return err
			}
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			want = "a number"
		} else if _, err := strconv.ParseFloat(n.String(), t.Bits()); err != nil {
			want = "a number in range"
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			want = "a list"
			break
		}
		for i, item := range list {
			if err := checkType(t.Elem(), item, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	}
	if want == "" {
		return nil
	}
	return fmt.Errorf("%s must be %s, not %s", key, want, describeValue(v))
}

// describeValue names a decoded JSON value for a message.
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", clip(v))
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// describeJSONError turns an encoding/json error into one that names the file and where in it
// the error is.
func describeJSONError(path string, data []byte, err error) error {
	return fmt.Errorf("config file %s: %w", path, jsonerr.Describe(data, err))
}

// certRef resolves a relative reference to certificates from the config file: a file beside it,
// or, when it has the form of a certificate-store id and no such file is there, the id itself.
func certRef(dir, p string) string {
	joined := filepath.Join(dir, p)
	if certstore.IsID(p) {
		if _, err := os.Stat(joined); err != nil {
			return p
		}
	}
	return joined
}

// resolvePaths makes relative paths that came from the config file relative to its directory.
// Paths from the defaults or the environment stay relative to the working directory.
func resolvePaths(c *Config, dir string, fromFile, fromEnv map[string]bool) {
	// The file-system paths a config file may give relative to its own directory.
	fields := map[string]*string{
		"app_path":                    &c.AppPath,
		"middleware_path":             &c.MiddlewarePath,
		"template_path":               &c.TemplatePath,
		"public_key_path":             &c.PublicKeyPath,
		"policies.policy_record_name": &c.Policies.PolicyRecordName,
		"analytics_config.file_path":  &c.AnalyticsConfig.FilePath,
		"storage.ca_file":             &c.Storage.CAFile,
		"storage.cert_file":           &c.Storage.CertFile,
		"storage.key_file":            &c.Storage.KeyFile,
		"cache_storage.ca_file":       &c.CacheStorage.CAFile,
		"cache_storage.cert_file":     &c.CacheStorage.CertFile,
		"cache_storage.key_file":      &c.CacheStorage.KeyFile,
		"analytics_storage.ca_file":   &c.AnalyticsStorage.CAFile,
		"analytics_storage.cert_file": &c.AnalyticsStorage.CertFile,
		"analytics_storage.key_file":  &c.AnalyticsStorage.KeyFile,
		"proxy_ssl_ca_file":           &c.ProxySSLCAFile,
	}
	for domain, p := range c.Security.Certificates.Upstream {
		if fromFile["security.certificates.upstream"] && !fromEnv["security.certificates.upstream"] && p != "" && !filepath.IsAbs(p) {
			c.Security.Certificates.Upstream[domain] = certRef(dir, p)
		}
	}
	if key := "security.pinned_public_keys"; fromFile[key] && !fromEnv[key] {
		for domain, list := range c.Security.PinnedPublicKeys {
			c.Security.PinnedPublicKeys[domain] = resolvePinFiles(list, dir)
		}
	}
	// Certificate files, unless the environment replaced the file's list.
	for i := range c.HTTPServerOptions.Certificates {
		if fromEnv["http_server_options.certificates"] {
			break
		}
		cf := &c.HTTPServerOptions.Certificates[i]
		fields[fmt.Sprintf("http_server_options.certificates[%d].cert_file", i)] = &cf.CertFile
		fields[fmt.Sprintf("http_server_options.certificates[%d].key_file", i)] = &cf.KeyFile
	}
	if key := "http_server_options.ssl_certificates"; fromFile[key] && !fromEnv[key] {
		for i, p := range c.HTTPServerOptions.SSLCertificates {
			if strings.TrimSpace(p) != "" && !filepath.IsAbs(p) {
				c.HTTPServerOptions.SSLCertificates[i] = certRef(dir, p)
			}
		}
	}
	if key := "security.certificates.control_api"; fromFile[key] && !fromEnv[key] {
		for i, p := range c.Security.Certificates.ControlAPI {
			if strings.TrimSpace(p) != "" && !filepath.IsAbs(p) {
				c.Security.Certificates.ControlAPI[i] = certRef(dir, p)
			}
		}
	}
	if key := "security.certificates.apis"; fromFile[key] && !fromEnv[key] {
		for i, p := range c.Security.Certificates.APIs {
			// PEM text is not a path.
			if p = strings.TrimSpace(p); p != "" && !filepath.IsAbs(p) && !strings.Contains(p, "-----BEGIN") {
				c.Security.Certificates.APIs[i] = certRef(dir, p)
			}
		}
	}
	for key, p := range fields {
		if !fromFile[key] || fromEnv[key] || *p == "" || filepath.IsAbs(*p) {
			continue
		}
		// With another policy source the record name is not a path (Tyk: a collection name).
		if key == "policies.policy_record_name" && c.Policies.PolicySource != "file" {
			continue
		}
		*p = filepath.Join(dir, *p)
	}
}

// resolvePinFiles resolves the relative files of a pinned_public_keys list against dir; the
// fingerprints in it stay as they are.
func resolvePinFiles(list, dir string) string {
	items := strings.Split(list, ",")
	for i, it := range items {
		it = strings.TrimSpace(it)
		if _, fp := apidef.PinFingerprint(it); !fp && it != "" && !filepath.IsAbs(it) {
			it = filepath.Join(dir, it)
		}
		items[i] = it
	}
	return strings.Join(items, ",")
}
