//go:build race

package gateway_test

// raceEnabled: under the race detector sync.Pool drops some of what it is given on purpose, so
// allocation counts through a pool are not exact.
const raceEnabled = true
