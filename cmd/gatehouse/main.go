// Command gatehouse is the Gatehouse API gateway: one binary that runs the gateway and, in later
// subcommands, builds and checks its plugins.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `gatehouse: an API gateway extended with native Go plugins

Usage:
  gatehouse start [--conf FILE] [--example]   run the gateway
  gatehouse plugin init|test|build|check|load ...   make, test and build plugins for this binary
  gatehouse bundle build [-m ...] [-o ...] [-k ...] [-y]   pack (and sign) a plugin bundle
  gatehouse echo [--listen ADDR]              run an upstream that echoes every request, to try APIs on
  gatehouse version                           print the version, build settings and modules plugins must match
  gatehouse help                              print this help

Run 'gatehouse start --help' for the options of start.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "start":
		return cmdStart(args[1:], stderr)
	case "plugin":
		return cmdPlugin(args[1:], stdout, stderr)
	case "bundle":
		return cmdBundle(args[1:], os.Stdin, stdout, stderr)
	case "echo":
		return cmdEcho(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		return cmdVersion(stdout)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
