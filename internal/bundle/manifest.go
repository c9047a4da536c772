package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/plugin"
)

// ManifestName is the manifest's name inside a bundle.
const ManifestName = "manifest.json"

// ReadManifest reads and decodes a manifest file.
func ReadManifest(p string) (*apidef.BundleManifest, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// ParseManifest decodes a manifest. It checks the JSON only; CheckManifest checks what the
// manifest says. Like Tyk, it ignores keys it does not know: they cannot change what the gateway
// does, and the seal does not cover them (see seal.go).
func ParseManifest(data []byte) (*apidef.BundleManifest, error) {
	var m apidef.BundleManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a valid manifest: %w", err)
	}
	return &m, nil
}

// hookPaths returns the files the manifest's hooks name, with where each is used.
func hookPaths(m *apidef.BundleManifest) map[string]string {
	cm := m.CustomMiddleware
	out := map[string]string{}
	add := func(where string, d apidef.MiddlewareDefinition) {
		if d.Path != "" && !d.Disabled {
			out[d.Path] = where + " " + d.Name
		}
	}
	for where, list := range map[string][]apidef.MiddlewareDefinition{"pre": cm.Pre, "post": cm.Post, "post_key_auth": cm.PostKeyAuth, "response": cm.Response} {
		for _, d := range list {
			add(where, d)
		}
	}
	add("auth_check", cm.AuthCheck)
	if tl := cm.TrafficLogs; tl.Path != "" {
		add("traffic_logs", tl)
	}
	return out
}

// CheckManifest checks what a manifest says, before any file is read: a driver, at least one
// hook, safe file names (none listed twice, none the folder of another, also in another case),
// and (for Go plugins) every hook's file in file_list, so that the signature covers every file a
// hook runs. A hook's file is in file_list when its path is, or when a versioned name of it is
// (`{name}_{version}_{GOOS}_{GOARCH}.so` in the same folder, for any gateway version and target,
// as Tyk's manifests list a plugin the compiler built): the gateway resolves a hook path to its
// versioned name among the listed files (see the plugin loader's ResolveAmong), and opens no
// other.
func CheckManifest(m *apidef.BundleManifest) error {
	var errs []error
	if m.CustomMiddleware.Driver == "" {
		errs = append(errs, errors.New("no driver specified (custom_middleware.driver)"))
	}
	if !m.CustomMiddleware.Enabled() && m.CustomMiddleware.TrafficLogs.Name == "" {
		errs = append(errs, errors.New("no hooks defined (custom_middleware has no pre, post, post_key_auth, response, auth_check or traffic_logs)"))
	}
	seen := map[string]bool{}
	folders := map[string]bool{}
	for _, f := range m.FileList {
		if err := CheckName(f); err != nil {
			errs = append(errs, fmt.Errorf("file_list: %w", err))
			continue
		}
		key := strings.ToLower(f)
		if seen[key] {
			errs = append(errs, fmt.Errorf("file_list: %q is listed twice", f))
		}
		seen[key] = true
		for i := range len(key) {
			if key[i] == '/' {
				folders[key[:i]] = true
			}
		}
	}
	for _, f := range m.FileList {
		if folders[strings.ToLower(f)] {
			errs = append(errs, fmt.Errorf("file_list: %q is a file and the folder of another listed file", f))
		}
	}
	if m.CustomMiddleware.Driver == apidef.GoPluginDriver {
		for p, where := range hookPaths(m) {
			if !listed(m.FileList, p) {
				errs = append(errs, fmt.Errorf("the %s hook's file %q is not in file_list (nor is a versioned name of it): the signature would not cover it", where, p))
			}
		}
	}
	return errors.Join(errs...)
}

// listed reports whether the file a hook path names is in list: the path itself, or a versioned
// name of it in the same folder.
func listed(list []string, hookPath string) bool {
	p := path.Clean(hookPath)
	if slices.Contains(list, p) {
		return true
	}
	dir, name := path.Split(p)
	return slices.ContainsFunc(list, func(f string) bool {
		fdir, file := path.Split(f)
		return fdir == dir && plugin.IsVersionedName(file, name)
	})
}

// CheckName checks a file name in a bundle: relative, slash-separated, with no empty, "." or
// ".." element, no element longer than 255 bytes (what file systems allow), no backslash and no
// control character.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty file name")
	case len(name) > 512:
		return fmt.Errorf("file name %.32q... is too long", name)
	case strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.Contains(name, ":"):
		return fmt.Errorf("file name %q must be a relative slash-separated path", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("file name %q has an empty, '.' or '..' element", name)
		}
		if len(el) > 255 {
			return fmt.Errorf("file name %.32q... has an element longer than 255 bytes", name)
		}
		for _, r := range el {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("file name %q holds a control character", name)
			}
		}
	}
	return nil
}
