package tracing

import (
	"math"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// The OTLP protobuf encoding (opentelemetry-proto, trace/v1), written field by field into one
// buffer: no message is built per span or attribute, and the gateway links no OTLP module (the
// tests decode what is written with go.opentelemetry.io/proto/otlp). The field numbers are
// OTLP's, which its compatibility rules freeze.

// Field numbers.
const (
	// TracesData (ExportTraceServiceRequest on the wire).
	fResourceSpans = 1
	// ResourceSpans.
	fRSResource   = 1
	fRSScopeSpans = 2
	// Resource.
	fResAttributes = 1
	// ScopeSpans.
	fSSScope     = 1
	fSSSpans     = 2
	fSSSchemaURL = 3
	// InstrumentationScope.
	fScopeName    = 1
	fScopeVersion = 2
	// Span.
	fSpanTraceID       = 1
	fSpanSpanID        = 2
	fSpanTraceState    = 3
	fSpanParentSpanID  = 4
	fSpanName          = 5
	fSpanKind          = 6
	fSpanStart         = 7
	fSpanEnd           = 8
	fSpanAttributes    = 9
	fSpanDroppedAttrs  = 10
	fSpanEvents        = 11
	fSpanDroppedEvents = 12
	fSpanLinks         = 13
	fSpanDroppedLinks  = 14
	fSpanStatus        = 15
	fSpanFlags         = 16
	// Span.Event.
	fEventTime         = 1
	fEventName         = 2
	fEventAttributes   = 3
	fEventDroppedAttrs = 4
	// Span.Link.
	fLinkTraceID    = 1
	fLinkSpanID     = 2
	fLinkTraceState = 3
	fLinkAttributes = 4
	// Status.
	fStatusMessage = 2
	fStatusCode    = 3
	// KeyValue.
	fKVKey   = 1
	fKVValue = 2
	// AnyValue.
	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	// ArrayValue.
	fArrayValues = 1
)

// OTLP's Status.code: 1 ok, 2 error (OTel's codes.Code numbers them the other way round).
const (
	statusOK    = 1
	statusError = 2
)

// appendSpan appends s as one field of ScopeSpans.spans: the form spans wait in for their
// export (queue.go).
func appendSpan(b []byte, s sdktrace.ReadOnlySpan) []byte {
	return message(b, fSSSpans, func(b []byte) []byte { return span(b, s) })
}

// encodeRequest appends one ExportTraceServiceRequest to b: one ResourceSpans made of the
// resource field (encodeResource) and one ScopeSpans, made of the scope fields (encodeScope)
// and spans, fields written by appendSpan. The lengths are known before the bodies: nothing is
// moved.
func encodeRequest(b, resourceField, scopeFields, spans []byte) []byte {
	scopeSpans := len(scopeFields) + len(spans)
	resourceSpans := len(resourceField) + 1 + protowire.SizeBytes(scopeSpans) // 1: the tag
	b = protowire.AppendVarint(protowire.AppendTag(b, fResourceSpans, protowire.BytesType), uint64(resourceSpans))
	b = append(b, resourceField...)
	b = protowire.AppendVarint(protowire.AppendTag(b, fRSScopeSpans, protowire.BytesType), uint64(scopeSpans))
	b = append(b, scopeFields...)
	return append(b, spans...)
}

// encodeResource is ResourceSpans' resource field, with attrs.
func encodeResource(attrs []attribute.KeyValue) []byte {
	return message(nil, fRSResource, func(b []byte) []byte {
		for _, kv := range attrs {
			b = keyValue(b, fResAttributes, kv)
		}
		return b
	})
}

// encodeScope is ScopeSpans' fields but its spans: the instrumentation scope and its schema
// URL.
func encodeScope(sc instrumentation.Scope) []byte {
	b := message(nil, fSSScope, func(b []byte) []byte {
		b = str(b, fScopeName, sc.Name)
		return str(b, fScopeVersion, sc.Version)
	})
	return str(b, fSSSchemaURL, sc.SchemaURL)
}

func span(b []byte, s sdktrace.ReadOnlySpan) []byte {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	b = bytesField(b, fSpanTraceID, tid[:])
	b = bytesField(b, fSpanSpanID, sid[:])
	b = str(b, fSpanTraceState, sc.TraceState().String())
	if parent := s.Parent(); parent.SpanID().IsValid() {
		psid := parent.SpanID()
		b = bytesField(b, fSpanParentSpanID, psid[:])
	}
	b = str(b, fSpanName, s.Name())
	if k := s.SpanKind(); k > trace.SpanKindUnspecified && k <= trace.SpanKindConsumer {
		b = varint(b, fSpanKind, uint64(k)) // OTel's and OTLP's kinds share their numbers
	}
	b = fixed64(b, fSpanStart, unixNano(s.StartTime()))
	b = fixed64(b, fSpanEnd, unixNano(s.EndTime()))
	for _, kv := range s.Attributes() {
		b = keyValue(b, fSpanAttributes, kv)
	}
	b = varint(b, fSpanDroppedAttrs, uint64(max(s.DroppedAttributes(), 0)))
	for _, ev := range s.Events() {
		b = message(b, fSpanEvents, func(b []byte) []byte {
			b = fixed64(b, fEventTime, unixNano(ev.Time))
			b = str(b, fEventName, ev.Name)
			for _, kv := range ev.Attributes {
				b = keyValue(b, fEventAttributes, kv)
			}
			return varint(b, fEventDroppedAttrs, uint64(max(ev.DroppedAttributeCount, 0)))
		})
	}
	b = varint(b, fSpanDroppedEvents, uint64(max(s.DroppedEvents(), 0)))
	for _, l := range s.Links() {
		b = message(b, fSpanLinks, func(b []byte) []byte {
			ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
			b = bytesField(b, fLinkTraceID, ltid[:])
			b = bytesField(b, fLinkSpanID, lsid[:])
			b = str(b, fLinkTraceState, l.SpanContext.TraceState().String())
			for _, kv := range l.Attributes {
				b = keyValue(b, fLinkAttributes, kv)
			}
			return b
		})
	}
	b = varint(b, fSpanDroppedLinks, uint64(max(s.DroppedLinks(), 0)))
	switch st := s.Status(); st.Code {
	case codes.Error:
		b = message(b, fSpanStatus, func(b []byte) []byte {
			b = str(b, fStatusMessage, st.Description)
			return varint(b, fStatusCode, statusError)
		})
	case codes.Ok:
		b = message(b, fSpanStatus, func(b []byte) []byte { return varint(b, fStatusCode, statusOK) })
	}
	return fixed32(b, fSpanFlags, flags(sc, s.Parent()))
}

func keyValue(b []byte, num protowire.Number, kv attribute.KeyValue) []byte {
	// Strings, ints and bools, nearly every attribute, are written with their lengths worked
	// out first; arrays go through message.
	key := valid(string(kv.Key))
	keySize := 0
	if key != "" {
		keySize = 1 + protowire.SizeBytes(len(key))
	}
	var anySize int
	var text string
	switch kv.Value.Type() {
	case attribute.BOOL:
		anySize = 2 // the tag and a one-byte varint
	case attribute.INT64:
		anySize = 1 + protowire.SizeVarint(uint64(kv.Value.AsInt64()))
	case attribute.FLOAT64, attribute.BOOLSLICE, attribute.INT64SLICE, attribute.FLOAT64SLICE, attribute.STRINGSLICE:
		return message(b, num, func(b []byte) []byte {
			b = str(b, fKVKey, key)
			return message(b, fKVValue, func(b []byte) []byte { return anyValue(b, kv.Value) })
		})
	default:
		text = valid(kv.Value.Emit())
		anySize = 1 + protowire.SizeBytes(len(text))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(keySize+1+protowire.SizeBytes(anySize)))
	if key != "" {
		b = protowire.AppendString(protowire.AppendTag(b, fKVKey, protowire.BytesType), key)
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, fKVValue, protowire.BytesType), uint64(anySize))
	switch kv.Value.Type() {
	case attribute.BOOL, attribute.INT64:
		return anyValue(b, kv.Value)
	}
	return protowire.AppendString(protowire.AppendTag(b, fAnyString, protowire.BytesType), text)
}

