// Package gatehouse carries the source of the packages a plugin may import, so that the plugin
// compiler inside the gatehouse binary can build plugins against exactly the code the binary was
// built from, with no checkout of this repository.
package gatehouse

import "embed"

// Source holds go.mod, go.sum and the packages plugins link against: apidef, sdk and what they
// import from this module. A package plugins may import must be listed here.
//
//go:embed go.mod go.sum apidef/*.go sdk/*.go sdk/sdktest/*.go internal/reqctx/*.go
var Source embed.FS

// Compat holds the packages at Tyk's import paths (compat/tyk, compat/tyk-pump) that the
// compiler puts in a Tyk plugin's build in place of Tyk's modules. The gateway never links them,
// so they are not part of the plugin fingerprint.
//
//go:embed compat
var Compat embed.FS

// ModulePath is this module's path.
const ModulePath = "github.com/gatehouse/gatehouse"
