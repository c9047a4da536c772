package session_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/benchkit"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestKeyCyclesReturnMemory: keys created, looked up and deleted in a loop leave nothing behind
// in the manager or the store: the heap after a third cycle of 10,000 keys is no larger than
// after the first (a deleted key's decoding once stayed in the manager's cache), and the large
// keys a cycle served are not kept.
func TestKeyCyclesReturnMemory(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	m := session.NewManager(store, true)
	cycle := func(n int, meta map[string]interface{}) uint64 {
		for i := range n {
			id := session.ID{Key: fmt.Sprintf("key-%06d", i)}
			if err := m.Put(ctx, id, &apidef.SessionState{Rate: 1, Per: 1, MetaData: meta}, 0); err != nil {
				t.Fatal(err)
			}
			if _, _, err := m.Lookup(ctx, id.Key); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if ok, err := m.Delete(ctx, session.ID{Key: fmt.Sprintf("key-%06d", i)}); !ok || err != nil {
				t.Fatalf("delete: %v %v", ok, err)
			}
		}
		return benchkit.LiveHeap()
	}
	base := benchkit.LiveHeap()
	large := map[string]interface{}{}
	for i := range 1000 {
		large[fmt.Sprint(i)] = string(make([]byte, 1024))
	}
	cycle(40, large)
	afterLarge := benchkit.LiveHeap()
	if grew := int64(afterLarge) - int64(base); grew > 8<<20 {
		t.Errorf("40 keys of 1 MiB created, looked up and deleted: the heap grew by %d MiB", grew>>20)
	}
	first := cycle(10000, nil)
	cycle(10000, nil)
	third := cycle(10000, nil)
	t.Logf("live heap: %d KiB at start, %d KiB after large keys, %d KiB after the first cycle of 10,000, %d KiB after the third", base>>10, afterLarge>>10, first>>10, third>>10)
	if grew := int64(third) - int64(first); grew > 2<<20 {
		t.Errorf("cycles of 10,000 keys: the heap grew by %d KiB from the first to the third", grew>>10)
	}
}
