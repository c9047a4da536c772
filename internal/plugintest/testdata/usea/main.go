// Package main is a plugin importing the test package shared, as useb does, and zlater, as usec
// does.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/plugintest/testdata/shared"
	"github.com/gatehouse/gatehouse/internal/plugintest/testdata/zlater"
)

// Hook names the plugin and the shared package in response headers.
func Hook(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Plugin", "usea")
	rw.Header().Set("X-Shared", shared.Name)
	rw.Header().Set("X-Zlater", zlater.Ready)
}

func main() {}
