// Package main reports its version; tests build it twice, as v1 and v2, under different module
// paths, to update a plugin without a restart.
package main

import "net/http"

const version = "v1"

// Version adds X-Plugin-Version to the response.
func Version(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Plugin-Version", version)
}

func main() {}
