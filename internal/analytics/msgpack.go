package analytics

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

// This file encodes a record as tyk-pump decodes it: msgpack, in the shape
// github.com/vmihailenco/msgpack v2 gives tyk-pump's analytics.AnalyticsRecord, which has no
// msgpack tags. A struct is a map keyed by its Go field names, in declaration order; a nested
// struct is a map too; a time.Time is an array of two integers, Unix seconds and nanoseconds
// (not the msgpack timestamp extension); integers take their smallest form; a nil slice or map
// is nil.
//
// The record has one fixed shape, so a few dozen lines of encoder spare every plugin author a
// msgpack module to match (docs/architecture.md, point 12). Its output is checked by decoding
// it with msgpack v2, tyk-pump's own decoder, in tests/pump.

// recordFields is the number of fields appendRecord writes.
const recordFields = 33

// appendRecord appends r to b as tyk-pump's AnalyticsRecord.
func appendRecord(b []byte, r *sdk.AnalyticsRecord) []byte {
	b = appendMapHeader(b, recordFields)
	b = appendStrField(b, "Method", r.Method)
	b = appendStrField(b, "Host", r.Host)
	b = appendStrField(b, "Path", r.Path)
	b = appendStrField(b, "RawPath", r.RawPath)
	b = appendIntField(b, "ContentLength", r.ContentLength)
	b = appendStrField(b, "UserAgent", r.UserAgent)
	b = appendIntField(b, "Day", int64(r.Day))
	b = appendIntField(b, "Month", int64(r.Month))
	b = appendIntField(b, "Year", int64(r.Year))
	b = appendIntField(b, "Hour", int64(r.Hour))
	b = appendIntField(b, "ResponseCode", int64(r.ResponseCode))
	b = appendStrField(b, "APIKey", r.APIKey)
	b = appendString(b, "TimeStamp")
	b = appendTime(b, r.TimeStamp)
	b = appendStrField(b, "APIVersion", r.APIVersion)
	b = appendStrField(b, "APIName", r.APIName)
	b = appendStrField(b, "APIID", r.APIID)
	b = appendStrField(b, "OrgID", r.OrgID)
	b = appendStrField(b, "OauthID", r.OauthID)
	b = appendIntField(b, "RequestTime", r.RequestTime)
	b = appendStrField(b, "RawRequest", r.RawRequest)
	b = appendStrField(b, "RawResponse", r.RawResponse)
	b = appendStrField(b, "IPAddress", r.IPAddress)

	// Geo: Gatehouse has no GeoIP lookup, so the zero GeoData, as Tyk writes it without one.
	b = appendString(b, "Geo")
	b = appendMapHeader(b, 3)
	b = appendString(b, "Country")
	b = appendMapHeader(b, 1)
	b = appendStrField(b, "ISOCode", "")
	b = appendString(b, "City")
	b = appendMapHeader(b, 2)
	b = appendIntField(b, "GeoNameID", 0)
	b = appendString(b, "Names")
	b = appendNil(b)
	b = appendString(b, "Location")
	b = appendMapHeader(b, 3)
	b = appendFloatField(b, "Latitude", 0)
	b = appendFloatField(b, "Longitude", 0)
	b = appendStrField(b, "TimeZone", "")

	// Network statistics are for TCP proxying; HTTP records carry zeros.
	b = appendString(b, "Network")
	b = appendMapHeader(b, 4)
	b = appendIntField(b, "OpenConnections", 0)
	b = appendIntField(b, "ClosedConnection", 0)
	b = appendIntField(b, "BytesIn", 0)
	b = appendIntField(b, "BytesOut", 0)

	b = appendString(b, "Latency")
	b = appendMapHeader(b, 3)
	b = appendIntField(b, "Total", r.Latency.Total)
	b = appendIntField(b, "Upstream", r.Latency.Upstream)
	b = appendIntField(b, "Gateway", r.Latency.Gateway)

	b = appendString(b, "Tags")
	if r.Tags == nil {
		b = appendNil(b)
	} else {
		b = appendArrayHeader(b, len(r.Tags))
		for _, t := range r.Tags {
			b = appendString(b, t)
		}
	}
	b = appendStrField(b, "Alias", r.Alias)
	b = appendString(b, "TrackPath")
	b = appendBool(b, r.TrackPath)
	b = appendString(b, "ExpireAt")
	b = appendTime(b, r.ExpireAt)
	b = appendStrField(b, "ApiSchema", "")
	b = appendStrField(b, "OriginalPath", r.OriginalPath)
	b = appendStrField(b, "ListenPath", r.ListenPath)
	b = appendStrField(b, "CollectionName", "")
	return b
}

func appendStrField(b []byte, name, v string) []byte {
	return appendString(appendString(b, name), v)
}

func appendIntField(b []byte, name string, v int64) []byte {
	return appendInt(appendString(b, name), v)
}

func appendFloatField(b []byte, name string, v float64) []byte {
	b = append(appendString(b, name), 0xcb)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
}

func appendNil(b []byte) []byte { return append(b, 0xc0) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

func appendMapHeader(b []byte, n int) []byte { return appendLength(b, n, 0x80, 0xde) }

func appendArrayHeader(b []byte, n int) []byte { return appendLength(b, n, 0x90, 0xdc) }

// appendLength writes the header of a map or an array of n elements: the fix form (fix|n) below
// 16, else code16 and a 16-bit length, or the next code (the 32-bit form) and a 32-bit length.
func appendLength(b []byte, n int, fix, code16 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, code16+1), uint32(n))
}

func appendString(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// appendInt writes v in its smallest msgpack form, as msgpack v2 does: a non-negative value as
// a positive fixint or an unsigned integer, a negative one as a negative fixint or a signed
// integer.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		u := uint64(v)
		switch {
		case u <= 0x7f:
			return append(b, byte(u))
		case u <= math.MaxUint8:
			return append(b, 0xcc, byte(u))
		case u <= math.MaxUint16:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(u))
		case u <= math.MaxUint32:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(u))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcf), u)
	}
	switch {
	case v >= -32:
		return append(b, byte(int8(v)))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// appendTime writes t as msgpack v2 encodes a time.Time: [Unix seconds, nanoseconds].
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, 0x92)
	b = appendInt(b, t.Unix())
	return appendInt(b, int64(t.Nanosecond()))
}
