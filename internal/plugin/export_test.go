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

// SetBeforeCopy sets a function called between the two reads of a new content until the test
// ends.
func SetBeforeCopy(t interface{ Cleanup(func()) }, fn func(file string)) {
	beforeCopy = fn
	t.Cleanup(func() { beforeCopy = nil })
}

// Poisoned reports whether a package's initialisation panicked in this process.
func Poisoned(pkg string) bool {
	registry.opening.Lock() // poisoned is guarded by opening
	defer registry.opening.Unlock()
	return registry.poisoned[pkg] != nil
}
