package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// adviceFor says what to check when Redis cannot be used: which setting a refusal points to. It is
// "" for an error that says enough by itself. everUp tells a server that stopped answering
// (a network fault, not the configuration) from one never reached.
func (s *Store) adviceFor(err error, everUp bool) string {
	msg := err.Error()
	var dns *net.DNSError
	var rec tls.RecordHeaderError
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"):
		if s.o.MasterName != "" {
			return "refused credentials: check storage.password and storage.username for Redis, storage.sentinel_password for the Sentinels"
		}
		return "Redis refused the credentials: check storage.password, and storage.username for an ACL user"
	case strings.HasPrefix(msg, "NOAUTH"):
		return "Redis requires a password: set storage.password"
	case strings.Contains(msg, "DB index is out of range"):
		return fmt.Sprintf("storage.database %d is beyond the server's databases setting, 16 by default", s.o.Database)
	case strings.HasPrefix(msg, "NOPERM"):
		return noPermAdvice
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is Redis running, and are storage.host and storage.port, or storage.addrs, right?"
	case errors.As(err, &dns):
		return "the host name does not resolve: check storage.host, or storage.addrs"
	case everUp:
		return ""
	case s.o.TLS != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &rec)):
		return "no TLS handshake completed: with storage.use_ssl on, a Redis that does not speak TLS never answers one; turn use_ssl off, or connect to the server's tls-port"
	case s.o.TLS == nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
		return "the server closed the connection at once: if it accepts only TLS, turn storage.use_ssl on"
	}
	return ""
}

// noPermAdvice is the advice for a NOPERM answer, to a call or to the probe.
const noPermAdvice = "the ACL user storage.username may not run what the gateway needs: give it all commands (+@all) on all keys (~*)"

// withAdvice appends advice to an error's text.
func withAdvice(text, advice string) string {
	if advice == "" {
		return text
	}
	return text + " (" + advice + ")"
}
