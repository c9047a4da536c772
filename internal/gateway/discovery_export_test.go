package gateway

// Test hooks into service discovery, for TestServiceDiscoveryTransportChurn.

// DiscoveredTargets returns the targets apiID forwards to now, nil before its first answer.
func (g *Gateway) DiscoveredTargets(apiID string) []string {
	d := g.servingDiscovered(apiID)
	if d == nil {
		return nil
	}
	if t := d.cur.Load(); t != nil {
		return t.targets
	}
	return nil
}
