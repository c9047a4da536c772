package session

import (
	"unsafe"

	"github.com/gatehouse/gatehouse/apidef"
)

// What the decoded-session cache may hold, and how its memory is counted.
const (
	// maxDecoded bounds the decoded sessions kept, whatever their size.
	maxDecoded = 100000
	// maxDecodedBytes bounds the memory they are estimated to take (decodedSize: the stored
	// bytes kept to compare with, the decoded session, and what was derived from it).
	maxDecodedBytes = 64 << 20
)

// Estimates of the heap the parts of a decoded session take, on a 64-bit platform. They lean
// high: the cache's bound must hold whatever the sessions hold.
const (
	// entryCost is what the manager holds per cached key besides the session: its map entry,
	// the storage key, and the key's names (Names: hash, storage key, counter names) with
	// their map entry.
	entryCost = 768
	// mapHeader is a map's header; its tables are counted by mapSize.
	mapHeader = 48
	// allocRound is what the allocator's size classes add to an allocation, on average.
	allocRound = 8
	// ifaceCost is an interface value (in a map or slice of meta_data) besides what it holds.
	ifaceCost = 16
	// boxCost is a number or other small value an interface holds on the heap.
	boxCost = 8 + allocRound
	// sliceBoxCost is the slice header an interface holding a []any keeps on the heap, which
	// is most of what a small array of meta data takes.
	sliceBoxCost = int(unsafe.Sizeof([]any(nil))) + allocRound
)

var (
	sessionCost = int(unsafe.Sizeof(apidef.SessionState{})) + allocRound
	accessCost  = int(unsafe.Sizeof(apidef.AccessDefinition{}))
	specCost    = int(unsafe.Sizeof(apidef.AccessSpec{}))
	limitCost   = int(unsafe.Sizeof(apidef.APILimit{})) + allocRound
	stringCost  = int(unsafe.Sizeof(""))
	// endpointCost and methodCost are a per-endpoint rate limit and one of its methods.
	endpointCost = int(unsafe.Sizeof(apidef.EndpointLimit{}))
	methodCost   = int(unsafe.Sizeof(apidef.EndpointMethodLimit{}))
)

// decodedSize estimates the memory a decoded session takes: the struct, its strings, maps and
// slices, its meta data at any depth. JSON is about four times smaller than what decoding it
// makes (keys, maps and interface values), so the cache counts this, not the stored bytes.
func decodedSize(s *apidef.SessionState) int {
	if s == nil {
		return 0
	}
	n := sessionCost
	n += str(s.OrgID) + str(s.ApplyPolicyID) + str(s.LastUpdated) + str(s.Alias) + str(s.KeyID) +
		str(s.BasicAuthData.Password) + str(s.BasicAuthData.HashType) + str(s.JWTData.Secret) + str(s.HmacSecret)
	n += strs(s.ApplyPolicies) + strs(s.Tags) + strs(s.MtlsStaticCertificateBindings) + str(s.Certificate)
	if c := cap(s.Monitor.TriggerLimits); c > 0 {
		n += c*8 + allocRound
	}
	if s.AccessRights != nil {
		n += mapSize(len(s.AccessRights), stringCost+accessCost)
		for id, ar := range s.AccessRights {
			n += str(id)
			n += str(ar.APIName) + str(ar.APIID) + strs(ar.Versions)
			if len(ar.AllowedURLs) > 0 {
				n += len(ar.AllowedURLs)*specCost + allocRound
				for _, u := range ar.AllowedURLs {
					n += str(u.URL) + strs(u.Methods)
				}
			}
			if ar.Limit != nil {
				n += limitCost
			}
			if len(ar.Endpoints) > 0 {
				n += cap(ar.Endpoints)*endpointCost + allocRound
				for _, e := range ar.Endpoints {
					n += str(e.Path) + cap(e.Methods)*methodCost + allocRound
					for _, m := range e.Methods {
						n += str(m.Name)
					}
				}
			}
		}
	}
	if s.MetaData != nil {
		n += metaMapSize(s.MetaData)
	}
	return n
}

// str is what a string's bytes take (its header is counted where it is held).
func str(s string) int {
	if s == "" {
		return 0
	}
	return len(s) + allocRound
}

// strs is what a slice of strings takes besides its header.
func strs(ss []string) int {
	if cap(ss) == 0 {
		return 0
	}
	n := cap(ss)*stringCost + allocRound
	for _, s := range ss {
		n += str(s)
	}
	return n
}

func metaMapSize(m map[string]any) int {
	n := mapSize(len(m), stringCost+ifaceCost)
	for k, v := range m {
		n += str(k) + metaSize(v)
	}
	return n
}

// mapSize is what a map of n entries of slot bytes (key and value) takes: Go's maps hold
// groups of 8 slots and a control word, one group up to 8 entries, then tables of a power of
// two of slots at most 7/8 full.
func mapSize(n, slot int) int {
	slots := 8
	for slots*7/8 < n {
		slots *= 2
	}
	return mapHeader + slots*slot + slots + allocRound
}

// metaSize is what a meta_data value holds besides its interface: what encoding/json decodes
// into (strings, float64, bool, nil, []any, map[string]any); anything else counts as a box.
func metaSize(v any) int {
	switch v := v.(type) {
	case nil, bool:
		return 0
	case string:
		return stringCost + allocRound + str(v)
	case map[string]any:
		return metaMapSize(v)
	case []any:
		n := sliceBoxCost + cap(v)*ifaceCost + allocRound
		for _, e := range v {
			n += metaSize(e)
		}
		return n
	default:
		return boxCost
	}
}
