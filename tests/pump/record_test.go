package pump_test

import "time"

// AnalyticsRecord is tyk-pump's analytics.AnalyticsRecord (v1.16.0, the version Tyk v5.14.0
// pins), written from its published field names and types: tyk-pump decodes each element of
// the list into it with gopkg.in/vmihailenco/msgpack.v2, as these tests do. It has no msgpack
// tags, so the msgpack keys are the Go field names.
type AnalyticsRecord struct {
	Method         string
	Host           string
	Path           string
	RawPath        string
	ContentLength  int64
	UserAgent      string
	Day            int
	Month          time.Month
	Year           int
	Hour           int
	ResponseCode   int
	APIKey         string
	TimeStamp      time.Time
	APIVersion     string
	APIName        string
	APIID          string
	OrgID          string
	OauthID        string
	RequestTime    int64
	RawRequest     string
	RawResponse    string
	IPAddress      string
	Geo            GeoData
	Network        NetworkStats
	Latency        Latency
	Tags           []string
	Alias          string
	TrackPath      bool
	ExpireAt       time.Time
	ApiSchema      string
	OriginalPath   string
	ListenPath     string
	GraphQLStats   GraphQLStats
	MCPStats       MCPStats
	CollectionName string
}

// GeoData is tyk-pump's analytics.GeoData.
type GeoData struct {
	Country struct {
		ISOCode string
	}
	City struct {
		GeoNameID uint
		Names     map[string]string
	}
	Location struct {
		Latitude  float64
		Longitude float64
		TimeZone  string
	}
}

// NetworkStats is tyk-pump's analytics.NetworkStats.
type NetworkStats struct {
	OpenConnections  int64
	ClosedConnection int64
	BytesIn          int64
	BytesOut         int64
}

// Latency is tyk-pump's analytics.Latency, in milliseconds.
type Latency struct {
	Total    int64
	Upstream int64
	Gateway  int64
}

// GraphQLStats is tyk-pump's analytics.GraphQLStats (GraphQL APIs only).
type GraphQLStats struct {
	Variables     string
	RootFields    []string
	Types         map[string][]string
	Errors        []struct{ Message string }
	OperationType int
	HasErrors     bool
	IsGraphQL     bool
}

// MCPStats is tyk-pump's analytics.MCPStats (MCP APIs only).
type MCPStats struct {
	IsMCP         bool
	JSONRPCMethod string
	PrimitiveType string
	PrimitiveName string
}

// tykFields are the keys of a record Gatehouse writes: every field of AnalyticsRecord but the
// GraphQL and MCP statistics, which a decoder leaves zero when absent.
var tykFields = []string{
	"Method", "Host", "Path", "RawPath", "ContentLength", "UserAgent", "Day", "Month", "Year", "Hour",
	"ResponseCode", "APIKey", "TimeStamp", "APIVersion", "APIName", "APIID", "OrgID", "OauthID",
	"RequestTime", "RawRequest", "RawResponse", "IPAddress", "Geo", "Network", "Latency", "Tags",
	"Alias", "TrackPath", "ExpireAt", "ApiSchema", "OriginalPath", "ListenPath", "CollectionName",
}
