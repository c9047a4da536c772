package sdk

import "time"

// AnalyticsRecord describes one request after it was answered. An analytics plugin
// (`analytics_plugin` in an API definition) is a function `func(*sdk.AnalyticsRecord)` that sees
// each record before the gateway writes it, and may change it (mask data, add tags). The fields
// and JSON names are those of Tyk's analytics record, so Tyk analytics plugins port by changing
// their import path.
type AnalyticsRecord struct {
	Method        string     `json:"method"`
	Host          string     `json:"host"`
	Path          string     `json:"path"`
	RawPath       string     `json:"raw_path"`
	ContentLength int64      `json:"content_length"`
	UserAgent     string     `json:"user_agent"`
	Day           int        `json:"day"`
	Month         time.Month `json:"month"`
	Year          int        `json:"year"`
	Hour          int        `json:"hour"`
	ResponseCode  int        `json:"response_code"`
	// APIKey is the key's hash (never the key itself), or "" on keyless requests.
	APIKey     string    `json:"api_key"`
	TimeStamp  time.Time `json:"timestamp"`
	APIVersion string    `json:"api_version"`
	APIName    string    `json:"api_name"`
	APIID      string    `json:"api_id"`
	OrgID      string    `json:"org_id"`
	OauthID    string    `json:"oauth_id"`
	// RequestTime is the request's duration in milliseconds.
	RequestTime int64 `json:"request_time"`
	// RawRequest and RawResponse are the base64 of the request and response as sent on the
	// wire (headers and body), present only when the API sets enable_detailed_recording.
	RawRequest  string   `json:"raw_request"`
	RawResponse string   `json:"raw_response"`
	IPAddress   string   `json:"ip_address"`
	Latency     Latency  `json:"latency"`
	Tags        []string `json:"tags"`
	Alias       string   `json:"alias"`
	TrackPath   bool     `json:"track_path"`
	// ExpireAt is when a store that honours it (tyk-pump's MongoDB pumps) may delete the
	// record: now plus the API's expire_analytics_after, or 100 years when that is 0.
	ExpireAt time.Time `json:"expireAt"`
	// OriginalPath is the request path before any rewrite, and ListenPath the API's.
	OriginalPath string `json:"original_path"`
	ListenPath   string `json:"listen_path"`
}

// Latency is the time spent, in milliseconds: in all, waiting for the upstream, and in the
// gateway (Total less Upstream).
type Latency struct {
	Total    int64 `json:"total"`
	Upstream int64 `json:"upstream"`
	Gateway  int64 `json:"gateway"`
}
