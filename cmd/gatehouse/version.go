package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/gatehouse/gatehouse/internal/version"
)

func cmdVersion(w io.Writer) int {
	fmt.Fprintf(w, "gatehouse %s\n", version.Version)
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
