package gateway

import "reflect"

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

// FilePolicies identifies the set decoded from the policies file: the same across reloads only
// when the file was not decoded again.
func (g *Gateway) FilePolicies() uintptr {
	return reflect.ValueOf(g.snap.Load().filePolicies).Pointer()
}

// SharedPolicy returns the policy id as decoded from the fleet's store, as an opaque pointer
// that stays the same across reloads only when it was not decoded again; nil when there is none.
func (g *Gateway) SharedPolicy(id string) any {
	p, ok := g.snap.Load().shared.policies[id]
	if !ok {
		return nil
	}
	return p
}
