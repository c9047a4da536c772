package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/chain"
	"github.com/gatehouse/gatehouse/internal/erroroverride"
	"github.com/gatehouse/gatehouse/internal/errtmpl"
)

// Error overrides (Tyk's error_overrides): an API's rules, then tyk.conf's, rewrite the error
// answers of the gateway (overrideWriter, where every error answer is written) and of the
// upstream (overrideUpstream, on its responses of 400 and above).

// overrideWriter writes an API's error answers through its error overrides and tyk.conf's, then
// the error templates (next) for what no rule answers whole.
type overrideWriter struct {
	api, gw *erroroverride.Set
	next    chain.ErrorWriter
}

// errorWriterFor returns the error writer of an API with the rules of def (none when
// error_overrides_disabled), nil when neither it nor tyk.conf has any: the gateway's templates
// answer then.
func (g *Gateway) errorWriterFor(def *apidef.APIDefinition) (*overrideWriter, error) {
	var api *erroroverride.Set
	if !def.ErrorOverridesDisabled {
		var err error
		if api, err = erroroverride.Compile(def.ErrorOverrides, g.cfg.TemplatePath); err != nil {
			return nil, err
		}
	}
	switch {
	case api != nil:
		return &overrideWriter{api: api, gw: g.errOverrides, next: g.errs}, nil
	case g.errOverrides != nil:
		return g.sharedErrs, nil
	}
	return nil, nil
}

// WriteError answers an error of the gateway's own: a rule's whole answer, or its status,
// message and headers through the error templates, or the error as it is.
func (o *overrideWriter) WriteError(w http.ResponseWriter, r *http.Request, status int, message string) {
	e := erroroverride.Error{Status: status, Message: message}
	c := chain.FromRequest(r)
	if c != nil {
		e.Flag, c.ErrorFlag = c.ErrorFlag, ""
	}
	if e.Flag == "" {
		e.Flag = messageFlags[message]
	}
	if e.Flag == "BIV" {
		e.InvalidParams = strings.TrimPrefix(message, "request validation error: ")
	}
	if r != nil {
		e.XML = errtmpl.WantsXML(r)
	}
	a, ok := o.api.Gateway(e)
	if !ok {
		a, ok = o.gw.Gateway(e)
	}
	if ok && c != nil && a.Status != status {
		c.OverriddenStatus = status
	}
	switch {
	case !ok:
		o.next.WriteError(w, r, status, message)
	case a.Body != nil:
		erroroverride.Write(w, a)
	default:
		o.next.WriteError(&headerSetter{ResponseWriter: w, headers: a.Headers}, r, a.Status, a.Message)
	}
}

// messageFlags are the flags of the errors written with one of Tyk's messages and no flag of their
// own (the same refusal written in several places: a body over a limit, a key without access).
var messageFlags = map[string]string{
	chain.MsgAuthFieldMissing:   "AMF",
	chain.MsgAccessDisallowed:   "AKI",
	chain.MsgResourceDisallowed: "AKI",
	chain.MsgKeyExpired:         "TKE",
	chain.MsgKeyInactive:        "TKI",
	chain.MsgRateLimitExceeded:  "RLT",
	chain.MsgAPIRateLimit:       "RLT",
	chain.MsgQuotaExceeded:      "QEX",
	chain.MsgRequestTooLarge:    "BTL",
	chain.MsgAllHostsDown:       "NHU",
	chain.MsgUpstreamTimeout:    "URT",
}

// headerSetter sets an override's headers as the error templates write their answer.
type headerSetter struct {
	http.ResponseWriter
	headers []erroroverride.Header
}

func (h *headerSetter) WriteHeader(status int) {
	erroroverride.SetHeaders(h.Header(), h.headers)
	h.ResponseWriter.WriteHeader(status)
}

