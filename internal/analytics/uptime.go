package analytics

import "time"

// UptimeKey is the Redis list tyk-pump reads uptime test results from (Tyk's host checker's
// key prefix "host-checker:" and "tyk-uptime-analytics"), written with
// uptime_tests.config.enable_uptime_analytics.
const UptimeKey = "host-checker:tyk-uptime-analytics"

// UptimeRecord is one run of an uptime check, as Tyk's host checker records it and tyk-pump's
// analytics.UptimeReportData decodes it.
type UptimeRecord struct {
	// URL is the check's URL as written; RequestTime the run's time in milliseconds.
	URL         string
	RequestTime int64
	// ResponseCode is the status answered, 521 when nothing was (a connection that failed or
	// timed out, a tcp or tls check whose commands failed: TCPError); ServerError is true for
	// an answered status above 200.
	ResponseCode int
	TCPError     bool
	ServerError  bool
	// The time of the run, its parts in the gateway's time zone; ExpireAt is when tyk-pump's
	// store may drop the record.
	TimeStamp time.Time
	ExpireAt  time.Time
	APIID     string
	OrgID     string
}

// uptimeFields is the number of fields EncodeUptime writes.
const uptimeFields = 14

// EncodeUptime encodes r as tyk-pump decodes it: a map keyed by the Go field names of Tyk's
// UptimeReportData, in its order.
func EncodeUptime(r *UptimeRecord) []byte {
	b := make([]byte, 0, 192+len(r.URL)+len(r.APIID)+len(r.OrgID))
	b = appendMapHeader(b, uptimeFields)
	b = appendStrField(b, "URL", r.URL)
	b = appendIntField(b, "RequestTime", r.RequestTime)
	b = appendIntField(b, "ResponseCode", int64(r.ResponseCode))
	b = appendBool(appendString(b, "TCPError"), r.TCPError)
	b = appendBool(appendString(b, "ServerError"), r.ServerError)
	b = appendIntField(b, "Day", int64(r.TimeStamp.Day()))
	b = appendIntField(b, "Month", int64(r.TimeStamp.Month()))
	b = appendIntField(b, "Year", int64(r.TimeStamp.Year()))
	b = appendIntField(b, "Hour", int64(r.TimeStamp.Hour()))
	b = appendIntField(b, "Minute", int64(r.TimeStamp.Minute()))
	b = appendTime(appendString(b, "TimeStamp"), r.TimeStamp)
	b = appendTime(appendString(b, "ExpireAt"), r.ExpireAt)
	b = appendStrField(b, "APIID", r.APIID)
	b = appendStrField(b, "OrgID", r.OrgID)
	return b
}
