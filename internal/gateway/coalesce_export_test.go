package gateway

// Test hooks into the reloader, for TestReloadsCoalesce.

// WrapRebuild replaces the function the reloader runs for each rebuild with wrap(rebuild). Call
// it before asking for a reload and while none is running: the reloader's goroutine reads the
// function only after it receives a request, which orders this write before that read.
func (g *Gateway) WrapRebuild(wrap func(rebuild func() error) func() error) {
	g.reloads.do = wrap(g.reloads.do)
}

// PendingReloads returns how many reload requests wait for a rebuild that has not yet taken
// them.
func (g *Gateway) PendingReloads() int {
	g.reloads.mu.Lock()
	defer g.reloads.mu.Unlock()
	return len(g.reloads.waiters)
}
