package config

import (
	"net/netip"
	"strings"
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

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
