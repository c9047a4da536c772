// Package main logs through Tyk's log.Get(), as Tyk's qa-plugin and the public examples do.
package main

import (
	"net/http"

	"github.com/TykTechnologies/tyk/ctx"
	"github.com/TykTechnologies/tyk/log"
)

var logger = log.Get()

func init() {
	logger.Info("init line from a tyk plugin")
}

// LogHello logs a line without the request, and one with it.
func LogHello(rw http.ResponseWriter, r *http.Request) {
	logger.WithField("greeting", "hello").Info("plain line from a tyk plugin")
	log.Get().WithContext(r.Context()).WithField("api_name", ctx.GetDefinition(r).Name).Warn("request line from a tyk plugin")
	rw.Header().Set("X-Logged", "yes")
}

func main() {}
