package plugin

import "time"

// Hashed returns how many files the loader read and hashed.
func Hashed() int64 { return hashed.Load() }

// SetRacyMargin changes racyMargin until the test ends.
func SetRacyMargin(t interface{ Cleanup(func()) }, d time.Duration) {
	old := racyMargin
	racyMargin = d
	t.Cleanup(func() { racyMargin = old })
}
