// Package main is a plugin whose initialisation panics.
package main

import "net/http"

func init() { panic("this plugin fails while initialising") }

// Hook is never reached.
func Hook(rw http.ResponseWriter, r *http.Request) {}

func main() {}
