// Package main is a Tyk Go plugin of our own writing that makes the calls of Tyk's own test
// plugin (test/goplugins) and of the public examples that the tykplugin fixture does not: it is
// laid out as Tyk's complex-plugin test (exported variables holding functions of other
// packages of the module), sets a session with ctx.SetSession(r, s, true, true), keys a session
// on the client's IP for the rate limiter, authorises from config_data writing its own 401,
// imports the old headers package, reads the Tyk OAS document's title in a response hook, and
// masks a field of the recorded request in an analytics hook.
package main

import (
	"example.com/tyk-goplugins/analytics"
	"example.com/tyk-goplugins/plugin"
)

// The hooks, as exported variables.
var (
	MyPluginPre                        = plugin.Pre
	MyPluginAuthCheck                  = plugin.AuthCheck
	MyPluginPostKeyAuth                = plugin.PostKeyAuth
	IPRateLimiter                      = plugin.IPRateLimiter
	AuthorizeFromConfig                = plugin.AuthorizeFromConfig
	MyResponsePluginAccessingOASAPI    = plugin.ResponseOASTitle
	MyAnalyticsPluginMaskJSONLoginBody = analytics.MaskJSONLoginBody
)

func main() {}
