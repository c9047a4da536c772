// Package main is a test plugin for gRPC requests.
package main

import (
	"net/http"
	"strings"
)

// RefuseGRPC refuses a gRPC call the way a gRPC server does: HTTP 200 with the call's status in
// the headers (a trailers-only response), which gRPC clients read as PERMISSION_DENIED. Other
// requests pass.
func RefuseGRPC(rw http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		return
	}
	rw.Header().Set("Content-Type", "application/grpc")
	rw.Header().Set("Grpc-Status", "7")
	rw.Header().Set("Grpc-Message", "refused by a plugin")
	rw.WriteHeader(http.StatusOK)
}

func main() {}
