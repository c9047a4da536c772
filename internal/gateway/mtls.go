package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/middleware/mtls"
	"github.com/gatehouse/gatehouse/internal/router"
)

// compileMutualTLS compiles the client certificate check of an API with use_mutual_tls_auth
// (its client_certificates and security.certificates.apis), nil without.
func (g *Gateway) compileMutualTLS(def *apidef.APIDefinition) (*mtls.Check, error) {
	if !def.UseMutualTLSAuth {
		return nil, nil
	}
	if !g.cfg.HTTPServerOptions.UseSSL {
		return nil, errors.New("use_mutual_tls_auth needs TLS on the listener (http_server_options.use_ssl): " +
			"without it no client certificate reaches the gateway")
	}
	entries := append(append([]string(nil), def.ClientCertificates...), g.cfg.Security.Certificates.APIs...)
	where := make([]string, 0, len(entries))
	for i := range def.ClientCertificates {
		where = append(where, fmt.Sprintf("client_certificates[%d]", i))
	}
	for i := range g.cfg.Security.Certificates.APIs {
		where = append(where, fmt.Sprintf("security.certificates.apis[%d]", i))
	}
	c, err := mtls.New(entries, where, g.now, g.readCert)
	if err != nil {
		return nil, fmt.Errorf("mutual TLS: %w", err)
	}
	c.Asked = g.askedClientCert
	return c, nil
}

// askedClientCert reports whether the handshake for serverName, by the snapshot serving now,
// asks for a client certificate.
func (g *Gateway) askedClientCert(serverName string) bool {
	snap := g.snap.Load()
	return snap != nil && snap.wantsClientCert(serverName)
}

// compileCertAuth reports whether def's key is found by the client certificate (certificate
// auth: auth_configs.authToken.use_certificate on an API with key auth), which needs TLS.
func (g *Gateway) compileCertAuth(def *apidef.APIDefinition) (bool, error) {
	if !def.AuthTokenConfig().UseCertificate || !slices.Contains(def.AuthMethods(), apidef.AuthToken) {
		return false, nil
	}
	if !g.cfg.HTTPServerOptions.UseSSL {
		return false, errors.New("certificate auth (auth_configs.authToken.use_certificate) needs TLS on the listener (http_server_options.use_ssl): " +
			"without it no client certificate reaches the gateway")
	}
	return true, nil
}

// clientCertHosts says, for a snapshot, which TLS server names ask clients for a certificate:
// those of the APIs with use_mutual_tls_auth, every name when one of them has no domain, and
// none (a client connecting to an address sends none) when there is such an API.
type clientCertHosts struct {
	any, all bool
	hosts    map[string]bool
}

// wantsClientCert reports whether a handshake for serverName (SNI) asks for a client
// certificate.
func (s *snapshot) wantsClientCert(serverName string) bool {
	s.certHostsOnce.Do(func() {
		h := clientCertHosts{hosts: map[string]bool{}}
		for _, api := range s.apis {
			if !api.asksClientCert() {
				continue
			}
			h.any = true
			if api.domain == "" {
				h.all = true
				continue
			}
			h.hosts[router.DomainHost(api.domain)] = true
		}
		s.certHosts = h
	})
	if s.certHosts.all || s.certHosts.any && serverName == "" {
		return true
	}
	return len(s.certHosts.hosts) > 0 && s.certHosts.hosts[router.DomainHost(serverName)]
}

// askForClientCerts makes srv's TLS handshakes ask for a client certificate, for the server
// names of APIs with use_mutual_tls_auth in the snapshot serving at the time (so an API added
// by a reload is asked for at once). The certificate is not verified in the handshake: each
// such API's check answers a request without one, or with one it does not allow, with Tyk's
// 403, and other APIs on the listener are reached without one. No CA names are announced, so
// clients send their certificate whatever its issuer; handshakes for other names do not ask,
// so browsers are not prompted for a certificate there.
func (g *Gateway) askForClientCerts(srv *http.Server) {
	base := srv.TLSConfig.Clone()
	// The protocols ServeTLS would offer (adjustNextProtos in net/http): a config returned by
	// GetConfigForClient replaces the one ServeTLS set them on.
	base.NextProtos = nil
	if srv.Protocols == nil || srv.Protocols.HTTP2() {
		base.NextProtos = append(base.NextProtos, "h2")
	}
	base.NextProtos = append(base.NextProtos, "http/1.1")
	ask := base.Clone()
	ask.ClientAuth = tls.RequestClientCert
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if snap := g.snap.Load(); snap != nil && snap.wantsClientCert(hello.ServerName) {
			return ask, nil
		}
		return nil, nil
	}
	srv.TLSConfig = base
}
