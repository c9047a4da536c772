// Package main is a plugin importing the test package zlater, as usea does, and not shared.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/plugintest/testdata/zlater"
)

// Hook reports whether zlater was initialised.
func Hook(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Plugin", "usec")
	rw.Header().Set("X-Zlater", zlater.Ready)
}

func main() {}
