package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"syscall"
	"testing"
)

// TestErrorFlag: an upstream request's failure is classified as Tyk's error overrides name it;
// real failures (a refused connection, an unknown CA) and the errors the transport wraps.
func TestErrorFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + addr)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	_, unknownCA := http.Get(tlsSrv.URL)
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://up", Err: err} }
	dialOp := func(err error) error { return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: err}) }
	readOp := func(err error) error {
		return wrap(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)})
	}
	tests := []struct {
		err  error
		want string
	}{
		{refused, "UCF"},
		{unknownCA, "TLN"},
		{wrap(&net.DNSError{Err: "no such host", Name: "up.invalid", IsNotFound: true}), "DNS"},
		{dialOp(os.NewSyscallError("connect", syscall.EHOSTUNREACH)), "NRH"},
		{dialOp(timeoutErr{}), "UCT"},
		{wrap(context.DeadlineExceeded), "URT"},
		{readOp(syscall.ECONNRESET), "URR"},
		{wrap(&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}), "EPI"},
		{readOp(syscall.ECONNABORTED), "CAB"},
		{readOp(syscall.ENETRESET), "NRS"},
		{wrap(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}), "TLE"},
		{wrap(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}}), "TLI"},
		{wrap(&tls.CertificateVerificationError{Err: x509.HostnameError{Host: "up"}}), "TLM"},
		{wrap(fmt.Errorf("%w: none of the pinned keys", ErrPinning)), "TLI"},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "TLP"},
		{wrap(errors.New("remote error: tls: handshake failure")), "TLH"},
		{wrap(errors.New("remote error: tls: protocol version not supported")), "TLA"},
		{wrap(errors.New("net/http: HTTP/1.x transport connection broken: malformed HTTP response")), "UPE"},
	}
	for _, tc := range tests {
		if got := errorFlag(tc.err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
