package gateway

// Test hooks into analytics, for TestAnalyticsPluginCallsBounded.

// MaxAnalyticsHooks is how many analytics plugin calls may run at once.
const MaxAnalyticsHooks = maxAnalyticsHooks

// AnalyticsDropped returns how many records the analytics sink counts as dropped.
func (g *Gateway) AnalyticsDropped() int64 { return g.analytics.Dropped() }
