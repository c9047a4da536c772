// Package gatehouse carries the source of the packages a plugin may import, so that the plugin
// compiler inside the gatehouse binary can build plugins against exactly the code the binary was
// built from, with no checkout of this repository.
package gatehouse

import "embed"

// Source holds go.mod, go.sum and the packages plugins link against: apidef, sdk and what they
// import from this module. A package plugins may import must be listed here.
//
//go:embed go.mod go.sum apidef/*.go sdk/*.go internal/reqctx/*.go
var Source embed.FS

// ModulePath is this module's path.
const ModulePath = "github.com/gatehouse/gatehouse"
