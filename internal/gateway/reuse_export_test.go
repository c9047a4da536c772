package gateway

// Test hook into compiled-API reuse across reloads, for reuse_test.go.

// Compiled returns the compiled API serving apiID, as an opaque pointer that stays the same
// across reloads only when the API was reused; nil when it does not serve.
func (g *Gateway) Compiled(apiID string) any {
	rt, ok := g.snap.Load().apis[apiID]
	if !ok {
		return nil
	}
	return rt
}
