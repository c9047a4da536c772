package gateway

import "time"

// SetOpenBudget sets how long this gateway's reloads wait, in all, for the plugins they open
// (defaultOpenBudget), for tests of plugins opened beside the reload.
func (g *Gateway) SetOpenBudget(d time.Duration) { g.opens.budget.Store(int64(d)) }
