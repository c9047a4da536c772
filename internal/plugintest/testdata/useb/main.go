// Package main is a plugin importing the test package shared, as usea does.
package main

import (
	"net/http"

	"github.com/gatehouse/gatehouse/internal/plugintest/testdata/shared"
)

// Hook names the plugin and the shared package in response headers.
func Hook(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("X-Plugin", "useb")
	rw.Header().Set("X-Shared", shared.Name)
}

func main() {}
