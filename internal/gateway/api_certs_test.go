package gateway_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/certtest"
	"github.com/gatehouse/gatehouse/internal/config"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestAPICertificates: a definition's certificates (files or certificate-store ids) are served
// for their names besides tyk.conf's, which win for a name both have; one the store does not
// hold keeps the API from serving, saying why, until it is added; a removed one stops being
// served; domain_disabled leaves them aside, as in Tyk.
func TestAPICertificates(t *testing.T) {
	up := gt.NewUpstream(t)
	ca := certtest.NewCA(t, "edge CA")
	dir := t.TempDir()
	issue := func(names ...string) *certtest.Pair {
		return ca.Issue(t, certtest.Leaf{CommonName: names[0], DNSNames: names, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	}
	base := certtest.WriteFile(t, dir, "base.pem", issue("localhost", "both.localhost").Bundle())
	portal := certtest.WriteFile(t, dir, "portal.pem", issue("portal.localhost").Bundle())
	both := certtest.WriteFile(t, dir, "both.pem", issue("both.localhost").Bundle())
	shop := issue("shop.localhost")
	shopID := certID("", shop.TLS.Certificate[0])

	api := func(id, domain string, certs ...string) *apidef.APIDefinition {
		a := gt.API(id, "/"+id+"/", up.URL)
		a.Domain, a.Certificates = domain, certs
		return a
	}
	disabled := api("anyhost", "anyhost.localhost", certtest.WriteFile(t, dir, "junk.pem", []byte("junk")))
	disabled.DomainDisabled = true
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{
		api("portal", "portal.localhost", portal),
		api("both", "both.localhost", both),
		api("shop", "shop.localhost", shopID),
		disabled,
	}, Config: func(c *config.Config) {
		c.HTTPServerOptions.UseSSL = true
		c.HTTPServerOptions.SSLCertificates = []string{base}
	}})
	// served returns the common name of the certificate served for sni ("" when none verifies).
	served := func(sni string) string {
		t.Helper()
		conn, err := tls.Dial("tcp", g.Server.Addr(), &tls.Config{ServerName: sni, RootCAs: ca.Pool()})
		if err != nil {
			return ""
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	admin := func(method, path, body string) (int, string) {
		t.Helper()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()}}}
		req, _ := http.NewRequest(method, "https://"+g.Server.Addr()+path, strings.NewReader(body))
		req.Header.Set("X-Tyk-Authorization", gt.Secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for sni, want := range map[string]string{
		"portal.localhost": "portal.localhost",
		"both.localhost":   "localhost", // tyk.conf's certificate has the name too: it wins
		"localhost":        "localhost",
		"shop.localhost":   "", // not in the store: the API is not served
	} {
		if got := served(sni); got != want {
			t.Errorf("SNI %s: served %q, want %q", sni, got, want)
		}
	}
	if _, h := admin("GET", "/hello", ""); !strings.Contains(h, "certificates[0]") || !strings.Contains(h, "POST /tyk/certs") {
		t.Errorf("/hello does not say why the shop API is not served:\n%s", h)
	}
	if code, _ := admin("GET", "/anyhost/x", ""); code != http.StatusOK {
		t.Errorf("an API with domain_disabled (and a junk certificate it does not read): %d", code)
	}

	code, body := admin("POST", "/tyk/certs", string(shop.Bundle()))
	var added struct{ ID string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &added) != nil || added.ID != shopID {
		t.Fatalf("adding the shop's certificate: %d %s", code, body)
	}
	eventually(t, "the shop's certificate is served once the store holds it", func() bool { return served("shop.localhost") == "shop.localhost" })
	if code, _ := admin("DELETE", "/tyk/certs/"+shopID, ""); code != http.StatusOK {
		t.Fatal(code)
	}
	eventually(t, "the shop's certificate stops being served once removed", func() bool { return served("shop.localhost") == "" })
	if got := served("portal.localhost"); got != "portal.localhost" {
		t.Errorf("after the reloads, the portal's certificate: %q", got)
	}
}
