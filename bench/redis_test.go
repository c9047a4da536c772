package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// testdata/redis-commandstats.txt is `redis-cli info commandstats` from redis-server 7.0.15 (Debian)
// during a keyed-redis run: the gatehouse's connection set-up (HELLO, CLIENT TRACKING, SUBSCRIBE),
// one cache fill (CLIENT CACHING, MULTI, PTTL, GET, EXEC), the script loaded once (an EVALSHA
// that failed with NOSCRIPT, then EVAL) and 15,033 EVALSHAs with the script's own commands.
func TestParseCommandStats(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "redis-commandstats.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"LF":   string(data),
		"CRLF": strings.ReplaceAll(string(data), "\n", "\r\n"), // as INFO comes over RESP
	} {
		st, err := parseCommandStats(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for cmd, want := range map[string]int64{
			"evalsha": 15033, "eval": 1, "multi": 1, "pttl": 1, "get": 2, "exec": 1, "time": 15033,
			"hmget": 30066, "hincrby": 30065, "client|tracking": 2, "client|caching": 1, "ping": 6,
		} {
			if st[cmd] != want {
				t.Errorf("%s: %s calls = %d, want %d", name, cmd, st[cmd], want)
			}
		}
		if len(st) != 19 {
			t.Errorf("%s: %d commands, want 19: %v", name, len(st), st)
		}
	}

	if st, err := parseCommandStats("# Commandstats\r\n\r\n"); err != nil || len(st) != 0 {
		t.Errorf("no command yet: %v, %v; want none", st, err)
	}
	for _, bad := range []string{
		"cmdstat_get",
		"cmdstat_:calls=1",
		"cmdstat_get:usec=1,usec_per_call=1.00",
		"cmdstat_get:calls=many,usec=1",
	} {
		if _, err := parseCommandStats("# Commandstats\n" + bad + "\n"); err == nil {
			t.Errorf("parseCommandStats accepted %q", bad)
		}
	}
}

func TestRedisUsage(t *testing.T) {
	before := commandStats{"evalsha": 100, "get": 5, "pttl": 1, "multi": 1, "time": 100, "hmget": 200, "info": 3, "ping": 10}
	after := commandStats{
		"evalsha": 1100, "eval": 1, // 1,001 scripts
		"get": 8, "pttl": 3, "multi": 3, "exec": 2, "client|caching": 1, // 2 fills and 1 plain GET
		"time": 1101, "hmget": 2202, "hincrby": 2002, // the scripts' own
		"info": 4, // the benchmark's
		"ping": 12,
	}
	u := redisUsage(before, after, 1000)
	if want := (1000 + 1 + 2 + 1) / 1000.0; u.RoundTripsPerReq != want {
		t.Errorf("round trips %v per request, want %v", u.RoundTripsPerReq, want)
	}
	// Every delta but INFO: 1000+1 + 3+2+2+2+1 + 1001+2002+2002 + 2 (PING).
	if want := 6018 / 1000.0; u.CommandsPerReq != want {
		t.Errorf("commands %v per request, want %v", u.CommandsPerReq, want)
	}
	if _, ok := u.CallsPerReq["info"]; ok {
		t.Error("the benchmark's INFO is counted")
	}
	if u.CallsPerReq["evalsha"] != 1 || u.CallsPerReq["hmget"] != 2.002 {
		t.Errorf("calls per request %v", u.CallsPerReq)
	}

	// A GET inside a fill is no round trip of its own; a command that vanished counts nothing.
	u = redisUsage(commandStats{"get": 10, "ping": 5}, commandStats{"get": 11, "pttl": 1, "multi": 1}, 1)
	if u.RoundTripsPerReq != 1 || u.CommandsPerReq != 3 {
		t.Errorf("one fill: %v round trips, %v commands; want 1 and 3", u.RoundTripsPerReq, u.CommandsPerReq)
	}
	if u := redisUsage(before, after, 0); u.RoundTripsPerReq != 0 || u.CommandsPerReq != 0 {
		t.Errorf("no request: %+v", u)
	}
}

func TestRespCommand(t *testing.T) {
	got := string(respCommand("INFO", "commandstats"))
	if want := "*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n"; got != want {
		t.Errorf("respCommand = %q, want %q", got, want)
	}
	if got := string(respCommand("SET", "k", "")); got != "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n" {
		t.Errorf("respCommand with an empty argument = %q", got)
	}
}

func TestReadRESP(t *testing.T) {
	for in, want := range map[string]any{
		"+PONG\r\n":                          "PONG",
		":42\r\n":                            int64(42),
		"$5\r\na\r\nbc\r\n":                  "a\r\nbc",
		"$0\r\n\r\n":                         "",
		"$-1\r\n":                            nil,
		"*-1\r\n":                            nil,
		"*3\r\n:1\r\n$1\r\nx\r\n*0\r\n":      []any{int64(1), "x", []any{}},
		"*2\r\n-ERR inner\r\n+OK\r\n":        []any{respError("ERR inner"), "OK"},
		"*1\r\n*2\r\n+a\r\n$-1\r\n+next\r\n": []any{[]any{"a", nil}},
	} {
		got, err := readRESP(bufio.NewReader(strings.NewReader(in)))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("readRESP(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	_, err := readRESP(bufio.NewReader(strings.NewReader("-NOSCRIPT No matching script\r\n")))
	var re respError
	if !errors.As(err, &re) || string(re) != "NOSCRIPT No matching script" {
		t.Errorf("error reply: %v", err)
	}
	for _, bad := range []string{"", "+OK", "+OK\n", "$5\r\nabc\r\n", "$3\r\nabcde", "$x\r\n", "*2\r\n+a\r\n", "!3\r\nabc\r\n", ":1.5\r\n"} {
		if v, err := readRESP(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readRESP(%q) accepted: %#v", bad, v)
		}
	}
}

// respDo speaks to a server: here a fake one that answers INFO as Redis does.
func TestRespDo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const info = "# Commandstats\r\ncmdstat_evalsha:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n"
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		got <- string(buf[:n])
		_, _ = c.Write([]byte("$" + strconv.Itoa(len(info)) + "\r\n" + info + "\r\n"))
	}()
	v, err := respDo(context.Background(), ln.Addr().String(), "INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	if sent := <-got; sent != "*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n" {
		t.Errorf("sent %q", sent)
	}
	st, err := parseCommandStats(v.(string))
	if err != nil || st["evalsha"] != 7 {
		t.Errorf("parsed %v, %v", st, err)
	}
}
