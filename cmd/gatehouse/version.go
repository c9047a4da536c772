package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/gatehouse/gatehouse/internal/compiler"
	"github.com/gatehouse/gatehouse/internal/version"
)

func cmdVersion(w io.Writer) int {
	fmt.Fprintf(w, "gatehouse %s\n", version.Version)
	if fp, err := compiler.Fingerprint(); err == nil {
		fmt.Fprintf(w, "plugins:  fingerprint %s (plugins built by this binary load into any binary with the same)\n", fp)
	}
	fmt.Fprintf(w, "go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "-trimpath", "-tags", "-race", "CGO_ENABLED", "GOAMD64", "GOARM64", "-buildmode":
				fmt.Fprintf(w, "build:    %s=%s\n", s.Key, s.Value)
			}
		}
	}
	return 0
}
