// Package main is the quickstart's Go plugin. `gatehouse start --example` compiles it from this
// source when the example API loads, and runs AddGreeting at the API's post hook.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/sdk"
)

// AddGreeting adds the API's config_data greeting to the request the upstream receives, and marks
// the response.
func AddGreeting(rw http.ResponseWriter, r *http.Request) {
	greeting := "hello"
	if def := sdk.GetDefinition(r); def != nil {
		if g, ok := def.ConfigData["greeting"].(string); ok {
			greeting = g
		}
	}
	r.Header.Set("X-Greeting", greeting)
	rw.Header().Set("X-Served-By", "gatehouse-example-plugin")
}

func main() {}
