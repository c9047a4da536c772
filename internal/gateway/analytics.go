package gateway

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"runtime/debug"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/middleware/goplugin"
	"github.com/gatehouse/gatehouse/internal/plugin"
	"github.com/gatehouse/gatehouse/sdk"
)

// maxRecordedBody bounds how much of each body a detailed record keeps.
const maxRecordedBody = 64 << 10

// tracker records an API's requests for analytics: after the response is written, it builds
// the record, hands it to the API's analytics plugin, and queues it for the analytics file.
type tracker struct {
	g        *Gateway
	def      *apidef.APIDefinition
	hook     plugin.AnalyticsFunc
	hookInfo goplugin.Hook
	detailed bool
}

// tracker returns the API's tracker, or nil when its requests are not recorded.
func (g *Gateway) tracker(def *apidef.APIDefinition, hooks *apiHooks) *tracker {
	if g.analytics == nil || def.DoNotTrack {
		if hooks.analytics != nil {
			g.log.Warn("analytics_plugin has no effect: enable_analytics is off or the API sets do_not_track", "api_id", def.APIID)
		}
		return nil
	}
	if hooks.analyticsErr != nil {
		// The API serves, but its requests are not recorded: the plugin may have been there to
		// mask the records. The load failure is reported with the other hook failures.
		return nil
	}
	return &tracker{g: g, def: def, hook: hooks.analytics, hookInfo: hooks.analyticsHook, detailed: def.EnableDetailedRecording}
}

func (t *tracker) serve(w http.ResponseWriter, r *http.Request, c *chain.Context, next func(http.ResponseWriter, *http.Request, *chain.Context)) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, detailed: t.detailed}
	var rawReq []byte
	if t.detailed {
		rawReq, _ = httputil.DumpRequest(r, false)
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = readCloser{io.TeeReader(r.Body, &capped{buf: &rec.reqBody}), r.Body}
		}
	}
	next(rec, r, c)
	record := t.record(r, c, rec, start)
	if t.detailed {
		record.RawRequest = base64.StdEncoding.EncodeToString(append(rawReq, rec.reqBody.Bytes()...))
		record.RawResponse = base64.StdEncoding.EncodeToString(rec.rawResponse())
	}
	if t.hook != nil {
		hstart := time.Now()
		hs := t.hookInfo.StartSpan(c.State)
		err := callAnalytics(t.hook, record)
		if hs != nil {
			t.hookInfo.EndSpan(c.State, hs, 0, err)
		}
		if obs := t.hookInfo.Obs; obs != nil {
			obs.Call(time.Since(hstart), 0, err != nil)
		}
		if err != nil {
			// The plugin may have been masking the record: drop it rather than write it half done.
			t.g.log.Error("analytics plugin panicked; the record is dropped", "api_id", t.def.APIID, "symbol", t.hookInfo.Symbol,
				"file", t.hookInfo.File, "panic", err.Error())
			return
		}
	}
	t.g.analytics.Record(record)
}

func callAnalytics(fn plugin.AnalyticsFunc, rec *sdk.AnalyticsRecord) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v\n%s", r, debug.Stack())
		}
	}()
	fn(rec)
	return nil
}

func (t *tracker) record(r *http.Request, c *chain.Context, rec *recorder, start time.Time) *sdk.AnalyticsRecord {
	now := time.Now().UTC()
	total := time.Since(start)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	out := &sdk.AnalyticsRecord{
		Method:        r.Method,
		Host:          r.Host,
		Path:          c.FullPath,
		RawPath:       c.FullPath,
		ContentLength: r.ContentLength,
		UserAgent:     r.UserAgent(),
		Day:           now.Day(),
		Month:         now.Month(),
		Year:          now.Year(),
		Hour:          now.Hour(),
		ResponseCode:  status,
		APIKey:        c.KeyHash,
		TimeStamp:     now,
		APIVersion:    c.Version,
		APIName:       t.def.Name,
		APIID:         t.def.APIID,
		OrgID:         t.def.OrgID,
		RequestTime:   total.Milliseconds(),
		IPAddress:     ip,
		Latency:       sdk.Latency{Total: total.Milliseconds(), Upstream: c.UpstreamTime.Milliseconds()},
		Tags:          slices.Clone(t.def.Tags),
	}
	if s := c.State.Session; s != nil {
		out.Alias = s.Alias
		out.Tags = append(out.Tags, s.Tags...)
	}
	return out
}

// recorder notes the status of a response and, for detailed records, its headers and the start
// of its body.
type recorder struct {
	http.ResponseWriter
	status   int
	detailed bool
	header   http.Header
	body     bytes.Buffer
	reqBody  bytes.Buffer
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
		if rw.detailed {
			rw.header = rw.Header().Clone()
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.detailed {
		(&capped{buf: &rw.body}).Write(b)
	}
	return rw.ResponseWriter.Write(b)
}

// Flush passes flushes on, for streamed responses.
func (rw *recorder) Flush() {
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController (and the proxy's upgrade handling) reach the connection.
func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

func (rw *recorder) rawResponse() []byte {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if rw.header != nil {
		_ = rw.header.Write(&b)
	}
	b.WriteString("\r\n")
	b.Write(rw.body.Bytes())
	return b.Bytes()
}

// capped is a writer that keeps at most maxRecordedBody bytes and drops the rest.
type capped struct{ buf *bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxRecordedBody - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
		} else {
			c.buf.Write(p)
		}
	}
	return len(p), nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
