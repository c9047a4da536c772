package reqctx

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// pluginLog is where plugin log lines go (sdk.Log). It is process-wide on purpose: a plugin is
// loaded into the process, not into one gateway, and code that logs without a request (a
// plugin's init, its own goroutines) has nothing else to find a logger through.
var pluginLog atomic.Pointer[slog.Logger]

// SetLogger makes l the logger plugin log lines go to. The gateway calls it when it starts.
func SetLogger(l *slog.Logger) { pluginLog.Store(l) }

// Logger returns the logger plugin log lines go to: the gateway's, or slog's default before a
// gateway has started.
func Logger() *slog.Logger {
	if l := pluginLog.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// FromContext returns the state a request context carries, or nil.
func FromContext(ctx context.Context) *State {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(key{}).(*State)
	return st
}
