package main

import (
	"bufio"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/bundle"
)

const bundleUsage = `Usage:
  gatehouse bundle build [-m manifest.json] [-o bundle.zip] [-k private.pem] [-y]
      pack the files the manifest lists (relative to the manifest's folder) and the manifest into
      a bundle, with Tyk's checksum and, with -k, Tyk's signature and Gatehouse's seal.
      The seal binds the bundle's name, -o's file name: serve the bundle under that name (the
      one API definitions give in custom_middleware_bundle), gateways refuse it under another.
      Without -k, -y confirms that the bundle is to be unsigned.
`

func cmdBundle(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "build" {
		fmt.Fprint(stderr, bundleUsage)
		return 2
	}
	fs := flag.NewFlagSet("bundle build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifest := fs.String("m", "manifest.json", "the manifest")
	fs.StringVar(manifest, "manifest", "manifest.json", "the manifest")
	out := fs.String("o", "", "the bundle to write (default bundle.zip)")
	fs.StringVar(out, "output", "", "the bundle to write (default bundle.zip)")
	keyPath := fs.String("k", "", "PEM RSA private key to sign with")
	fs.StringVar(keyPath, "key", "", "PEM RSA private key to sign with")
	skip := fs.Bool("y", false, "write an unsigned bundle without asking")
	fs.BoolVar(skip, "skip-signing", false, "write an unsigned bundle without asking")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *out == "" {
		*out = "bundle.zip"
		fmt.Fprintln(stderr, "no -o given: writing bundle.zip")
	}
	m, err := bundle.ReadManifest(*manifest)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse bundle build: %v\n", err)
		return 1
	}
	if err := bundle.CheckManifest(m); err != nil {
		fmt.Fprintf(stderr, "gatehouse bundle build: %s: %v\n", *manifest, err)
		return 1
	}
	if m.CustomMiddleware.Driver != apidef.GoPluginDriver {
		fmt.Fprintf(stderr, "warning: driver %q: Gatehouse runs only %q bundles (Tyk runs the others)\n", m.CustomMiddleware.Driver, apidef.GoPluginDriver)
	}
	var key *rsa.PrivateKey
	switch {
	case *keyPath != "":
		// The seal binds the name the bundle is written as: gateways ask for it by that name.
		if err := bundle.CheckBundleName(filepath.Base(*out)); err != nil {
			fmt.Fprintf(stderr, "gatehouse bundle build: -o %s: the seal binds the bundle's file name, the one gateways ask the bundle server for "+
				"(custom_middleware_bundle), and %v: choose another -o\n", *out, err)
			return 1
		}
		if key, err = bundle.LoadPrivateKey(*keyPath); err != nil {
			fmt.Fprintf(stderr, "gatehouse bundle build: %v\n", err)
			return 1
		}
	case !*skip:
		ok, err := confirmUnsigned(stdin, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "gatehouse bundle build: %v\n", err)
			return 1
		}
		if !ok {
			fmt.Fprintln(stderr, "gatehouse bundle build: aborted; sign with -k private.pem, or pass -y for an unsigned bundle")
			return 1
		}
	}
	if err := bundle.Write(m, filepath.Dir(*manifest), *out, key); err != nil {
		fmt.Fprintf(stderr, "gatehouse bundle build: %v\n", err)
		return 1
	}
	signed := "unsigned"
	if key != nil {
		signed = fmt.Sprintf("signed and sealed for the name %s: serve it under that name", filepath.Base(*out))
	}
	fmt.Fprintf(stdout, "wrote %s (%d files, checksum %s, %s)\n", *out, len(m.FileList), m.Checksum, signed)
	return 0
}

// confirmUnsigned asks on the terminal before an unsigned bundle is written; with no terminal to
// ask, it refuses.
func confirmUnsigned(stdin io.Reader, stderr io.Writer) (bool, error) {
	f, ok := stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return false, errors.New("no -k to sign with and no terminal to confirm an unsigned bundle on; pass -y to write it unsigned")
	}
	fmt.Fprint(stderr, "The bundle will not be signed: gateways with public_key_path will refuse it. Continue? [y/N] ")
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y"), nil
}
