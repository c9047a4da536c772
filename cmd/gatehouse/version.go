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
	if settings := plugin.HostSettings(); settings != nil {
		fmt.Fprintf(w, "build:    -buildmode=%s\n", settings["-buildmode"])
		for _, s := range plugin.BuildSettings {
			if v, ok := settings[s.Key]; ok {
				fmt.Fprintf(w, "build:    %s=%s\n", s.Key, v)
			}
		}
	}
	return 0
}
