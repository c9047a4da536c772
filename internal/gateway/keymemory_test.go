package gateway_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	gt "github.com/gatehouse/gatehouse/internal/gatewaytest"
)

// TestKeyMemoryReturns: large keys created, used and deleted through the Gateway API leave
// nothing behind. The key check keeps the decoding of each key it serves; a deleted key's must
// go with it (it stayed before: 200 deleted 1 MiB keys held 404 MiB). Cycles of many small keys
// are session.TestKeyCyclesReturnMemory.
func TestKeyMemoryReturns(t *testing.T) {
	up := gt.NewUpstream(t)
	g := gt.Start(t, gt.Options{APIs: []*apidef.APIDefinition{gt.Keyed(gt.API("k", "/k/", up.URL))}})
	access := map[string]apidef.AccessDefinition{"k": {APIID: "k", Versions: []string{"Default"}}}
	use := func(key string) {
		t.Helper()
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Path: "/k/x", Headers: map[string]string{"Authorization": key}}))
	}
	del := func(key string) {
		t.Helper()
		gt.Check(t, gt.Case{Code: 200}, g.Do(gt.Case{Admin: true, Method: "DELETE", Path: "/tyk/keys/" + key}))
	}
	// Warm up what a first request allocates once (connections, pools), then measure.
	warm := g.CreateKey(&apidef.SessionState{AccessRights: access})
	use(warm)
	del(warm)
	base := benchkit.LiveHeap()

	// 16 keys of 1 MiB each, each served (so decoded and kept) then deleted.
	large := benchkit.LargeMetaData(1000)
	for range 16 {
		key := g.CreateKey(&apidef.SessionState{AccessRights: access, MetaData: large})
		use(key)
		del(key)
	}
	// (large itself is about 1 MiB and still referenced.)
	if grew := int64(benchkit.LiveHeap()) - int64(base); grew > 6<<20 {
		t.Errorf("after 16 large keys created, served and deleted the heap grew by %d MiB", grew>>20)
	}

	t.Logf("live heap: %d MiB before, %d MiB after", base>>20, benchkit.LiveHeap()>>20)
}
