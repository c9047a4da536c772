package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/internal/benchkit"
)

// The raw upstream (`upstream --raw`), the latency mode's: an HTTP/1.1 server on raw TCP that
// answers every request with a canned response, benchkit.Body behind a fixed head, written in
// one system call. It shares the load core with the load generator, so its CPU per request is
// kept to reading the request and writing the answer; net/http's server costs several times
// that in parsing, header maps and goroutine hand-offs. Answers to benchkit.VerifyPath carry
// what benchkit.UpstreamHandler's do (X-Upstream-Saw, X-Upstream-Body), so the benchmark's
// checks work unchanged. A request it cannot frame (Transfer-Encoding, a malformed head, header
// lines over 1 MiB) gets a 400, 501 or 431 and the connection is closed.

// rawAnswer is the canned answer to every request but VerifyPath's.
var rawAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
	strconv.Itoa(len(benchkit.Body)) + "\r\n\r\n" + string(benchkit.Body))

// rawServer serves the raw upstream on a listener.
type rawServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// serveRaw accepts connections on ln until it is closed, then closes them all and returns.
func serveRaw(ln net.Listener) error {
	s := &rawServer{ln: ln, conns: map[net.Conn]struct{}{}}
	defer func() {
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			serveRawConn(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// serveRawConn answers the requests of one connection until it closes or sends what it cannot
// frame. Answers to pipelined requests are written together.
func serveRawConn(c net.Conn) {
	defer c.Close()
	bw := bufio.NewWriterSize(c, 16<<10)
	br := bufio.NewReaderSize(flushingReader{c, bw}, 16<<10)
	var saw []string // X-Bench-* header names of a VerifyPath request
	for {
		line, err := readLine(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				rawError(bw, "400 Bad Request")
			}
			return
		}
		// "GET /path HTTP/1.1"
		sp1 := bytes.IndexByte(line, ' ')
		sp2 := bytes.LastIndexByte(line, ' ')
		if sp1 <= 0 || sp2 <= sp1+1 || !bytes.HasPrefix(line[sp2+1:], []byte("HTTP/1.")) || len(line) != sp2+9 {
			rawError(bw, "400 Bad Request")
			return
		}
		target := line[sp1+1 : sp2]
		if q := bytes.IndexByte(target, '?'); q >= 0 {
			target = target[:q]
		}
		verify := bytes.HasSuffix(target, []byte(benchkit.VerifyPath))
		h := head{close: line[len(line)-1] == '0'}
		var seen func(name, value []byte)
		if verify {
			saw = saw[:0]
			seen = func(name, _ []byte) {
				if len(name) > 8 && asciiEqualFold(name[:8], "x-bench-") {
					saw = append(saw, textproto.CanonicalMIMEHeaderKey(string(name)))
				}
			}
		}
		if err := readHeaders(br, &h, seen); errors.Is(err, errTooLarge) {
			rawError(bw, "431 Request Header Fields Too Large")
			return
		} else if err != nil {
			rawError(bw, "400 Bad Request")
			return
		}
		if h.chunked || h.otherCoding {
			rawError(bw, "501 Not Implemented")
			return
		}
		n := max(h.contentLength, 0)
		if verify {
			body := make([]byte, min(n, 1<<20))
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			if _, err := br.Discard(int(n - int64(len(body)))); err != nil {
				return
			}
			slices.Sort(saw)
			saw = slices.Compact(saw)
			_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(benchkit.Body)) +
				"\r\n" + benchkit.HeaderUpstreamBody + ": " + benchkit.BodyDigest(body) + "\r\nX-Upstream-Saw: " + strings.Join(saw, ",") + "\r\n\r\n")
			_, _ = bw.Write(benchkit.Body)
		} else {
			if _, err := br.Discard(int(n)); err != nil {
				return
			}
			_, _ = bw.Write(rawAnswer)
		}
		// The answers are written when the connection is read again (flushingReader): one write
		// per batch of pipelined requests.
		if h.close {
			_ = bw.Flush()
			return
		}
	}
}

// flushingReader reads a connection whose answers wait in w: it writes them before each read,
// which may wait for the client. The answers to the requests already read are written then, in
// one system call, and never held back until more of a request comes.
type flushingReader struct {
	c net.Conn
	w *bufio.Writer
}

func (f flushingReader) Read(p []byte) (int, error) {
	if f.w.Buffered() > 0 {
		if err := f.w.Flush(); err != nil {
			return 0, err
		}
	}
	return f.c.Read(p)
}

// rawError writes a final error answer; the connection is closed after it.
func rawError(bw *bufio.Writer, status string) {
	_, _ = bw.WriteString("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	_ = bw.Flush()
}
