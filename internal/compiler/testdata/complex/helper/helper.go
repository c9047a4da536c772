// Package helper is imported by the plugin's main package.
package helper

// Greeting says hello to name.
func Greeting(name string) string { return "hello " + name }
