package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/internal/version"
)

func cmdVersion(w io.Writer) int {
	fmt.Fprintf(w, "gatehouse %s\n", version.Version)
	if fp, err := compiler.Fingerprint(); err == nil {
		fmt.Fprintf(w, "plugins:  fingerprint %s (plugins built by this binary load into any binary with the same)\n", fp)
	}
	fmt.Fprintf(w, "go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "tyk:      plugins written for Tyk build unchanged against its plugin API of Tyk %s\n", version.TykAPI)
	if settings := plugin.HostSettings(); settings != nil {
		fmt.Fprintf(w, "build:    -buildmode=%s\n", settings["-buildmode"])
		for _, s := range plugin.BuildSettings {
			if v, ok := settings[s.Key]; ok {
				fmt.Fprintf(w, "build:    %s=%s\n", s.Key, v)
			}
		}
	}
	// Go links one copy of a package per process: a plugin that imports any of these must
	// require exactly the version the gateway was built with.
	if info := plugin.HostBuildInfo(); info != nil && len(info.Deps) > 0 {
		fmt.Fprintln(w, "modules:  a plugin importing any of these must require the same version (go get MODULE@VERSION):")
		for _, m := range info.Deps {
			if m.Replace != nil {
				m = m.Replace
			}
			fmt.Fprintf(w, "          %s %s\n", m.Path, m.Version)
		}
	}
	return 0
}
