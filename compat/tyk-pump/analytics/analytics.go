//go:build gatehouse_compat

// Package analytics is Gatehouse's rendering of tyk-pump's analytics package for analytics
// plugins: AnalyticsRecord is the gateway's own record (sdk.AnalyticsRecord), so a Tyk
// analytics plugin, func(*analytics.AnalyticsRecord), is exactly the function type the gateway
// calls, with no conversion. The record has the fields, Go types and JSON names of Tyk's
// except those the gateway does not fill (Geo, Network, GraphQL and MCP statistics, ApiSchema,
// OriginalPath, ListenPath, CollectionName, Latency.Gateway); a plugin that uses one is told so
// when it is built.
package analytics

import "github.com/gatehouse/gatehouse/sdk"

// AnalyticsRecord describes one request after it was answered.
type AnalyticsRecord = sdk.AnalyticsRecord

// Latency is a request's time in all and upstream, in milliseconds.
type Latency = sdk.Latency
