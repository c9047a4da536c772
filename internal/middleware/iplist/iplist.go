// Package iplist enforces an API's IP allow list (`allowed_ips`) and block list
// (`blacklisted_ips`) on the client address the gateway decided for the request (the TCP peer,
// or X-Forwarded-For only behind a trusted proxy). Entries are single IPv4 or IPv6 addresses or
// CIDR ranges; an IPv4 address written as IPv6 (::ffff:192.0.2.1) is read as IPv4.
package iplist

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
)

// MsgDisallowed is Tyk's answer to a refused address.
const MsgDisallowed = "access from this IP has been disallowed"

// List is a compiled list of addresses and ranges.
type List struct {
	prefixes []netip.Prefix
}

// Parse compiles list entries; name prefixes errors.
func Parse(name string, entries []string) (*List, error) {
	l := &List{prefixes: make([]netip.Prefix, 0, len(entries))}
	for i, e := range entries {
		p, err := apidef.ParseIPEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		l.prefixes = append(l.prefixes, p)
	}
	return l, nil
}

// Contains reports whether addr is in one of the list's ranges; a zone (fe80::1%eth0) is
// ignored, as netip.Prefix.Contains would match no range with it.
func (l *List) Contains(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Check is the step enforcing the lists of one API. A nil list is not enforced.
type Check struct {
	Allow, Block *List
}

// Compile returns the check of a definition, or nil when it enforces no list.
func Compile(def *apidef.APIDefinition) (*Check, error) {
	c := &Check{}
	var err error
	if def.IPAllowListActive() {
		if c.Allow, err = Parse("allowed_ips", def.AllowedIPs); err != nil {
			return nil, err
		}
	}
	if def.IPBlockListActive() {
		if c.Block, err = Parse("blacklisted_ips", def.BlacklistedIPs); err != nil {
			return nil, err
		}
	}
	if c.Allow == nil && c.Block == nil {
		return nil, nil
	}
	return c, nil
}

// Allowed returns nil when addr may pass, else the 403 to answer. An address the gateway could
// not read passes neither list.
func (k *Check) Allowed(addr netip.Addr) error {
	if !addr.IsValid() {
		return chain.Errorf(http.StatusForbidden, MsgDisallowed, errors.New("the client address is unknown"))
	}
	if k.Allow != nil && !k.Allow.Contains(addr) {
		return chain.Errorf(http.StatusForbidden, MsgDisallowed, fmt.Errorf("%s is not on the allow list", addr))
	}
	if k.Block != nil && k.Block.Contains(addr) {
		return chain.Errorf(http.StatusForbidden, MsgDisallowed, fmt.Errorf("%s is on the block list", addr))
	}
	return nil
}

// Step returns the chain step.
func (k *Check) Step() chain.Step {
	return chain.Step{Name: "ip_access", Run: func(w http.ResponseWriter, r *http.Request, c *chain.Context) error {
		return k.Allowed(c.ClientIP)
	}}
}