// anyValue writes the fields of an AnyValue (its oneof), present even when zero.
func anyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		n := uint64(0)
		if v.AsBool() {
			n = 1
		}
		return protowire.AppendVarint(protowire.AppendTag(b, fAnyBool, protowire.VarintType), n)
	case attribute.INT64:
		return protowire.AppendVarint(protowire.AppendTag(b, fAnyInt, protowire.VarintType), uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return protowire.AppendFixed64(protowire.AppendTag(b, fAnyDouble, protowire.Fixed64Type), math.Float64bits(v.AsFloat64()))
	case attribute.BOOLSLICE:
		return array(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return array(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return array(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return array(b, v.AsStringSlice(), attribute.StringValue)
	}
	return protowire.AppendString(protowire.AppendTag(b, fAnyString, protowire.BytesType), valid(v.Emit()))
}

func array[T any](b []byte, items []T, conv func(T) attribute.Value) []byte {
	return message(b, fAnyArray, func(b []byte) []byte {
		for _, it := range items {
			b = message(b, fArrayValues, func(b []byte) []byte { return anyValue(b, conv(it)) })
		}
		return b
	})
}

// message writes field num holding the message body writes. The length goes before the body
// and is not known until it is written: five bytes are kept for it, then the body is moved
// down to the length's real size.
func message(b []byte, num protowire.Number, body func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0)
	b = body(b)
	n := len(b) - start - 5
	var lenBuf [5]byte
	l := protowire.AppendVarint(lenBuf[:0], uint64(n))
	copy(b[start+len(l):], b[start+5:])
	copy(b[start:], l)
	return b[:start+len(l)+n]
}

// str writes a string field, leaving it out when empty (proto3's default), with invalid UTF-8
// replaced: decoders refuse it in a string.
func str(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), valid(s))
}

func bytesField(b []byte, num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func varint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func fixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed64(protowire.AppendTag(b, num, protowire.Fixed64Type), v)
}

func fixed32(b []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendFixed32(protowire.AppendTag(b, num, protowire.Fixed32Type), v)
}
