package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The testdata files are wrk 4.1.0 (Debian) output captured with -t1 -c32 --latency: a clean run
// against the benchmark upstream; the bare proxy in front of a dead upstream (every answer 502);
// the upstream killed during the run (socket errors); and a slow Python server that answers
// some requests with 503 and some too late (timeouts, latencies in seconds).
func TestParseWrk(t *testing.T) {
	cases := []struct {
		file string
		want wrkResult
	}{
		{"wrk-ok.txt", wrkResult{
			Requests: 117756, RequestsPerSec: 58834.37,
			Percentiles: map[int]time.Duration{50: 452 * time.Microsecond, 75: 631 * time.Microsecond, 90: 1920 * time.Microsecond, 99: 4700 * time.Microsecond},
		}},
		{"wrk-non2xx.txt", wrkResult{
			Requests: 26843, RequestsPerSec: 13237.39,
			Percentiles: map[int]time.Duration{50: 1930 * time.Microsecond, 75: 3090 * time.Microsecond, 90: 5360 * time.Microsecond, 99: 102350 * time.Microsecond},
			Non2xx3xx:   26843,
		}},
		{"wrk-socket-errors.txt", wrkResult{
			Requests: 42689, RequestsPerSec: 14218.95,
			Percentiles: map[int]time.Duration{50: 526 * time.Microsecond, 75: 602 * time.Microsecond, 90: 870 * time.Microsecond, 99: 3810 * time.Microsecond},
			Read:        32, Write: 91200,
		}},
		{"wrk-slow-timeouts.txt", wrkResult{
			Requests: 183, RequestsPerSec: 36.53,
			Percentiles: map[int]time.Duration{50: 47950 * time.Microsecond, 75: 1240 * time.Millisecond, 90: 1250 * time.Millisecond, 99: 1660 * time.Millisecond},
			Non2xx3xx:   18, Timeout: 4,
		}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseWrk(string(data))
			if err != nil {
				t.Fatalf("parseWrk: %v", err)
			}
			w := c.want
			if got.Requests != w.Requests || got.RequestsPerSec != w.RequestsPerSec {
				t.Errorf("requests %d at %v/s, want %d at %v/s", got.Requests, got.RequestsPerSec, w.Requests, w.RequestsPerSec)
			}
			if len(got.Percentiles) != len(w.Percentiles) {
				t.Errorf("percentiles %v, want %v", got.Percentiles, w.Percentiles)
			}
			for p, d := range w.Percentiles {
				if !near(got.Percentiles[p], d) {
					t.Errorf("p%d = %v, want %v", p, got.Percentiles[p], d)
				}
			}
			if got.Non2xx3xx != w.Non2xx3xx || got.Connect != w.Connect || got.Read != w.Read || got.Write != w.Write || got.Timeout != w.Timeout {
				t.Errorf("errors non-2xx %d, socket %d/%d/%d/%d; want %d, %d/%d/%d/%d", got.Non2xx3xx, got.Connect, got.Read, got.Write, got.Timeout,
					w.Non2xx3xx, w.Connect, w.Read, w.Write, w.Timeout)
			}
			if want := w.Connect + w.Read + w.Write + w.Timeout; got.SocketErrors() != want {
				t.Errorf("SocketErrors() = %d, want %d", got.SocketErrors(), want)
			}
			kinds := got.ErrorKinds()
			if w.Non2xx3xx+w.Connect+w.Read+w.Write+w.Timeout == 0 {
				if kinds != "" {
					t.Errorf("ErrorKinds() = %q for a run without errors", kinds)
				}
			} else if want := fmt.Sprintf("non-2xx/3xx %d, socket: connect %d, read %d, write %d, timeout %d", w.Non2xx3xx, w.Connect, w.Read, w.Write, w.Timeout); kinds != want {
				t.Errorf("ErrorKinds() = %q, want %q", kinds, want)
			}
		})
	}
}

// near compares durations parsed from two-decimal floats, which may be a nanosecond off.
func near(a, b time.Duration) bool {
	d := a - b
	return d > -time.Microsecond/100 && d < time.Microsecond/100 || a == b
}

func TestParseWrkRefusesIncompleteOutput(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "wrk-ok.txt"))
	if err != nil {
		t.Fatal(err)
	}
	full := string(data)
	for name, out := range map[string]string{
		"empty":           "",
		"no --latency":    cut(full, "  Latency Distribution", "  117756 requests"),
		"no Requests/sec": cut(full, "Requests/sec:", "Transfer/sec:"),
		"no request line": cut(full, "  117756 requests", "Requests/sec:"),
		"connect refused": "unable to connect to 127.0.0.1:18998 Connection refused\n",
	} {
		if _, err := parseWrk(out); err == nil {
			t.Errorf("%s: parseWrk accepted\n%s", name, out)
		}
	}
}

// cut removes s from the start of from up to (not including) to.
func cut(s, from, to string) string {
	i, j := strings.Index(s, from), strings.Index(s, to)
	if i < 0 || j < i {
		panic("test bug: markers not found")
	}
	return s[:i] + s[j:]
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"452.00us": 452 * time.Microsecond,
		"1.92ms":   1920 * time.Microsecond,
		"1.24s":    1240 * time.Millisecond,
		"2.00m":    2 * time.Minute,
		"1.00h":    time.Hour,
	} {
		got, err := parseWrkDuration(in)
		if err != nil || !near(got, want) {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12", "1.2xs", "ms"} {
		if _, err := parseWrkDuration(in); err == nil {
			t.Errorf("parseWrkDuration(%q) accepted", in)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc allows.
	stat := "4242 (gate house) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 1000000 2000 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil || got != 325*clockTick {
		t.Errorf("parseStatCPU = %v, %v; want %v", got, err, 325*clockTick)
	}
}

func TestMedianAndPairedRatio(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
	gh := []runResult{{RequestsPerSec: 90}, {RequestsPerSec: 80}, {RequestsPerSec: 100}}
	bare := []runResult{{RequestsPerSec: 100}, {RequestsPerSec: 100}, {RequestsPerSec: 100}}
	if r := pairedRatio(gh, bare); r != 0.9 {
		t.Errorf("pairedRatio = %v, want 0.9", r)
	}
}

func TestParseResident(t *testing.T) {
	status := "Name:\tgatehouse\nVmHWM:\t   42000 kB\nVmRSS:\t   41000 kB\nRssAnon:\t   10264 kB\nRssFile:\t   30712 kB\nRssShmem:\t       24 kB\n"
	got, err := parseResident(status)
	want := resident{Anon: 10264 << 10, File: 30712 << 10, Shmem: 24 << 10}
	if err != nil || got != want {
		t.Errorf("parseResident = %+v, %v; want %+v", got, err, want)
	}
	if hwm, err := statusKB(status, "VmHWM:"); err != nil || hwm != 42000<<10 {
		t.Errorf("VmHWM = %d, %v", hwm, err)
	}
	if _, err := parseResident("Name:\tgatehouse\nRssAnon:\t 1 kB\n"); err == nil {
		t.Error("a status without RssFile and RssShmem was read without an error")
	}
	if _, err := statusKB("RssAnon:\t lots kB\n", "RssAnon:"); err == nil {
		t.Error("a malformed RssAnon was read without an error")
	}
}
