package session

import "github.com/gatehouse/gatehouse/apidef"

// Derived is what the request path computed from a shared decoding of a key and keeps with it:
// the session with its policies applied. It goes when the decoding does (the key changed,
// was forgotten, or the cache started afresh), and it is counted in the cache's bound.
type Derived struct {
	// Tag identifies what else it was computed from (the loaded policies): the caller
	// compares it, and must not rely on anything else to tell a stale Derived.
	Tag any
	// Session and Err are the result: Session is shared by every request that finds it, and
	// must never be changed.
	Session *apidef.SessionState
	Err     error
}

// Derived returns what SetDerived kept with s, the shared decoding of the key found by token
// (hash is its CounterID), or nil when there is none or s is no longer the key's decoding.
func (m *Manager) Derived(token, hash string, s *apidef.SessionState) *Derived {
	var buf [160]byte
	sk := m.entryKey(buf[:0], token, hash)
	m.mu.RLock()
	d, ok := m.cache[string(sk)] // no allocation: the conversion is only the lookup's
	m.mu.RUnlock()
	if !ok || d.s != s {
		return nil
	}
	return d.derived
}

// SetDerived keeps v with s, the shared decoding of the key found by token (hash is its
// CounterID), in place of what was kept; nothing is kept when s is no longer the key's
// decoding, or when v would take the cache past its bound.
func (m *Manager) SetDerived(token, hash string, s *apidef.SessionState, v *Derived) {
	size := 0
	if v != nil && v.Session != s {
		// Counted whole, though it shares the maps the policies did not change with s.
		size = decodedSize(v.Session) + allocRound
	}
	var buf [160]byte
	sk := m.entryKey(buf[:0], token, hash)
	m.mu.RLock()
	full := m.bytes+size > m.maxBytes
	m.mu.RUnlock()
	if full {
		// Not kept: spared the write lock every request with such a key would take.
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.cache[string(sk)]
	if !ok || d.s != s {
		return
	}
	old := d.size
	d.size += size - d.derivedSize()
	if m.bytes-old+d.size > m.maxBytes {
		return
	}
	m.bytes += d.size - old
	d.derived = v
	m.cache[string(sk)] = d
}

// derivedSize is what d.derived is counted for in d.size.
func (d *decoded) derivedSize() int {
	if d.derived == nil || d.derived.Session == nil || d.derived.Session == d.s {
		return 0
	}
	return decodedSize(d.derived.Session) + allocRound
}

// entryKey returns the storage key of the key found by token (hash its CounterID), appended to
// buf: for map lookups that do not allocate when it fits.
func (m *Manager) entryKey(buf []byte, token, hash string) []byte {
	id := token
	if m.hashKeys {
		id = hash
	}
	return append(append(buf, KeyPrefix...), id...)
}
