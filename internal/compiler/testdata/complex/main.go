// Package main imports a package of its own module: the compiler must rewrite that import when it
// gives the build its own module path.
package main

import (
	"net/http"

	"example.com/complex/helper"
	"github.com/gatehouse/gatehouse/sdk"
)

// Hook adds a header made by the helper package, naming the request's API.
func Hook(rw http.ResponseWriter, r *http.Request) {
	name := ""
	if def := sdk.GetDefinition(r); def != nil {
		name = def.APIID
	}
	rw.Header().Set("X-Complex", helper.Greeting(name))
}

func main() {}
