package pump_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/analytics"
	"github.com/gatehouse/gatehouse/sdk"
)

// TestEncodeHostileValues encodes records holding what a client, a plugin or a clock can put in
// them: bytes that are not UTF-8, strings of every msgpack length form up to str32, 70,000 tags
// (array32), extreme integers, times before 1970 and far ahead. tyk-pump's decoder reads back
// exactly what was put in, and the next record in the same buffer is still read as a record:
// nothing of one bleeds into another.
func TestEncodeHostileValues(t *testing.T) {
	notUTF8 := "\xff\xfe\xc0\x80 \xed\xa0\x80 \x00"
	tags := make([]string, 70000)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d\xff", i)
	}
	for _, tc := range []struct {
		name string
		rec  sdk.AnalyticsRecord
	}{
		{"not UTF-8", sdk.AnalyticsRecord{Method: notUTF8, Host: notUTF8, Path: "/" + notUTF8, UserAgent: notUTF8,
			APIKey: notUTF8, APIID: notUTF8, OrgID: notUTF8, Alias: notUTF8, IPAddress: notUTF8, Tags: []string{notUTF8}}},
		{"every length form", sdk.AnalyticsRecord{Method: strings.Repeat("m", 31), Host: strings.Repeat("h", 32),
			Path: "/" + strings.Repeat("p", 254), RawPath: "/" + strings.Repeat("r", 255), UserAgent: strings.Repeat("u", 65535),
			RawRequest: strings.Repeat("q", 65536), RawResponse: strings.Repeat("s", 1<<20), APIID: "a"}},
		{"70,000 tags", sdk.AnalyticsRecord{APIID: "a", Tags: tags}},
		{"extreme numbers and times", sdk.AnalyticsRecord{APIID: "a", ContentLength: math.MinInt64, RequestTime: math.MaxInt64,
			Day: -1, Month: 13, Year: math.MaxInt32 + 1, Hour: math.MinInt32 - 1, ResponseCode: 999,
			Latency:   sdk.Latency{Total: math.MaxInt64, Upstream: math.MinInt64, Gateway: -1},
			TimeStamp: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), ExpireAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.rec
			blob := analytics.Encode(&in)
			next := analytics.Encode(&sdk.AnalyticsRecord{APIID: "next", Path: "/after"})
			got := decode(t, blob)
			after := decode(t, next)
			if after.APIID != "next" || after.Path != "/after" {
				t.Errorf("the record after it reads %q %q", after.APIID, after.Path)
			}
			for _, f := range []struct {
				name      string
				got, want string
			}{
				{"Method", got.Method, in.Method}, {"Host", got.Host, in.Host}, {"Path", got.Path, slashed(in.Path)},
				{"RawPath", got.RawPath, slashed(in.RawPath)}, {"UserAgent", got.UserAgent, in.UserAgent},
				{"APIKey", got.APIKey, in.APIKey}, {"APIID", got.APIID, in.APIID}, {"OrgID", got.OrgID, in.OrgID},
				{"RawRequest", got.RawRequest, in.RawRequest}, {"RawResponse", got.RawResponse, in.RawResponse},
				{"IPAddress", got.IPAddress, in.IPAddress}, {"Alias", got.Alias, in.Alias},
			} {
				if f.got != f.want {
					t.Errorf("%s: got %d bytes %.40q, want %d bytes %.40q", f.name, len(f.got), f.got, len(f.want), f.want)
				}
			}
			if got.ContentLength != in.ContentLength || got.RequestTime != in.RequestTime || got.Day != in.Day ||
				got.Month != in.Month || got.Year != in.Year || got.Hour != in.Hour || got.ResponseCode != in.ResponseCode {
				t.Errorf("numbers: got %+v", got)
			}
			if got.Latency.Total != in.Latency.Total || got.Latency.Upstream != in.Latency.Upstream || got.Latency.Gateway != in.Latency.Gateway {
				t.Errorf("latency: got %+v, want %+v", got.Latency, in.Latency)
			}
			if !got.TimeStamp.Equal(in.TimeStamp) || !got.ExpireAt.Equal(in.ExpireAt) {
				t.Errorf("times: got %v and %v, want %v and %v", got.TimeStamp, got.ExpireAt, in.TimeStamp, in.ExpireAt)
			}
			// Encode adds the key-, org- and api- tags after the record's own.
			if len(got.Tags) < len(in.Tags) || !slices.Equal(got.Tags[:len(in.Tags)], in.Tags) {
				t.Errorf("tags: got %d, the first %.3q; want the record's %d first", len(got.Tags), got.Tags[:min(3, len(got.Tags))], len(in.Tags))
			}
		})
	}
}

// slashed is a path as Encode writes it: with a leading slash.
func slashed(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}
