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
	msg, b := err.Error(), s.o.Name
	var dns *net.DNSError
	var rec tls.RecordHeaderError
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"):
		if s.o.MasterName != "" {
			return fmt.Sprintf("refused credentials: check %[1]s.password and %[1]s.username for Redis, %[1]s.sentinel_password for the Sentinels", b)
		}
		return fmt.Sprintf("Redis refused the credentials: check %[1]s.password, and %[1]s.username for an ACL user", b)
	case strings.HasPrefix(msg, "NOAUTH"):
		return "Redis requires a password: set " + b + ".password"
	case strings.Contains(msg, "DB index is out of range"):
		return fmt.Sprintf("%s.database %d is beyond the server's databases setting, 16 by default", b, s.o.Database)
	case strings.HasPrefix(msg, "NOPERM"):
		return noPermAdvice(b)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing listens there: is Redis running, and are %[1]s.host and %[1]s.port, or %[1]s.addrs, right?", b)
	case errors.As(err, &dns):
		return fmt.Sprintf("the host name does not resolve: check %[1]s.host, or %[1]s.addrs", b)
	case everUp:
		return ""
	case s.o.TLS != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &rec)):
		return "no TLS handshake completed: with " + b + ".use_ssl on, a Redis that does not speak TLS never answers one; turn use_ssl off, or connect to the server's tls-port"
	case s.o.TLS == nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
		return "the server closed the connection at once: if it accepts only TLS, turn " + b + ".use_ssl on"
	}
	return ""
}

// noPermAdvice is the advice for a NOPERM answer, to a call or to the probe, for the
// configuration block named block.
func noPermAdvice(block string) string {
	return "the ACL user " + block + ".username may not run what the gateway needs: give it all commands (+@all) on all keys (~*)"
}

// withAdvice appends advice to an error's text.
func withAdvice(text, advice string) string {
	if advice == "" {
		return text
	}
	return text + " (" + advice + ")"
}