// overrideUpstream wraps an API's response hook: an upstream's response of 400 and above that a
// rule of the API's, or else of tyk.conf's, matches is rewritten before anything else sees it
// (the response plugins and transforms see what the client will get; the circuit breaker counts
// the upstream's status). Matching a pattern or a field reads the first 4 KiB of the body (not
// of an encoded one, nor of an event stream, which no pattern or field matches).
func overrideUpstream(o *overrideWriter, next func(*http.Response) error) func(*http.Response) error {
	return func(res *http.Response) error {
		if res.StatusCode >= 400 {
			o.overrideResponse(res)
		}
		if next != nil {
			return next(res)
		}
		return nil
	}
}

func (o *overrideWriter) overrideResponse(res *http.Response) {
	api, gw := o.api, o.gw
	wantsAPI, bodyAPI := api.Wants(res.StatusCode)
	wantsGW, bodyGW := gw.Wants(res.StatusCode)
	if !wantsAPI && !wantsGW {
		return
	}
	var head []byte
	stream := strings.HasPrefix(strings.ToLower(res.Header.Get("Content-Type")), "text/event-stream")
	if enc := res.Header.Get("Content-Encoding"); (bodyAPI || bodyGW) && (enc == "" || strings.EqualFold(enc, "identity")) && !stream && res.Body != nil {
		var err error
		if head, res.Body, err = erroroverride.ReadBody(res.Body); err != nil {
			head = nil // what could be read is passed on; no pattern or field matches
		}
	}
	xml := res.Request != nil && errtmpl.WantsXML(res.Request)
	a, ok := api.Upstream(res.StatusCode, head, xml)
	if !ok {
		a, ok = gw.Upstream(res.StatusCode, head, xml)
	}
	if !ok {
		return
	}
	if c := chain.FromRequest(res.Request); c != nil && a.Status != res.StatusCode {
		c.OverriddenStatus = res.StatusCode
	}
	bodyless := a.Status == http.StatusNoContent || a.Status == http.StatusNotModified
	if bodyless {
		// No body may go with the status: the upstream's is dropped.
		a.Body = []byte{}
	} else if a.Body == nil && a.Message != "" && o.next != nil {
		// A rule with a message and no body of its own: the error templates' answer with it,
		// in place of the upstream's body, which the rule is there to hide.
		rec := &answerRecorder{header: http.Header{}}
		o.next.WriteError(rec, res.Request, a.Status, a.Message)
		a.Body, a.ContentType = rec.body.Bytes(), rec.header.Get("Content-Type")
	}
	res.StatusCode, res.Status = a.Status, strconv.Itoa(a.Status)+" "+http.StatusText(a.Status)
	if a.Body != nil {
		if res.Body != nil {
			res.Body.Close()
		}
		res.Body = io.NopCloser(bytes.NewReader(a.Body))
		res.ContentLength = int64(len(a.Body))
		res.Trailer = nil
		h := res.Header
		// What described the upstream's body.
		for _, k := range []string{"Content-Encoding", "Content-Md5", "Content-Range", "Accept-Ranges", "Etag", "Last-Modified",
			"Content-Disposition", "Content-Language", "Content-Location", "Content-Digest", "Repr-Digest", "Digest", "Trailer"} {
			delete(h, k)
		}
		if bodyless {
			res.Body = http.NoBody
			delete(h, "Content-Type")
			delete(h, "Content-Length")
		} else {
			h.Set("Content-Type", a.ContentType)
			h.Set("Content-Length", strconv.Itoa(len(a.Body)))
			h.Set("X-Content-Type-Options", "nosniff")
		}
	}
	erroroverride.SetHeaders(res.Header, a.Headers)
}

// answerRecorder keeps the error templates' answer to put it in an upstream's response.
type answerRecorder struct {
	header http.Header
	body   bytes.Buffer
}

func (r *answerRecorder) Header() http.Header         { return r.header }
func (r *answerRecorder) WriteHeader(int)             {}
func (r *answerRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }
