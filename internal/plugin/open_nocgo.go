//go:build !cgo || !(linux || darwin || freebsd)

package plugin

const supported = false

func openLibrary(string) (library, error) { return nil, ErrUnsupported }
