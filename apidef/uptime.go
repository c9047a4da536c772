package apidef

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// UptimeTests are Tyk's uptime_tests: checks of upstream hosts, run every
// uptime_tests.config.time_wait seconds of the gateway's configuration.
type UptimeTests struct {
	CheckList []HostCheck `json:"check_list,omitempty"`
	Config    struct {
		// ExpireUptimeAnalyticsAfter is how many seconds tyk-pump's store keeps the uptime
		// analytics of these checks (0: 100 years). RecheckWait is read and changes nothing:
		// Gatehouse discovers no hosts to check.
		ExpireUptimeAnalyticsAfter int64 `json:"expire_utime_after,omitempty"`
		ServiceDiscovery           struct {
			UseDiscoveryService bool `json:"use_discovery_service,omitempty"`
		} `json:"service_discovery,omitzero"`
		RecheckWait int `json:"recheck_wait,omitempty"`
	} `json:"config,omitzero"`
}

// IsZero reports whether the uptime tests set nothing, so that a definition without them
// encodes without the field.
func (u UptimeTests) IsZero() bool {
	return len(u.CheckList) == 0 && u.Config.ExpireUptimeAnalyticsAfter == 0 &&
		!u.Config.ServiceDiscovery.UseDiscoveryService && u.Config.RecheckWait == 0
}

// HostCheck is one uptime test: an HTTP request that must be answered 200, or (protocol tcp or
// tls) a connection and the commands sent and expected on it.
type HostCheck struct {
	URL      string `json:"url"`
	Protocol string `json:"protocol,omitempty"`
	// Timeout bounds a run of the check, in nanoseconds as Tyk writes it (a Go duration); 0
	// is 500 ms.
	Timeout             time.Duration     `json:"timeout,omitempty"`
	EnableProxyProtocol bool              `json:"enable_proxy_protocol,omitempty"`
	Commands            []CheckCommand    `json:"commands,omitempty"`
	Method              string            `json:"method,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	// Body is the request body, base64-encoded as Tyk writes it.
	Body string `json:"body,omitempty"`
}

// CheckCommand is a step of a tcp or tls check: "send" a message, or "expect" one.
type CheckCommand struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// MaxUptimeTimeout is the longest timeout of an uptime check.
const MaxUptimeTimeout = time.Minute

// UnmarshalJSON reads a timeout written as nanoseconds (Tyk's Classic form) or as a duration
// string ("5s", Tyk OAS's form).
func (h *HostCheck) UnmarshalJSON(data []byte) error {
	type plain HostCheck
	var p struct {
		plain
		Timeout json.RawMessage `json:"timeout,omitempty"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*h = HostCheck(p.plain)
	h.Timeout = 0
	raw := strings.TrimSpace(string(p.Timeout))
	switch {
	case raw == "" || raw == "null":
	case strings.HasPrefix(raw, `"`):
		var s string
		if err := json.Unmarshal(p.Timeout, &s); err != nil {
			return err
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("timeout %q: %w", s, err)
		}
		h.Timeout = d
	default:
		var n float64
		if err := json.Unmarshal(p.Timeout, &n); err != nil {
			return fmt.Errorf("timeout: %w", err)
		}
		if n < 0 || n > float64(MaxUptimeTimeout) {
			return fmt.Errorf("timeout %v is out of range (nanoseconds, up to %v)", n, MaxUptimeTimeout)
		}
		h.Timeout = time.Duration(n)
	}
	return nil
}

// BodyBytes returns the check's request body, decoded.
func (h *HostCheck) BodyBytes() ([]byte, error) {
	if h.Body == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(h.Body)
}

// validateUptimeTests reports what makes a check unusable.
func (a *APIDefinition) validateUptimeTests() []error {
	var errs []error
	for i, c := range a.UptimeTests.CheckList {
		add := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("uptime_tests.check_list[%d]: "+format, append([]any{i}, args...)...))
		}
		proto := strings.ToLower(c.Protocol)
		switch proto {
		case "", "http", "https":
			u, err := url.Parse(c.URL)
			switch {
			case err != nil:
				add("url %q is not a URL: %v", c.URL, err)
			case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c" || u.Host == "":
				add("url %q must be an absolute http, https or h2c URL", c.URL)
			}
			if c.Method != "" && !IsToken(c.Method) {
				add("method %q is not an HTTP method", c.Method)
			}
			for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
				if !IsToken(name) {
					add("header name %q is not a header name", name)
				}
				if strings.ContainsAny(c.Headers[name], "\r\n\x00") {
					add("header %q: a value may not hold CR, LF or NUL", name)
				}
			}
			if _, err := c.BodyBytes(); err != nil {
				add("body is not base64: %v", err)
			}
			if len(c.Commands) > 0 {
				add("commands are for the tcp and tls protocols")
			}
		case "tcp", "tls":
			s := c.URL
			if !strings.Contains(s, "://") {
				s = proto + "://" + s
			}
			if u, err := url.Parse(s); err != nil || u.Hostname() == "" || u.Port() == "" {
				add("url %q must name a host and port (host:port)", c.URL)
			}
			for j, cmd := range c.Commands {
				if cmd.Name != "send" && cmd.Name != "expect" {
					add("commands[%d].name %q must be send or expect", j, cmd.Name)
				}
			}
		default:
			add("protocol %q is not http, https, tcp or tls", c.Protocol)
		}
		if c.Timeout < 0 || c.Timeout > MaxUptimeTimeout {
			add("timeout %v is out of range (up to %v)", c.Timeout, MaxUptimeTimeout)
		}
	}
	return errs
}

// unsupportedUptime lists what the uptime tests ask that Gatehouse does not do.
func (a *APIDefinition) unsupportedUptime() []string {
	var out []string
	for i, c := range a.UptimeTests.CheckList {
		if c.EnableProxyProtocol {
			out = append(out, fmt.Sprintf("uptime_tests.check_list[%d].enable_proxy_protocol (checks do not send a PROXY protocol header)", i))
		}
	}
	if a.UptimeTests.Config.ServiceDiscovery.UseDiscoveryService {
		out = append(out, "uptime_tests.config.service_discovery (the check list is the definition's)")
	}
	return out
}

// inertUptime lists the uptime settings that change nothing.
func (a *APIDefinition) inertUptime() []string {
	var out []string
	checks := len(a.UptimeTests.CheckList) > 0
	switch {
	case a.Proxy.CheckHostAgainstUptimeTests && !a.Proxy.EnableLoadBalancing:
		out = append(out, "proxy.check_host_against_uptime_tests without enable_load_balancing (as in Tyk, only the load balancer passes over hosts that are down)")
	case a.Proxy.CheckHostAgainstUptimeTests && !checks:
		out = append(out, "proxy.check_host_against_uptime_tests without uptime_tests.check_list (no host is ever found down)")
	}
	if a.UptimeTests.Config.RecheckWait != 0 {
		out = append(out, "uptime_tests.config.recheck_wait (for service discovery, which uptime tests do not use here)")
	}
	return out
}
