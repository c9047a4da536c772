package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/redistest"
)

// TestRefusalsSayWhatToCheck: a Redis the gateway cannot use because of its configuration
// gets an error naming the setting to check, in what WaitConnected and Probe (so /hello) say
// and in the log line of the outage; a call an ACL user may not make says so too.
func TestRefusalsSayWhatToCheck(t *testing.T) {
	t.Parallel()
	certs := redistest.NewTLS(t)
	withPassword := redistest.Start(t, redistest.Options{Password: "right"})
	plain := redistest.Start(t, redistest.Options{})
	tlsOnly := redistest.Start(t, redistest.Options{TLS: certs})
	free := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	for _, c := range []struct {
		name, want string
		o          Options
	}{
		{"a wrong password", "check storage.password", Options{Addrs: []string{withPassword.Addr}, Password: "wrong"}},
		{"no password where one is required", "set storage.password", Options{Addrs: []string{withPassword.Addr}}},
		{"TLS to a server without it", "turn use_ssl off", Options{Addrs: []string{plain.Addr}, TLS: clientTLS(t, certs.CA, "", "")}},
		{"no TLS to a server that requires it", "turn storage.use_ssl on", Options{Addrs: []string{tlsOnly.Addr}}},
		{"nothing listening", "is Redis running", Options{Addrs: []string{free}}},
		{"a database the server lacks", "storage.database 99 is beyond", Options{Addrs: []string{plain.Addr}, Database: 99}},
		{"a host that does not resolve", "check storage.host", Options{Addrs: []string{"no-such-host.invalid:6379"}}},
		{"another block's keys named", "are analytics_storage.host and analytics_storage.port", Options{Addrs: []string{free}, Name: "analytics_storage"}},
		{"another block's password named", "set analytics_storage.password", Options{Addrs: []string{withPassword.Addr}, Name: "analytics_storage"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			c.o.Timeout, c.o.Logger = 300*time.Millisecond, slog.New(slog.NewTextHandler(&log, nil))
			s, err := New(c.o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if err := s.WaitConnected(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("WaitConnected = %v, want an error saying %q", err, c.want)
			}
			if _, err := s.Probe(ctx); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Probe = %v, want an error saying %q", err, c.want)
			}
			s.Close()
			if !strings.Contains(log.String(), c.want) {
				t.Errorf("the outage was logged as %q, without %q", log.String(), c.want)
			}
			if strings.Contains(log.String(), "wrong") || strings.Contains(log.String(), "unreachable") {
				t.Errorf("the log repeats the password, or calls a refusal unreachable: %q", log.String())
			}
		})
	}

	t.Run("an ACL user without the commands", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, redistest.Options{Args: []string{"--user", "limited", "on", ">pw", "~*", "+ping", "+hello", "+client"}})
		s := open(t, Options{Addrs: []string{srv.Addr}, Username: "limited", Password: "pw", Timeout: time.Second})
		_, err := s.Get(t.Context(), "k")
		if err == nil || !strings.Contains(err.Error(), "NOPERM") || !strings.Contains(err.Error(), "+@all") {
			t.Errorf("Get by a user without GET = %v, want Redis's NOPERM and what to grant", err)
		}
	})

	t.Run("a server that stopped answering gives no advice about TLS", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, redistest.Options{TLS: certs})
		s := open(t, Options{Addrs: []string{srv.Addr}, TLS: clientTLS(t, certs.CA, "", ""), Timeout: 300 * time.Millisecond})
		srv.Pause()
		defer srv.Resume()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, err := s.Probe(t.Context())
			if err != nil {
				if strings.Contains(err.Error(), "use_ssl") {
					t.Errorf("Probe once the server stopped answering = %v: TLS worked before, it is not the cause", err)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Probe still succeeds 5s after the server was paused")
			}
		}
	})
}
