package gateway

import "time"

// SetOpenBudget sets how long this gateway's reloads wait, in all, for the plugins they open
// (defaultOpenBudget), for tests of plugins opened beside the reload.
func (g *Gateway) SetOpenBudget(d time.Duration) { g.opens.budget.Store(int64(d)) }

// OpenBudget returns how long this gateway's reloads wait for the plugins they open.
func (g *Gateway) OpenBudget() time.Duration { return time.Duration(g.opens.budget.Load()) }
