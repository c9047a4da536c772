package sdk

import (
	"context"
	"log/slog"
	"runtime"
	"strings"

	"github.com/gatehouse/gatehouse/internal/reqctx"
)

// Log writes a plugin's log line to the gateway's log. ctx is the request's (r.Context()) when
// the line is about a request: the line then carries the API it is serving (api_id). Every line
// carries the plugin function that logged it (plugin_func), and the plugin (plugin), found from
// the call stack, so no per-request logger needs building. Nothing is done for a line the
// gateway's log level drops.
//
// It is the bridge for logging libraries a plugin brings: Tyk's log.Get() logger writes
// through it.
func Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if ctx == nil {
		ctx = context.Background()
	}
	l := reqctx.Logger()
	if !l.Enabled(ctx, level) {
		return
	}
	extra := make([]slog.Attr, 0, len(attrs)+4)
	if st := reqctx.FromContext(ctx); st != nil && st.API != nil {
		extra = append(extra, slog.String("api_id", st.API.APIID))
	}
	if plugin, fn := caller(); fn != "" {
		extra = append(extra, slog.String("plugin_func", fn), slog.String("plugin", plugin))
	}
	l.LogAttrs(ctx, level, msg, append(extra, attrs...)...)
}

// LogEnabled reports whether the gateway's log keeps lines of level, so that a plugin's logger
// can skip building the ones it drops.
func LogEnabled(ctx context.Context, level slog.Level) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	return reqctx.Logger().Enabled(ctx, level)
}

// gatewayPrefix starts the names of the gateway's own functions.
const gatewayPrefix = "github.com/gatehouse/gatehouse/"

// caller finds the plugin function the gateway called (the hook) on the current stack: the
// outermost frame below the gateway's that is not the gateway's, the runtime's or the standard
// library plugin package's (which runs a plugin's init functions as it opens it). Off a hook's
// stack (a plugin's own goroutine) it is the outermost plugin frame. It returns the plugin's
// package path and the function's name.
func caller() (plugin, fn string) {
	var pcs [64]uintptr
	n := runtime.Callers(3, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	hook := ""
	for {
		f, more := frames.Next()
		name := f.Function
		switch {
		case strings.HasPrefix(name, gatewayPrefix+"internal/"):
			more = false
		case name == "" || strings.HasPrefix(name, gatewayPrefix) || strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "plugin.") ||
			strings.HasPrefix(name, "github.com/sirupsen/logrus") || strings.HasPrefix(name, "github.com/TykTechnologies/tyk/log"):
		default:
			hook = name
		}
		if !more {
			break
		}
	}
	if hook == "" {
		return "", ""
	}
	// "example.com/plugin_abc.MyHook.func1": the package path ends at the first dot after the
	// last slash.
	slash := strings.LastIndex(hook, "/")
	dot := strings.Index(hook[slash+1:], ".")
	if dot < 0 {
		return "", hook
	}
	plugin, fn = hook[:slash+1+dot], hook[slash+1+dot+1:]
	if i := strings.Index(fn, "."); i >= 0 {
		fn = fn[:i]
	}
	return plugin, fn
}
