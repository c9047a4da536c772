//go:build cgo && (linux || darwin || freebsd)

package plugin

import (
	"fmt"
	goplugin "plugin"
	"runtime/debug"
)

const supported = true

// openLibrary opens a plugin file. A panic in the plugin's init functions is recovered and
// returned as an *initPanicError.
func openLibrary(path string) (lib library, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &initPanicError{value: fmt.Sprint(r), stack: debug.Stack()}
		}
	}()
	p, err := goplugin.Open(path)
	if err != nil {
		return nil, err
	}
	return goLibrary{p}, nil
}

type goLibrary struct{ p *goplugin.Plugin }

func (g goLibrary) Lookup(symbol string) (any, error) { return g.p.Lookup(symbol) }
