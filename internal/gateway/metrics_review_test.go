package gateway_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/gateway"
)

// TestReviewPrometheusPathPanics: a prometheus.path that starts with "/" passes validation,
// but one ServeMux reads as a bad pattern ("{" that opens no wildcard) makes the gateway's
// start panic rather than refuse the configuration with a message.
func TestReviewPrometheusPathPanics(t *testing.T) {
	for _, path := range []string{"/metrics{", "/{a}/{a}", "/m/{x...}/y"} {
		t.Run(path, func(t *testing.T) {
			cfg := config.Default()
			cfg.ListenAddress, cfg.ListenPort = "127.0.0.1", freePort(t)
			cfg.ControlAPIPort = 0
			cfg.Secret = "review-secret-0123456789"
			cfg.AppPath, cfg.MiddlewarePath = t.TempDir(), t.TempDir()
			cfg.Prometheus.ListenAddress = "127.0.0.1:0"
			cfg.Prometheus.Path = path
			if err := cfg.Validate(); err != nil {
				t.Logf("refused: %v", err)
				return // refused with a message: fine
			}
			var startErr error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				gw, err := gateway.New(gateway.Options{Config: cfg, Version: "test"})
				if err != nil {
					startErr = err
					return nil
				}
				defer gw.Close()
				srv, err := gw.Start()
				if err != nil {
					startErr = err
					return nil
				}
				_ = srv.Shutdown(context.Background())
				return nil
			}()
			if panicked != nil {
				t.Errorf("prometheus.path %q: validation passed and the gateway panicked: %v", path, panicked)
			}
			_ = fmt.Sprint(startErr)
		})
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
