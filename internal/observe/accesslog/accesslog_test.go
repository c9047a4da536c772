package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	all, err := Parse(nil)
	if err != nil || len(all) != int(numFields) {
		t.Fatalf("Parse(nil) = %v, %v; want every field", all, err)
	}
	got, err := Parse([]string{"status", " method", "status", "api_key"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Field{Status, Method, APIKey}; !equal(got, want) {
		t.Errorf("Parse = %v, want %v", got, want)
	}
	_, err = Parse([]string{"method", "request_uri", "upstream_addr"})
	if err == nil {
		t.Fatal("unknown fields accepted")
	}
	for _, want := range []string{`"request_uri"`, `"upstream_addr"`, "api_key, client_ip, host, method, path, protocol, remote_addr, upstream_address, upstream_latency, latency_total, user_agent, status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func equal(a, b []Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func entry() *Entry {
	return &Entry{
		APIID:        "api1",
		KeyHash:      "ab12",
		ClientIP:     netip.MustParseAddr("192.0.2.7"),
		Host:         "gw.example",
		Method:       "GET",
		Path:         "/api1/x",
		Protocol:     "HTTP/1.1",
		RemoteAddr:   "192.0.2.7:5000",
		Upstream:     &url.URL{Scheme: "http", Host: "up:80", Path: "/x", RawQuery: "api_key=secret", User: url.UserPassword("u", "p")},
		UpstreamTime: 1500 * time.Microsecond,
		Total:        2 * time.Millisecond,
		UserAgent:    "curl/8",
		Status:       200,
	}
}

func lineOf(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines, want 1:\n%s", len(lines), buf)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, lines[0])
	}
	delete(m, "time")
	return m
}

func TestLogEveryField(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(context.Background(), entry())
	got := lineOf(t, &buf)
	want := map[string]any{
		"level": "INFO", "msg": "access", "api_id": "api1", "api_key": "ab12", "client_ip": "192.0.2.7",
		"host": "gw.example", "method": "GET", "path": "/api1/x", "protocol": "HTTP/1.1",
		"remote_addr": "192.0.2.7:5000", "upstream_address": "http://up:80/x", "upstream_latency": 1.5,
		"latency_total": 2.0, "user_agent": "curl/8", "status": 200.0,
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	if s := buf.String(); strings.Contains(s, "secret") || strings.Contains(s, "u:p") {
		t.Errorf("the upstream's query or user reached the line: %s", s)
	}
}

func TestLogTemplateAndMissing(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(slog.New(slog.NewJSONHandler(&buf, nil)), []string{"status", "api_key", "upstream_latency", "client_ip"})
	if err != nil {
		t.Fatal(err)
	}
	e := entry()
	e.KeyHash, e.Upstream, e.ClientIP = "", nil, netip.Addr{}
	l.Log(context.Background(), e)
	got := lineOf(t, &buf)
	if len(got) != 3 || got["status"] != 200.0 {
		t.Errorf("line %v, want only level, msg and status (no key, no upstream, no client)", got)
	}
}

func TestLogLevelAndNil(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Log(context.Background(), entry())
	var none *Logger
	none.Log(context.Background(), entry())
	if buf.Len() != 0 || none.Has(Path) || none.Enabled(context.Background()) {
		t.Errorf("a line was written below its level or by a nil logger: %q", buf.String())
	}
}

// TestHostileValues: CR, LF, ESC and quotes in client values stay inside one line, with the
// text and JSON handlers alike.
func TestHostileValues(t *testing.T) {
	hostile := "evil\r\nlevel=ERROR msg=forged\x1b[31m\"x"
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		t.Run(h.name, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(slog.New(h.new(&buf)), nil)
			if err != nil {
				t.Fatal(err)
			}
			e := entry()
			e.UserAgent, e.Path, e.Host = hostile, "/p/"+hostile, hostile
			l.Log(context.Background(), e)
			out := buf.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("not one line: %q", out)
			}
			if strings.ContainsAny(strings.TrimSuffix(out, "\n"), "\r\n\x1b") {
				t.Errorf("a raw control character reached the line: %q", out)
			}
			if h.name == "json" {
				if got := lineOf(t, &buf); got["user_agent"] != hostile || got["path"] != "/p/"+hostile {
					t.Errorf("values not kept as escaped strings: %v", got)
				}
			}
		})
	}
}
