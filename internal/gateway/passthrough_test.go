package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/internal/plugintest"
)

// TestWebSocketEcho: with enable_websockets, a WebSocket upgrade passes through the gateway,
// over plain HTTP and over TLS at the edge, and frames go both ways on the tunnel until the
// client closes it.
func TestWebSocketEcho(t *testing.T) {
	var upgrades atomic.Int32
	up := startWSEchoUpstream(t, &upgrades)
	ca := certtest.NewCA(t, "gateway CA")
	dir := t.TempDir()
	cert := ca.Localhost(t)
	certFile := certtest.WriteFile(t, dir, "cert.pem", cert.CertPEM)
	keyFile := certtest.WriteFile(t, dir, "key.pem", cert.KeyPEM)

	tests := []struct {
		name   string
		config func(*config.Config)
		dial   func(t *testing.T, addr string) net.Conn
	}{
		{name: "plain", config: func(c *config.Config) { c.HTTPServerOptions.EnableWebSockets = true }, dial: func(t *testing.T, addr string) net.Conn {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{name: "TLS at the edge", config: func(c *config.Config) {
			c.HTTPServerOptions.EnableWebSockets = true
			c.HTTPServerOptions.UseSSL = true
			// HTTP/2 offered too: a WebSocket client asks for HTTP/1.1 by ALPN and gets it.
			c.HTTPServerOptions.EnableHTTP2 = true
			c.HTTPServerOptions.Certificates = []config.CertificateFile{{DomainName: "localhost", CertFile: certFile, KeyFile: keyFile}}
		}, dial: func(t *testing.T, addr string) net.Conn {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
				&tls.Config{ServerName: "localhost", RootCAs: ca.Pool(), NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" && p != "" {
				t.Fatalf("ALPN chose %q", p)
			}
			return c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := upgrades.Load()
			g := gt.Start(t, gt.Options{Config: tc.config, APIs: []*apidef.APIDefinition{gt.API("ws", "/ws/", up.URL)}})
			conn := wsHandshake(t, tc.dial(t, g.Server.Addr()), "localhost", "/ws/echo")
			for i := range 3 {
				msg := []byte(fmt.Sprintf("message %d through the gateway", i))
				if err := writeWSFrame(conn, wsText, msg, true); err != nil {
					t.Fatal(err)
				}
				op, got, err := readWSFrame(conn.r)
				if err != nil {
					t.Fatalf("reading the echo of message %d: %v", i, err)
				}
				if op != wsText || !bytes.Equal(got, msg) {
					t.Fatalf("echo of message %d: opcode %d %q, want text %q", i, op, got, msg)
				}
			}
			if err := writeWSFrame(conn, wsClose, []byte{0x03, 0xe8}, true); err != nil {
				t.Fatal(err)
			}
			if op, _, err := readWSFrame(conn.r); err != nil || op != wsClose {
				t.Errorf("after a close frame: opcode %d, %v; want the upstream's close frame", op, err)
			}
			if n := upgrades.Load() - before; n != 1 {
				t.Errorf("the upstream saw %d upgrades, want 1", n)
			}
		})
	}
}

// TestWebSocketsOff: without enable_websockets (Tyk's default), a WebSocket handshake reaches
// the upstream as a plain request: no Upgrade or Connection header, so no tunnel past the
// chain, and the client gets the upstream's answer. The first such request is logged with what
// to set; later ones are not.
func TestWebSocketsOff(t *testing.T) {
	var upgrades atomic.Int32
	up := startWSEchoUpstream(t, &upgrades)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("ws", "/ws/", up.URL)}})
	for range 2 {
		c, err := net.DialTimeout("tcp", g.Server.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET /ws/echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "not a websocket upgrade") {
			t.Fatalf("handshake with websockets off: %d %q, want the upstream's 400 for a plain request", resp.StatusCode, body)
		}
	}
	if n := upgrades.Load(); n != 0 {
		t.Errorf("the upstream saw %d upgrades, want none", n)
	}
	logs := g.Logs()
	if n := strings.Count(logs, "enable_websockets is off"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once; logs:\n%s", n, logs)
	}
}

// startWSEchoUpstream starts a WebSocket server that echoes every frame, counting upgrades.
func startWSEchoUpstream(t *testing.T, upgrades *atomic.Int32) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
			http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
			return
		}
		upgrades.Add(1)
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		rw.Flush()
		for {
			op, payload, err := readWSFrame(rw.Reader)
			if err != nil {
				return
			}
			if err := writeWSFrame(conn, op, payload, false); err != nil || op == wsClose {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// wsConn is a client connection after a WebSocket handshake.
type wsConn struct {
	net.Conn
	r *bufio.Reader
}

// wsHandshake opens a WebSocket to path on the connection c, checking the handshake.
func wsHandshake(t *testing.T, c net.Conn, host, path string) *wsConn {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, key)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading the handshake answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("handshake: status %d, want 101: %s", resp.StatusCode, body)
	}
	// RFC 6455 1.3's example key and answer.
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept %q", got)
	}
	return &wsConn{Conn: c, r: r}
}

