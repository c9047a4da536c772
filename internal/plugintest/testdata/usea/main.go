// Package main is a plugin importing the test package shared, as useb does.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/plugintest/testdata/shared"
)

// Hook names the plugin and the shared package in response headers.
func Hook(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Plugin", "usea")
	rw.Header().Set("X-Shared", shared.Name)
}

func main() {}
