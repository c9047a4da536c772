package apistore

import "time"

// Decoded reports whether e holds its decoded definition: false for a Classic file LoadMemo
// found unchanged (Def decodes it on each call).
func Decoded(e Entry) bool { return e.def != nil }

// SetSettleTime sets how old a file's change must be for its status to be recorded, until the
// test ends.
func SetSettleTime(t interface{ Cleanup(func()) }, d time.Duration) {
	old := settleTime
	settleTime = d
	t.Cleanup(func() { settleTime = old })
}

// LastReads returns how many files the last load through m to end read.
func (m *Memo) LastReads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastReads
}
