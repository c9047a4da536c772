//go:build gatehouse_compat

// Package log is Gatehouse's rendering of Tyk's log package: Get returns the logrus logger Tyk
// plugins log with. Its lines are not written by logrus: a hook hands each to the gateway's log
// (sdk.Log), with the entry's fields, the plugin function that logged it and, when the entry
// carries the request's context (WithContext(r.Context())), the API. Its level follows the
// gateway's, so lines the gateway drops are not built.
//
// Only plugins that import this package link logrus; the gateway never does. All plugins
// loaded into one gateway must agree on logrus's version, as on any module they share.
package log

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/gatehouse/gatehouse/sdk"
	"github.com/sirupsen/logrus"
)

var (
	// once is on the heap: under the race detector, a plugin's own globals are invisible to it
	// (only the gateway binary's data and the heap are watched), so a sync.Once there would
	// order nothing it can see, and two requests logging first would be reported as a race.
	once   = new(sync.Once)
	logger *logrus.Logger
)

// Get returns the plugin logger.
func Get() *logrus.Logger {
	once.Do(func() {
		logger = &logrus.Logger{
			Out:       io.Discard,
			Formatter: discardFormatter{},
			Hooks:     logrus.LevelHooks{},
			Level:     logrus.InfoLevel,
			ExitFunc:  func(int) {},
		}
		logger.AddHook(bridge{})
	})
	logger.SetLevel(gatewayLevel())
	return logger
}

// GetRaw returns the plugin logger, as Get does.
func GetRaw() *logrus.Logger { return Get() }

// gatewayLevel returns the most verbose logrus level whose lines the gateway keeps.
func gatewayLevel() logrus.Level {
	ctx := context.Background()
	switch {
	case sdk.LogEnabled(ctx, slog.LevelDebug-4):
		return logrus.TraceLevel
	case sdk.LogEnabled(ctx, slog.LevelDebug):
		return logrus.DebugLevel
	case sdk.LogEnabled(ctx, slog.LevelInfo):
		return logrus.InfoLevel
	case sdk.LogEnabled(ctx, slog.LevelWarn):
		return logrus.WarnLevel
	}
	return logrus.ErrorLevel
}

// discardFormatter formats nothing: the bridge hook has written the line already.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// bridge passes each entry to the gateway's log.
type bridge struct{}

func (bridge) Levels() []logrus.Level { return logrus.AllLevels }

func (bridge) Fire(e *logrus.Entry) error {
	attrs := make([]slog.Attr, 0, len(e.Data))
	for k, v := range e.Data {
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	sdk.Log(e.Context, slogLevel(e.Level), e.Message, attrs...)
	return nil
}

func slogLevel(l logrus.Level) slog.Level {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		return slog.LevelError
	case logrus.WarnLevel:
		return slog.LevelWarn
	case logrus.InfoLevel:
		return slog.LevelInfo
	case logrus.DebugLevel:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 4
}
