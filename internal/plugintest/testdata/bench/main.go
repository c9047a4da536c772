// Package main is the benchmark plugin of internal/gateway/bench_test.go and of the load
// benchmark (bench/): one hook per kind, each doing a tiny amount of work, so a benchmark
// measures what calling a hook costs the gateway.
package main

import "net/http"

// BenchPre runs at pre: it sets a request header.
func BenchPre(rw http.ResponseWriter, r *http.Request) { r.Header.Set("X-Bench-Pre", "1") }

// BenchPost runs at post: it sets a request header.
func BenchPost(rw http.ResponseWriter, r *http.Request) { r.Header.Set("X-Bench-Post", "1") }

// BenchResponse runs at response: it sets a response header.
func BenchResponse(rw http.ResponseWriter, res *http.Response, req *http.Request) {
	res.Header.Set("X-Bench-Response", "1")
}

func main() {}
