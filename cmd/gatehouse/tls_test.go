package main

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/tlsconf/tlstest"
)

// TestSIGHUPRotatesCertificate replaces the certificate files (named relative to the config
// file) and sends SIGHUP: new handshakes get the new certificate, and a kept-alive connection
// made before goes on serving with the old one.
func TestSIGHUPRotatesCertificate(t *testing.T) {
	ca := tlstest.NewCA(t)
	v1 := ca.Issue(t, "v1.test", "127.0.0.1")
	v2 := ca.Issue(t, "v2.test", "127.0.0.1")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "apps"), 0o755)
	tlstest.Copy(t, v1.CertFile, filepath.Join(dir, "cert.pem"))
	tlstest.Copy(t, v1.KeyFile, filepath.Join(dir, "key.pem"))
	p := startProc(t, func(port int) ([]string, []string) {
		conf := writeConf(t, dir, map[string]any{"listen_port": port, "control_api_port": 0, "app_path": "apps",
			"http_server_options": map[string]any{
				"use_ssl": true, "enable_http2": true,
				"certificates": []map[string]string{{"cert_file": "cert.pem", "key_file": "key.pem"}},
			}})
		return nil, []string{"start", "--conf", conf}
	})
	served := func() string {
		conn, err := tls.Dial("tcp", p.addr, &tls.Config{RootCAs: ca.Pool})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "v1.test" {
		t.Fatalf("served %q at start, want v1.test", got)
	}
	client := ca.Client("", true)
	hello := func() (proto, cert string) {
		resp, err := client.Get("https://" + p.addr + "/hello")
		if err != nil {
			t.Fatalf("GET /hello: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /hello: %d", resp.StatusCode)
		}
		return resp.Proto, resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if proto, cert := hello(); proto != "HTTP/2.0" || cert != "v1.test" {
		t.Fatalf("/hello over %s on %s, want HTTP/2.0 on v1.test", proto, cert)
	}

	tlstest.Copy(t, v2.CertFile, filepath.Join(dir, "cert.pem"))
	tlstest.Copy(t, v2.KeyFile, filepath.Join(dir, "key.pem"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for served() != "v2.test" {
		if ctx.Err() != nil {
			t.Fatal("the certificate replaced before SIGHUP never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Only the connection made before the rotation can still show v1.
	if proto, cert := hello(); proto != "HTTP/2.0" || cert != "v1.test" {
		t.Errorf("the connection made before SIGHUP: %s on %s, want it kept (HTTP/2.0 on v1.test)", proto, cert)
	}
}

// TestTLSStartErrors: a certificate that cannot be read stops the start with an error naming
// it, and so do contradictory TLS versions.
func TestTLSStartErrors(t *testing.T) {
	ca := tlstest.NewCA(t)
	leaf := ca.Issue(t, "127.0.0.1")
	for _, tt := range []struct {
		name string
		opts map[string]any
		want []string
	}{
		{"missing certificate", map[string]any{"use_ssl": true, "ssl_certificates": []string{"missing.pem"}},
			[]string{"loading the TLS certificates", "http_server_options.ssl_certificates[0]", "missing.pem", "certificate store"}},
		{"key of no certificate", map[string]any{"use_ssl": true, "certificates": []map[string]string{{"cert_file": leaf.KeyFile, "key_file": leaf.KeyFile}}},
			[]string{"loading the TLS certificates", "http_server_options.certificates[0]"}},
		{"min above max", map[string]any{"use_ssl": true, "ssl_certificates": []string{leaf.BothFile}, "min_version": 772, "max_version": 771},
			[]string{"the configuration is not valid", "http_server_options.min_version 772 (TLS 1.3) is above http_server_options.max_version 771 (TLS 1.2)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := writeConf(t, dir, map[string]any{"listen_port": freePort(t), "control_api_port": 0,
				"app_path": dir, "http_server_options": tt.opts})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "start", "--conf", conf)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("start: %v (want exit status 1):\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), "gateway listening") {
				t.Errorf("the gateway listened:\n%s", out)
			}
		})
	}
}
