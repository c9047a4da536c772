//go:build cgo && (linux || darwin || freebsd)

package plugin

import (
	"fmt"
	goplugin "plugin"
	"runtime"
	"runtime/debug"
)

const supported = true

// openLibrary opens a plugin file. A panic in the plugin's init functions is recovered and
// returned as an *initPanicError.
func openLibrary(path string) (lib library, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &initPanicError{value: fmt.Sprint(r), stack: debug.Stack(), pkg: panickedInit()}
		}
	}()
	p, err := goplugin.Open(path)
	if err != nil {
		return nil, err
	}
	return goLibrary{p}, nil
}

// panickedInit returns the package whose initialisation is panicking, called from the deferred
// function recovering the panic: the package of the function the runtime's doInit1 called (its
// init, or the initialiser of its package-level variables); "" when the stack does not show it.
func panickedInit() string {
	pc := make([]uintptr, 4096)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	callee := ""
	for {
		f, more := frames.Next()
		if f.Function == "runtime.doInit1" {
			return initPackage(callee)
		}
		callee = f.Function
		if !more {
			return ""
		}
	}
}

type goLibrary struct{ p *goplugin.Plugin }

func (g goLibrary) Lookup(symbol string) (any, error) { return g.p.Lookup(symbol) }
