package tracing

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// convert turns the slog attributes plugins give into span attributes: groups become dotted
// keys, durations and times strings, slices of strings, ints, floats and bools arrays, and
// anything else its fmt text.
func convert(attrs []slog.Attr) []attribute.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		out = appendAttr(out, "", a)
	}
	return out
}

func appendAttr(out []attribute.KeyValue, prefix string, a slog.Attr) []attribute.KeyValue {
	v := a.Value.Resolve()
	key := prefix + a.Key
	if v.Kind() != slog.KindGroup && key == "" {
		return out
	}
	switch v.Kind() {
	case slog.KindString:
		return append(out, attribute.String(key, v.String()))
	case slog.KindInt64:
		return append(out, attribute.Int64(key, v.Int64()))
	case slog.KindUint64:
		return append(out, attribute.Int64(key, int64(min(v.Uint64(), math.MaxInt64))))
	case slog.KindFloat64:
		return append(out, attribute.Float64(key, v.Float64()))
	case slog.KindBool:
		return append(out, attribute.Bool(key, v.Bool()))
	case slog.KindDuration:
		return append(out, attribute.String(key, v.Duration().String()))
	case slog.KindTime:
		return append(out, attribute.String(key, v.Time().Format(time.RFC3339Nano)))
	case slog.KindGroup:
		if key != "" {
			key += "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, key, g)
		}
		return out
	}
	switch x := v.Any().(type) {
	case []string:
		return append(out, attribute.StringSlice(key, x))
	case []int:
		return append(out, attribute.IntSlice(key, x))
	case []int64:
		return append(out, attribute.Int64Slice(key, x))
	case []float64:
		return append(out, attribute.Float64Slice(key, x))
	case []bool:
		return append(out, attribute.BoolSlice(key, x))
	case error:
		return append(out, attribute.String(key, x.Error()))
	case nil:
		return append(out, attribute.String(key, ""))
	default:
		return append(out, attribute.String(key, fmt.Sprint(x)))
	}
}
