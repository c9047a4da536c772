package iplist

import (
	"net/netip"
	"strings"
)

// ClientAddr decides the client's address from the TCP peer (remoteAddr, "host:port") and the
// request's X-Forwarded-For values. X-Forwarded-For counts only when the peer is in trusted:
// its entries are read from the right, each trusted hop skipped, and the first address that is
// not a trusted proxy is the client. Entries a trusted proxy appended cannot be forged by the
// client; those to their left can, which is why reading stops at the first untrusted one. An
// entry that is not an address ends the reading at the trusted hop before it. With no trusted
// proxies, or from an untrusted peer, the peer is the client whatever the headers say (Tyk
// believes X-Real-IP and X-Forwarded-For from anyone; Gatehouse does not).
func ClientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(remoteAddr)
	if len(trusted) == 0 || !peer.IsValid() || !inAny(peer, trusted) || len(xff) == 0 {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		list := xff[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				hop, list = list[j+1:], list[:j]
			} else {
				hop, list = list, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			addr, err := netip.ParseAddr(hop)
			if err != nil {
				if ap, perr := netip.ParseAddrPort(hop); perr == nil {
					addr, err = ap.Addr(), nil
				}
			}
			if err != nil || addr.Zone() != "" {
				return client
			}
			client = addr.Unmap()
			if !inAny(client, trusted) {
				return client
			}
		}
	}
	return client
}

// peerAddr is the TCP peer's address, without the zone a link-local IPv6 peer comes with
// (fe80::1%eth0): netip.Prefix.Contains never matches an address with a zone, so with it a
// block list's fe80::/10 would let the peer through and an allow list refuse it.
func peerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remoteAddr); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
