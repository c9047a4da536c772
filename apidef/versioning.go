package apidef

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// MaxVersionAPIs bounds the version APIs a base API lists.
const MaxVersionAPIs = 100

// VersionsEnabled reports whether the API is a base API that serves its versions through
// separate APIs (definition.enabled).
func (a *APIDefinition) VersionsEnabled() bool { return a.VersionDefinition.APIs().Enabled }

// validateVersionAPIs checks a base API's definition block (versioning through separate APIs).
func (a *APIDefinition) validateVersionAPIs() []error {
	vd := a.VersionDefinition.APIs()
	if !vd.Enabled {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch l := a.VersionDefinition.Location; l {
	case "header", "url-param", "url":
	default:
		add("definition.location: %q is not one of header, url-param, url; a base API (definition.enabled) reads the version there", l)
	}
	if len(vd.Versions) > MaxVersionAPIs {
		add("definition.versions: more than %d versions", MaxVersionAPIs)
	}
	for _, name := range slices.Sorted(maps.Keys(vd.Versions)) {
		switch {
		case name == "":
			add("definition.versions: a version has no name")
		case name == vd.Name || name == SelfVersion:
			add("definition.versions: %q is this API's own version (definition.name, or \"self\"), served here, not by another API", name)
		}
		switch id := vd.Versions[name]; {
		case id == "":
			add("definition.versions[%q]: names no API; give the version API's api_id", name)
		case id == a.APIID || LoopKey(id) == "self" || a.Name != "" && LoopKey(id) == LoopKey(a.Name):
			add("definition.versions[%q]: %q is this API itself; name it in definition.name instead", name, id)
		}
	}
	if d := vd.Default; d != "" && d != SelfVersion && d != vd.Name {
		if _, ok := vd.Versions[d]; !ok {
			add("definition.default: %q is neither \"self\", this API's name (definition.name) nor one of definition.versions", d)
		}
	}
	if vd.FallbackToDefault && vd.Default == "" && vd.Name != "" {
		add("definition.fallback_to_default: definition.default names no version to fall back to")
	}
	if p := vd.URLVersioningPattern; p != "" {
		if _, err := regexp.Compile(p); err != nil {
			add("definition.url_versioning_pattern: %v", err)
		}
	}
	if !a.VersionData.NotVersioned && len(a.VersionData.Versions) > 1 {
		add("definition.enabled: a base API serving versions through other APIs cannot also have several version_data versions; move them to APIs of their own, or set version_data.not_versioned")
	}
	return errs
}