const (
	wsText  = 0x1
	wsClose = 0x8
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// writeWSFrame writes one final frame; a client masks what it sends (RFC 6455 5.3).
func writeWSFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | op, 0}
	switch n := len(payload); {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr[1] = 127
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	body := append([]byte(nil), payload...)
	if mask {
		hdr[1] |= 0x80
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		hdr = append(hdr, key[:]...)
		for i := range body {
			body[i] ^= key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// readWSFrame reads one frame, unmasking it.
func readWSFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return hdr[0] & 0x0f, payload, nil
}

// TestGRPCPluginRefusal: plugins run on gRPC requests (HTTP/2 POSTs of application/grpc) like on
// any other: a pre hook can refuse one, with an HTTP status or with a gRPC status of its own,
// and the upstream is not reached. A call the hook lets pass reaches an h2c:// upstream, and its
// trailers come back.
func TestGRPCPluginRefusal(t *testing.T) {
	so := plugintest.Build(t, "internal/plugintest/testdata/grpcrefuse")
	compat := plugintest.Build(t, tykcompatPkg)
	var reached atomic.Int32
	upAddr := startGRPCLikeUpstream(t, &reached)

	refuse := gt.API("refuse", "/pkg.Refused/", "h2c://"+upAddr)
	refuse.Proxy.StripListenPath = false
	refuse.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(so, "RefuseGRPC")}
	reject := gt.API("reject", "/pkg.Rejected/", "h2c://"+upAddr)
	reject.Proxy.StripListenPath = false
	reject.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(compat, "RejectWithBody")}
	pass := gt.API("pass", "/pkg.Passed/", "h2c://"+upAddr)
	pass.Proxy.StripListenPath = false
	pass.CustomMiddleware = apidef.MiddlewareSection{Driver: "goplugin", Pre: hooks(compat, "MyPluginPre")}
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{refuse, reject, pass},
		Config: func(c *config.Config) { c.HTTPServerOptions.EnableH2C = true }})
	client := h2cClient(t)
	front := g.URL

	call := func(t *testing.T, path string) *http.Response {
		t.Helper()
		// One gRPC message: uncompressed, 5 bytes of payload.
		frame := append([]byte{0, 0, 0, 0, 5}, "hello"...)
		req, err := http.NewRequest(http.MethodPost, front+path, bytes.NewReader(frame))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.ProtoMajor != 2 {
			t.Fatalf("the call went over HTTP/%d", resp.ProtoMajor)
		}
		return resp
	}

	t.Run("refused with a gRPC status", func(t *testing.T) {
		resp := call(t, "/pkg.Refused/Do")
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Grpc-Status") != "7" || resp.Header.Get("Grpc-Message") != "refused by a plugin" {
			t.Errorf("status %d, grpc-status %q, grpc-message %q; want 200 with the plugin's status 7",
				resp.StatusCode, resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message"))
		}
	})
	t.Run("refused with an HTTP status", func(t *testing.T) {
		resp := call(t, "/pkg.Rejected/Do")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || string(body) != "hello" {
			t.Errorf("status %d %q, want the plugin's 403 \"hello\"", resp.StatusCode, body)
		}
	})
	if n := reached.Load(); n != 0 {
		t.Fatalf("the upstream received %d refused calls", n)
	}
	t.Run("passed to the upstream", func(t *testing.T) {
		resp := call(t, "/pkg.Passed/Do")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, append([]byte{0, 0, 0, 0, 5}, "olleh"...)) {
			t.Errorf("status %d body %q", resp.StatusCode, body)
		}
		if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
			t.Errorf("trailer grpc-status %q, want 0 (trailers: %v)", got, resp.Trailer)
		}
		if got := resp.Trailer.Get("X-Upstream-Trailer"); got != "kept" {
			t.Errorf("trailer x-upstream-trailer %q, want kept", got)
		}
		if n := reached.Load(); n != 1 {
			t.Errorf("the upstream received %d calls, want 1", n)
		}
	})
}

// startGRPCLikeUpstream serves cleartext HTTP/2 with the framing of gRPC: it answers one
// message with the message reversed, then trailers.
func startGRPCLikeUpstream(t *testing.T, reached *atomic.Int32) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.ProtoMajor != 2 || r.Header.Get("Content-Type") != "application/grpc" || r.Header.Get("Te") != "trailers" {
			http.Error(w, fmt.Sprintf("not gRPC: HTTP/%d %q te=%q", r.ProtoMajor, r.Header.Get("Content-Type"), r.Header.Get("Te")), http.StatusBadRequest)
			return
		}
		msg, err := io.ReadAll(r.Body)
		if err != nil || len(msg) < 5 {
			http.Error(w, "bad message", http.StatusBadRequest)
			return
		}
		payload := []byte(msg[5:])
		for i, j := 0, len(payload)-1; i < j; i, j = i+1, j-1 {
			payload[i], payload[j] = payload[j], payload[i]
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message, X-Upstream-Trailer")
		w.WriteHeader(http.StatusOK)
		w.Write(append(msg[:5:5], payload...))
		w.Header().Set("Grpc-Status", "0")
		w.Header().Set("Grpc-Message", "")
		w.Header().Set("X-Upstream-Trailer", "kept")
	})}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetUnencryptedHTTP2(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// h2cClient returns a client that speaks cleartext HTTP/2 with prior knowledge.
func h2cClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
