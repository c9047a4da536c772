package config

import (
	"net/netip"

	"github.com/gatehouse/gatehouse/apidef"
)

// TrustedProxyPrefixes returns trusted_proxies as ranges (a single address is the range holding
// only it). Entries that do not parse are left out; Validate reports them.
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, e := range c.TrustedProxies {
		if p, err := parsePrefix(e); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) checkTrustedProxies(add func(string, ...any)) {
	for i, e := range c.TrustedProxies {
		if _, err := parsePrefix(e); err != nil {
			add("trusted_proxies[%d]: %q is not an IP address or CIDR range", i, e)
		}
	}
}

// parsePrefix reads an entry as an API's IP lists read theirs.
func parsePrefix(s string) (netip.Prefix, error) { return apidef.ParseIPEntry(s) }
