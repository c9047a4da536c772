package gateway

// Test hook into the compiled chains, for TestChainOrder.

// ChainSteps returns the names of an API's compiled chain steps, nil when it does not serve.
func (g *Gateway) ChainSteps(apiID string) []string {
	rt, ok := g.snap.Load().apis[apiID]
	if !ok {
		return nil
	}
	return rt.chain.Steps()
}
