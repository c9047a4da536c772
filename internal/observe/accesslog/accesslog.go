// Package accesslog writes tyk.conf's access log (access_logs): one structured line per request
// through the gateway's log/slog logger, message "access", at info level, with the fields of
// access_logs.template (all of them when the template is empty).
//
// What a line never holds: a raw key (api_key is the key's SHA-256 hash, as analytics records
// carry it) and the query string (no field carries it, so a key passed as a query parameter,
// or any other secret there, cannot reach the log). Values from the client (path, host, user
// agent) go through slog's handlers, which quote or escape control characters: a CR, LF or ESC
// cannot start a line of its own or drive a terminal.
//
// The gateway builds one Logger at start (nil when access_logs.enabled is off, so a request
// pays one branch) and fills an Entry only for a line that is written.
package accesslog

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Field is one field of a line.
type Field uint8

// The fields, named as Tyk's access log names them (api_id is Gatehouse's addition).
const (
	APIID Field = iota
	APIKey
	ClientIP
	Host
	Method
	Path
	Protocol
	RemoteAddr
	UpstreamAddress
	UpstreamLatency
	LatencyTotal
	UserAgent
	Status
	TraceID
	numFields
)

var names = [numFields]string{
	APIID:           "api_id",
	APIKey:          "api_key",
	ClientIP:        "client_ip",
	Host:            "host",
	Method:          "method",
	Path:            "path",
	Protocol:        "protocol",
	RemoteAddr:      "remote_addr",
	UpstreamAddress: "upstream_address",
	UpstreamLatency: "upstream_latency",
	LatencyTotal:    "latency_total",
	UserAgent:       "user_agent",
	Status:          "status",
	TraceID:         "trace_id",
}

// String returns the field's name, its key in a line.
func (f Field) String() string {
	if f < numFields {
		return names[f]
	}
	return fmt.Sprintf("Field(%d)", f)
}

// Names returns the names of every field, in the order of a line with the default template.
func Names() []string { return append([]string(nil), names[:]...) }

// Parse returns the fields a template names, in its order, each once; an empty template means
// every field. A name it does not know is an error listing the valid names.
func Parse(template []string) ([]Field, error) {
	if len(template) == 0 {
		all := make([]Field, numFields)
		for i := range all {
			all[i] = Field(i)
		}
		return all, nil
	}
	var out []Field
	var seen [numFields]bool
	var unknown []string
	for _, name := range template {
		f, ok := lookup(strings.TrimSpace(name))
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", name))
		case !seen[f]:
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown field %s; the fields are %s (the query string and the raw key are never logged)",
			strings.Join(unknown, ", "), strings.Join(names[:], ", "))
	}
	return out, nil
}

func lookup(name string) (Field, bool) {
	for i, n := range names {
		if n == name {
			return Field(i), true
		}
	}
	return 0, false
}

// Logger writes access lines. A nil *Logger writes nothing.
type Logger struct {
	log    *slog.Logger
	fields []Field
	has    [numFields]bool
}

// New returns a Logger writing the fields of template to log.
func New(log *slog.Logger, template []string) (*Logger, error) {
	fields, err := Parse(template)
	if err != nil {
		return nil, err
	}
	l := &Logger{log: log, fields: fields}
	for _, f := range fields {
		l.has[f] = true
	}
	return l, nil
}

// Has reports whether lines carry f, so that the gateway works out a value only when it is
// logged (the client address behind trusted proxies).
func (l *Logger) Has(f Field) bool { return l != nil && l.has[f] }

// Enabled reports whether a line would be written now (the logger's level lets info through).
func (l *Logger) Enabled(ctx context.Context) bool {
	return l != nil && l.log.Enabled(ctx, slog.LevelInfo)
}

// Entry is what a line says of one request.
type Entry struct {
	APIID string
	// KeyHash is the SHA-256 hash of the key, "" for a request that no key authenticated.
	KeyHash string
	// ClientIP is the client's address (the peer, or what X-Forwarded-For says when the peer
	// is a trusted proxy); invalid when not known.
	ClientIP netip.Addr
	Host     string
	Method   string
	// Path is the request's path, never its query.
	Path       string
	Protocol   string
	RemoteAddr string
	// Upstream is the URL the request was sent to, nil when it did not reach the upstream;
	// only its scheme, host and path are logged.
	Upstream *url.URL
	// UpstreamTime is how long the upstream took; logged only with Upstream.
	UpstreamTime time.Duration
	Total        time.Duration
	UserAgent    string
	// Status is the status written, 0 when none was (the client went away).
	Status int
	// TraceID is the request's trace id, "" when tracing is off (the field is then left out).
	TraceID string
}

// Log writes the line of e, when the logger's level lets it through.
func (l *Logger) Log(ctx context.Context, e *Entry) {
	if !l.Enabled(ctx) {
		return
	}
	var buf [numFields]slog.Attr
	attrs := buf[:0]
	for _, f := range l.fields {
		k := names[f]
		switch f {
		case APIID:
			attrs = append(attrs, slog.String(k, e.APIID))
		case APIKey:
			if e.KeyHash != "" {
				attrs = append(attrs, slog.String(k, e.KeyHash))
			}
		case ClientIP:
			if e.ClientIP.IsValid() {
				attrs = append(attrs, slog.String(k, e.ClientIP.String()))
			}
		case Host:
			attrs = append(attrs, slog.String(k, e.Host))
		case Method:
			attrs = append(attrs, slog.String(k, e.Method))
		case Path:
			attrs = append(attrs, slog.String(k, e.Path))
		case Protocol:
			attrs = append(attrs, slog.String(k, e.Protocol))
		case RemoteAddr:
			attrs = append(attrs, slog.String(k, e.RemoteAddr))
		case UpstreamAddress:
			if e.Upstream != nil {
				attrs = append(attrs, slog.String(k, upstreamAddress(e.Upstream)))
			}
		case UpstreamLatency:
			if e.Upstream != nil {
				attrs = append(attrs, slog.Float64(k, millis(e.UpstreamTime)))
			}
		case LatencyTotal:
			attrs = append(attrs, slog.Float64(k, millis(e.Total)))
		case UserAgent:
			attrs = append(attrs, slog.String(k, e.UserAgent))
		case Status:
			attrs = append(attrs, slog.Int(k, e.Status))
		case TraceID:
			if e.TraceID != "" {
				attrs = append(attrs, slog.String(k, e.TraceID))
			}
		}
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "access", attrs...)
}

// upstreamAddress is scheme://host/path of u: never its query, user or fragment.
func upstreamAddress(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
