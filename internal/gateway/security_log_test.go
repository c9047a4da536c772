package gateway_test

// Log injection (S15): hostile bytes a client controls must never split, forge or colour a log
// record.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/version"
)

// logHostile holds the hostile values the log test sends, decoded. The gateway logs the
// request's path (refusals at debug level, the Gateway API's wrong-secret warnings), so each
// value ends up in a record; every record must stay one line that its format's parser reads back
// to exactly these values.
var logHostile = struct {
	// blocked is the decoded path of a request the black list refuses: U+2028 and U+2029 (line
	// breaks to JavaScript and to some log viewers), a quote and braces (a forged JSON record),
	// and a forged text record after a space.
	blocked string
	// admin is the decoded path of a Gateway API request without the secret.
	admin string
	// xff is a forged X-Forwarded-For on that request; the gateway logs the TCP peer instead.
	xff string
}{
	blocked: "/public/admin\u2028\u2029\"}{\"level\":\"ERROR\",\"msg\":\"forged\" level=ERROR msg=forged",
	admin:   "/tyk/apis/\u2028\"}{\"msg\":\"forged\"",
	xff:     "6.6.6.6\u2028\"}{\"msg\":\"forged-xff\"",
}

// TestSecurityLogInjection covers S15. A client cannot send CR, LF or ESC raw in a request line
// or a header (Go refuses them with 400 before the gateway sees the request), so it sends them
// encoded, and sends raw what Go lets through: UTF-8 line separators, quotes, braces, '=' and
// spaces where they can appear. The gateway runs with a JSON logger, then a text logger (the two
// log_format values), at debug level so that refusals are written. For each format, every line
// it wrote must be one complete record its parser reads back, no raw ESC, CR, U+2028 or U+2029
// may appear in the output, no record may carry the forged message, and the hostile values must
// be found, decoded, in the records that logged them (so the test cannot pass by logging
// nothing). The forged X-Forwarded-For appears nowhere: the Gateway API logs the TCP peer.
func TestSecurityLogInjection(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf testkit.SyncBuffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var h slog.Handler = slog.NewTextHandler(&buf, opts)
			if format == "json" {
				h = slog.NewJSONHandler(&buf, opts)
			}
			up := gt.NewUpstream(t)
			addr := logGateway(t, slog.New(h), secPublicAPI(up.URL), gt.Keyed(gt.API("keyed", "/keyed/", up.URL)))

			requests := []struct {
				name, raw string
				code      int
			}{
				{name: "line separators, quotes and a forged record in a black-listed path",
					raw: "GET " + escapeAll(logHostile.blocked) + " HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 403},
				{name: "the same path sent raw",
					raw: "GET " + rawTarget(logHostile.blocked) + " HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 403},
				{name: "encoded CR LF and a forged record in the path",
					raw: "GET /public/a%0d%0atime=x%20level=ERROR%20msg=forged HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 400},
				{name: "encoded ANSI colour sequence in the path",
					raw: "GET /public/%1b[31mred%1b[0m HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 400},
				{name: "encoded CR LF and ESC in the query of a refused request",
					raw: "GET /public/a%0a?x=%0d%0a%1b[2J HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 400},
				{name: "encoded CR LF and ESC in the query of a served request",
					raw: "GET /public/x?x=%0d%0a%1b[2J%E2%80%A8 HTTP/1.1\r\nHost: gw.test\r\n\r\n", code: 200},
				{name: "raw ESC in User-Agent",
					raw: "GET /public/x HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: \x1b[31mred\r\n\r\n", code: 400},
				{name: "raw CR in User-Agent",
					raw: "GET /public/x HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: a\rtime=x msg=forged\r\n\r\n", code: 400},
				{name: "line separators and a forged record in User-Agent and Referer of a refused request",
					raw: "GET /keyed/x HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: \u2028\"}{\"msg\":\"forged\"} level=ERROR msg=forged\r\n" +
						"Referer: %0d%0amsg=forged\r\n\r\n", code: 401},
				{name: "forged X-Forwarded-For and hostile path to the Gateway API without the secret",
					raw: "GET " + escapeAll(logHostile.admin) + " HTTP/1.1\r\nHost: gw.test\r\nX-Tyk-Authorization: wrong\r\n" +
						"X-Forwarded-For: " + logHostile.xff + "\r\nX-Real-Ip: " + logHostile.xff + "\r\n\r\n", code: 403},
			}
			for _, rq := range requests {
				// Connection: close, so that the exchange ends with the response.
				res, err := secExchange(addr, strings.Replace(rq.raw, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1))
				if err != nil {
					t.Fatalf("%s: %v", rq.name, err)
				}
				switch {
				case len(res.codes) == 0:
					t.Errorf("%s: no response (%v)", rq.name, res.err)
				case res.codes[0] != rq.code:
					t.Errorf("%s: status %d, want %d", rq.name, res.codes[0], rq.code)
				}
			}
			// The gateway logs a refusal before it writes the answer, and the answer has come.
			out := buf.String()

			for _, bad := range []string{"\x1b", "\r", "\u2028", "\u2029"} {
				if strings.Contains(out, bad) {
					t.Errorf("the log holds a raw %q", bad)
				}
			}
			if strings.Contains(out, "6.6.6.6") {
				t.Errorf("the log holds the forged X-Forwarded-For")
			}
			var records []map[string]string
			for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				rec, err := parseLogLine(format, line)
				if err != nil {
					t.Errorf("line %d is not one %s record: %v\n%q", i+1, format, err, line)
					continue
				}
				if rec["msg"] == "forged" || rec["msg"] == "forged-xff" || rec["level"] == "" || rec["time"] == "" {
					t.Errorf("line %d is a forged or incomplete record: %q", i+1, line)
				}
				records = append(records, rec)
			}
			find := func(what, key, value string) map[string]string {
				t.Helper()
				for _, r := range records {
					if r[key] == value {
						return r
					}
				}
				t.Errorf("no record holds %s %s=%q:\n%s", what, key, value, out)
				return nil
			}
			find("the black-listed hostile path", "path", logHostile.blocked)
			find("the encoded CR LF path, as sent", "target", "/public/a%0d%0atime=x%20level=ERROR%20msg=forged")
			if r := find("the Gateway API's hostile path", "path", logHostile.admin); r != nil &&
				!strings.HasPrefix(r["remote_addr"], "127.0.0.1:") {
				t.Errorf("the Gateway API logged remote_addr %q, want the TCP peer 127.0.0.1:port", r["remote_addr"])
			}
			if t.Failed() {
				t.Logf("log:\n%s", out)
			}
		})
	}
}

// logGateway starts a gateway like gt.Start does, serving defs, with log as its logger and the
// Gateway API on the proxy listener, and returns the listener's address.
func logGateway(t *testing.T, log *slog.Logger, defs ...*apidef.APIDefinition) string {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ListenAddress, cfg.ListenPort, cfg.ControlAPIPort = "127.0.0.1", 0, 0
	cfg.Secret = gt.Secret
	cfg.AppPath, cfg.MiddlewarePath = filepath.Join(dir, "apps"), filepath.Join(dir, "middleware")
	if err := os.MkdirAll(cfg.AppPath, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, def := range defs {
		if err := os.WriteFile(filepath.Join(cfg.AppPath, def.APIID+".json"), mustJSON(t, def), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Version: version.Version})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv, err := gw.Start()
	if err != nil {
		gw.Close()
		t.Fatalf("gateway.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = gw.Close()
	})
	return srv.Addr()
}

// escapeAll percent-encodes every byte of a path but '/' and ASCII letters and digits.
func escapeAll(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// rawTarget is a path sent raw, but for its spaces, which would end the request-target.
func rawTarget(p string) string { return strings.ReplaceAll(p, " ", "%20") }

// parseLogLine reads one line as one record of the format: a JSON object, or slog's text form
// (key=value pairs separated by one space, a value either bare or a Go-quoted string). It returns
// the record's values as strings.
func parseLogLine(format, line string) (map[string]string, error) {
	rec := map[string]string{}
	if format == "json" {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("more than one JSON value on the line")
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				rec[k] = s
			} else {
				rec[k] = fmt.Sprint(v)
			}
		}
		return rec, nil
	}
	for s := line; s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return nil, fmt.Errorf("no key at %q", s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("bad quoted value of %s at %q: %v", key, s, err)
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val = s[:end]
			if strings.ContainsAny(val, "\"=") {
				return nil, fmt.Errorf("bare value of %s holds a quote or '=': %q", key, val)
			}
			s = s[end:]
		}
		if _, dup := rec[key]; dup {
			return nil, fmt.Errorf("key %s twice", key)
		}
		rec[key] = val
		if s != "" {
			if s[0] != ' ' {
				return nil, fmt.Errorf("no space after %s", key)
			}
			s = s[1:]
		}
	}
	return rec, nil
}
