package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"syscall"
)

// errorFlag classifies an upstream request's failure as Tyk's error overrides name it
// (match.flag): the connection (UCF, UCT, URR, URT, EPI, CAB, NRS, DNS, NRH), TLS (TLE, TLI,
// TLM, TLN, TLH, TLP, TLA), or UPE for the rest.
func errorFlag(err error) string {
	var (
		dns      *net.DNSError
		op       *net.OpError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		rec      tls.RecordHeaderError
	)
	dial := errors.As(err, &op) && op.Op == "dial"
	switch {
	case errors.As(err, &dns):
		return "DNS"
	case errors.Is(err, ErrPinning):
		return "TLI"
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "TLE"
		}
		return "TLI"
	case errors.As(err, &hostname):
		return "TLM"
	case errors.As(err, &unknown):
		return "TLN"
	case errors.As(err, &rec):
		return "TLP"
	case strings.Contains(err.Error(), "remote error: tls:"):
		// An alert from the upstream; crypto/tls does not export its type.
		if strings.Contains(err.Error(), "handshake failure") {
			return "TLH"
		}
		return "TLA"
	case strings.Contains(err.Error(), "tls: "):
		return "TLH"
	case isTimeout(err):
		if dial {
			return "UCT"
		}
		return "URT"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "UCF"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "NRH"
	case errors.Is(err, syscall.ECONNRESET):
		return "URR"
	case errors.Is(err, syscall.EPIPE):
		return "EPI"
	case errors.Is(err, syscall.ECONNABORTED):
		return "CAB"
	case errors.Is(err, syscall.ENETRESET):
		return "NRS"
	}
	return "UPE"
}
