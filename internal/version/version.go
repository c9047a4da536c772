// Package version names this build of Gatehouse.
package version

// Version is the gateway version: reported by /hello and `gatehouse version`, and the version
// the plugin loader and compiler put in plugin file names ({name}_{version}_{os}_{arch}.so).
const Version = "v0.1.0"

// TykAPI is the Tyk release whose plugin-facing Go API (ctx, user, apidef, header, log and
// tyk-pump's analytics) the compiler's compatibility packages emulate.
const TykAPI = "v5.14.0"
