// Package version names this build of Gatehouse.
package version

// Version is the gateway version: reported by /hello and `gatehouse version`, and the version
// the plugin loader and compiler put in plugin file names ({name}_{version}_{os}_{arch}.so).
const Version = "v0.1.0"
