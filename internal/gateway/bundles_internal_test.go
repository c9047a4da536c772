package gateway

import (
	"maps"
	"slices"
	"testing"
)

// TestBundlesInUse: the bundles a reload asked for and those its APIs run are in use, so that
// Prune keeps the bundle of an API's earlier version that keeps serving while its new bundle
// downloads.
func TestBundlesInUse(t *testing.T) {
	snap := &snapshot{
		bundles: map[string]bool{"new.zip": true},
		apis: map[string]*apiRuntime{
			"kept":  {bundles: []string{"old.zip"}},
			"plain": {},
			"two":   {bundles: []string{"a.zip", "b.zip"}},
		},
	}
	got := slices.Sorted(maps.Keys(bundlesInUse(snap)))
	if want := []string{"a.zip", "b.zip", "new.zip", "old.zip"}; !slices.Equal(got, want) {
		t.Errorf("bundlesInUse = %q, want %q", got, want)
	}
	if snap.bundles["old.zip"] {
		t.Error("bundlesInUse changed the snapshot's own set")
	}
	if got := bundlesInUse(&snapshot{}); got == nil || len(got) != 0 {
		t.Errorf("bundlesInUse of an empty snapshot = %v", got)
	}
}
