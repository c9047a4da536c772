package analytics

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/sdk"
)

// The expected bytes come from the msgpack specification; tests/pump decodes whole records
// with tyk-pump's own decoder.

func TestAppendInt(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want string
	}{
		{0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"}, {65535, "cdffff"},
		{65536, "ce00010000"}, {math.MaxUint32, "ceffffffff"}, {math.MaxUint32 + 1, "cf0000000100000000"},
		{-1, "ff"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"}, {-32768, "d18000"},
		{-32769, "d2ffff7fff"}, {math.MinInt32, "d280000000"}, {math.MinInt32 - 1, "d3ffffffff7fffffff"},
		{-62135596800, "d3fffffff1886e0900"}, // the zero time.Time's Unix seconds
	} {
		if got := hex.EncodeToString(appendInt(nil, tc.v)); got != tc.want {
			t.Errorf("appendInt(%d) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head string
	}{
		{0, "a0"}, {31, "bf"}, {32, "d920"}, {255, "d9ff"}, {256, "da0100"}, {65535, "daffff"}, {65536, "db00010000"},
	} {
		s := strings.Repeat("x", tc.n)
		got := appendString(nil, s)
		if h := hex.EncodeToString(got[:len(got)-tc.n]); h != tc.head || string(got[len(got)-tc.n:]) != s {
			t.Errorf("appendString(%d bytes) starts %s, want %s", tc.n, h, tc.head)
		}
	}
}

func TestAppendHeaders(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{hex.EncodeToString(appendMapHeader(nil, 15)), "8f"},
		{hex.EncodeToString(appendMapHeader(nil, 33)), "de0021"},
		{hex.EncodeToString(appendArrayHeader(nil, 3)), "93"},
		{hex.EncodeToString(appendArrayHeader(nil, 16)), "dc0010"},
		{hex.EncodeToString(appendArrayHeader(nil, 70000)), "dd00011170"},
		{hex.EncodeToString(appendFloatField(nil, "", 1.5)), "a0cb3ff8000000000000"},
		{hex.EncodeToString(appendBool(appendBool(appendNil(nil), true), false)), "c0c3c2"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// TestAppendTime checks msgpack v2's time.Time: a fixarray of Unix seconds and nanoseconds.
func TestAppendTime(t *testing.T) {
	tm := time.Unix(1700000000, 123456789)
	if got, want := hex.EncodeToString(appendTime(nil, tm)), "92ce6553f100ce075bcd15"; got != want {
		t.Errorf("appendTime = %s, want %s", got, want)
	}
}

func TestEncodeAddsTagsAndSlashes(t *testing.T) {
	r := &sdk.AnalyticsRecord{APIID: "a1", OrgID: "o1", APIKey: "abc", Path: "x/y", RawPath: "/x/y", Tags: []string{"t1"}}
	b := Encode(r)
	if b[0] != 0xde || int(b[1])<<8|int(b[2]) != recordFields {
		t.Fatalf("record header % x, want a map16 of %d fields", b[:3], recordFields)
	}
	tags := appendString(appendArrayHeader(nil, 4), "t1")
	for _, s := range []string{"key-abc", "org-o1", "api-a1"} {
		tags = appendString(tags, s)
	}
	if !bytes.Contains(b, append(appendString(nil, "Tags"), tags...)) {
		t.Errorf("the tags are not t1, key-abc, org-o1, api-a1 in %q", b)
	}
	if !bytes.Contains(b, appendStrField(nil, "Path", "/x/y")) || !bytes.Contains(b, appendStrField(nil, "OriginalPath", "/")) {
		t.Errorf("paths are not made to start with a slash in %q", b)
	}
	if len(r.Tags) != 1 || r.Path != "x/y" {
		t.Errorf("Encode changed its record: %+v", r)
	}
	// A segmented node's tags come after the record's own, before key-, as Tyk's workers add them.
	b = Encode(r, "eu", "edge")
	tags = appendArrayHeader(nil, 6)
	for _, s := range []string{"t1", "eu", "edge", "key-abc", "org-o1", "api-a1"} {
		tags = appendString(tags, s)
	}
	if !bytes.Contains(b, append(appendString(nil, "Tags"), tags...)) {
		t.Errorf("the tags are not t1, eu, edge, key-abc, org-o1, api-a1 in %q", b)
	}
	// No key, no org: only the api- tag.
	b = Encode(&sdk.AnalyticsRecord{APIID: "a2"})
	if !bytes.Contains(b, append(appendString(nil, "Tags"), appendString(appendArrayHeader(nil, 1), "api-a2")...)) {
		t.Errorf("a keyless record's tags are not [api-a2] in %q", b)
	}
}

func BenchmarkEncode(b *testing.B) {
	r := &sdk.AnalyticsRecord{
		Method: "GET", Host: "api.example.com", Path: "/orders/123", RawPath: "/orders/123", UserAgent: "curl/8.5.0",
		Day: 2, Month: 12, Year: 2026, Hour: 10, ResponseCode: 200, APIKey: strings.Repeat("ab", 32),
		TimeStamp: time.Now(), APIVersion: "Non Versioned", APIName: "Orders", APIID: "orders", OrgID: "acme",
		RequestTime: 12, IPAddress: "10.1.2.3", Latency: sdk.Latency{Total: 12, Upstream: 10, Gateway: 2},
		Tags: []string{"pol-gold"}, ExpireAt: time.Now(), OriginalPath: "/orders/123", ListenPath: "/orders/",
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(r)
	}
}
