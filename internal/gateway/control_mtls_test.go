package gateway_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestControlAPIMutualTLS: with security.control_api_use_mutual_tls, the Gateway API's listener
// serves only clients presenting a certificate listed in security.certificates.control_api,
// checked as Tyk does: in the handshake, then the certificate itself on every request (so one
// issued by a CA that is listed gets 403, not the API). The proxy listener asks for none.
func TestControlAPIMutualTLS(t *testing.T) {
	up := gt.NewUpstream(t)
	serverCA := certtest.NewCA(t, "gateway CA")
	clientCA := certtest.NewCA(t, "client CA")
	otherCA := certtest.NewCA(t, "unlisted CA")
	listedCA := certtest.NewCA(t, "listed CA")
	dir := t.TempDir()
	srv := serverCA.Localhost(t)
	certFile := certtest.WriteFile(t, dir, "cert.pem", srv.CertPEM)
	keyFile := certtest.WriteFile(t, dir, "key.pem", srv.KeyPEM)
	operator := clientCA.Issue(t, certtest.Leaf{CommonName: "operator", Client: true})
	// The operator's file holds its key too, as a bundle often does; a CA sits in a file of its
	// own.
	allowed := certtest.WriteFile(t, dir, "operator.pem", operator.Bundle())
	listedCAFile := certtest.WriteFile(t, dir, "listed-ca.pem", listedCA.PEM)

	g, _ := startOnFreePort(t, gt.Options{APIs: []*apidef.APIDefinition{gt.API("open", "/open/", up.URL)}}, func(c *config.Config, port int) {
		c.ControlAPIHostname, c.ControlAPIPort = "127.0.0.1", port
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.Certificates = []config.CertificateFile{{DomainName: "localhost", CertFile: certFile, KeyFile: keyFile}}
		c.Security.ControlAPIUseMutualTLS = true
		c.Security.Certificates.ControlAPI = []string{allowed, listedCAFile}
	})

	call := func(t *testing.T, addr string, cert *certtest.Pair) (int, string, error) {
		tc := &tls.Config{ServerName: "localhost", RootCAs: serverCA.Pool()}
		if cert != nil {
			tc.Certificates = []tls.Certificate{cert.TLS}
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addr, nil)
		req.Header.Set("X-Tyk-Authorization", gt.Secret)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	ctl := g.Server.ControlAddr()

	if code, body, err := call(t, ctl+"/tyk/apis", operator); err != nil || code != 200 || !strings.Contains(body, `"open"`) {
		t.Errorf("listed client certificate: %d %q %v, want 200 with the APIs", code, body, err)
	}
	for _, tc := range []struct {
		name string
		cert *certtest.Pair
	}{
		{"no client certificate", nil},
		{"a certificate no listed CA issued", otherCA.Issue(t, certtest.Leaf{CommonName: "stranger", Client: true})},
	} {
		for _, path := range []string{"/tyk/apis", "/hello"} {
			if code, body, err := call(t, ctl+path, tc.cert); err == nil {
				t.Errorf("%s, %s: %d %q; want the handshake refused", tc.name, path, code, body)
			}
		}
	}
	issued := listedCA.Issue(t, certtest.Leaf{CommonName: "issued by a listed CA", Client: true})
	for _, path := range []string{"/tyk/apis", "/hello"} {
		code, body, err := call(t, ctl+path, issued)
		if err != nil || code != http.StatusForbidden || !strings.Contains(body, "security.certificates.control_api") {
			t.Errorf("a certificate a listed CA issued, %s: %d %q %v; want 403 naming the list", path, code, body, err)
		}
	}
	if code, _, err := call(t, g.Server.Addr()+"/open/x", nil); err != nil || code != 200 {
		t.Errorf("the proxy listener without a client certificate: %d %v, want 200", code, err)
	}

	// The operator's certificate is rotated: a reload reads the list again, without a restart.
	successor := clientCA.Issue(t, certtest.Leaf{CommonName: "operator 2", Client: true})
	certtest.WriteFile(t, dir, "operator.pem", successor.Bundle())
	g.ReloadAndWait()
	if code, body, err := call(t, ctl+"/tyk/apis", successor); err != nil || code != 200 {
		t.Errorf("the rotated certificate after a reload: %d %q %v, want 200", code, body, err)
	}
	if code, body, err := call(t, ctl+"/tyk/apis", operator); err == nil {
		t.Errorf("the replaced certificate after a reload: %d %q, want the handshake refused", code, body)
	}
	// A file that became unreadable keeps the list read before.
	certtest.WriteFile(t, dir, "operator.pem", []byte("not a certificate"))
	g.ReloadAndWait()
	if code, body, err := call(t, ctl+"/tyk/apis", successor); err != nil || code != 200 {
		t.Errorf("after the file went bad: %d %q %v, want the list read before", code, body, err)
	}
	if !strings.Contains(g.Logs(), "client certificates could not be re-read") {
		t.Error("the log does not say the list could not be re-read")
	}
}

// TestControlAPIMutualTLSBadFile: a listed file that holds no certificate stops the start, naming
// it.
func TestControlAPIMutualTLSBadFile(t *testing.T) {
	ca := certtest.NewCA(t, "gateway CA")
	dir := t.TempDir()
	srv := ca.Localhost(t)
	cfg := config.Default()
	cfg.ListenAddress, cfg.ListenPort = "127.0.0.1", 0
	// A port of its own (never bound: the start fails before).
	cfg.ControlAPIHostname, cfg.ControlAPIPort = "127.0.0.1", 1
	cfg.Secret = gt.Secret
	cfg.AppPath, cfg.MiddlewarePath = dir, dir
	cfg.HTTPServerOptions.UseSSL = true
	cfg.HTTPServerOptions.Certificates = []config.CertificateFile{{DomainName: "localhost",
		CertFile: certtest.WriteFile(t, dir, "cert.pem", srv.CertPEM), KeyFile: certtest.WriteFile(t, dir, "key.pem", srv.KeyPEM)}}
	cfg.Security.ControlAPIUseMutualTLS = true
	cfg.Security.Certificates.ControlAPI = []string{certtest.WriteFile(t, dir, "only-a-key.pem", srv.KeyPEM)}
	cfg.Prometheus.Enabled = false
	g, err := gateway.New(gateway.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s, err := g.Start()
	if err == nil {
		_ = s.Shutdown(context.Background())
		t.Fatal("started with a control_api file holding no certificate")
	}
	if !strings.Contains(err.Error(), "only-a-key.pem") || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("error %q does not name the file and what is wrong", err)
	}
}
