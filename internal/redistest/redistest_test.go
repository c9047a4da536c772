package redistest

import (
	"errors"
	"net"
	"testing"
)

// A port another process took between FreePort and the server's bind is recognised, so Start
// can try another one instead of failing the test.
func TestPortTakenIsRecognised(t *testing.T) {
	Binary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = newServer(t, Options{}, ln.Addr().(*net.TCPAddr).Port)
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("starting on a taken port: got %v, want an error wrapping errAddrInUse", err)
	}
	s := Start(t, Options{})
	if got := CLI(t, s.Addr, "ping"); got != "PONG\n" {
		t.Fatalf("PING answered %q", got)
	}
}
