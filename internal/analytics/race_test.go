//go:build race

package analytics

// raceEnabled: under the race detector sync.Pool (the regexp package's machines) drops some of
// what it is given on purpose, so allocation counts are not exact.
const raceEnabled = true
