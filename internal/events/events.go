// Package events runs Tyk's event handlers (an API's event_handlers): on the events the gateway
// fires (AuthFailure, KeyExpired, RatelimitExceeded, QuotaExceeded, BreakerTripped,
// BreakerReset, HostDown, HostUp), a webhook (eh_web_hook_handler) posts the event, rendered
// through a template, to a URL, and a log handler (eh_log_handler) writes it to the log.
//
// Firing never waits: a webhook is sent in the background, at most MaxInFlight at once
// gateway-wide (past that, events are dropped and logged), one attempt within Timeout, its
// redirects not followed. A webhook with event_timeout sends one body once per that many
// seconds at most (per gateway: Tyk keeps the mark in Redis, for the fleet).
package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Meta is what an event says, as Tyk's templates read it ({{.Meta.Message}}, ...).
type Meta struct {
	Message string
	// Path is the request's path, Origin the client's address, Key a name for the key (its
	// hash's first 12 hex digits: never the key), for request events.
	Path, Origin, Key string
	APIID, OrgID      string
	// Host is the upstream host of HostDown and HostUp, and Endpoint the breaker's endpoint.
	Host, Endpoint string
}

// Event is one event: Tyk's EventMessage ({{.Type}}, {{.Meta}}, {{.TimeStamp}}).
type Event struct {
	Type      string
	Meta      Meta
	TimeStamp string
}

// Handler runs on an API's event.
type Handler interface {
	Handle(ev Event)
}

// Handlers are an API's handlers by event type.
type Handlers map[string][]Handler

// Fire runs the handlers of ev.Type; nil Handlers run none.
func (h Handlers) Fire(typ string, meta Meta, now time.Time) {
	hs := h[typ]
	if len(hs) == 0 {
		return
	}
	ev := Event{Type: typ, Meta: meta, TimeStamp: now.UTC().Format(time.RFC3339)}
	for _, x := range hs {
		x.Handle(ev)
	}
}

// Log is eh_log_handler: the event, at info, with the handler's prefix.
type Log struct {
	Prefix string
	Logger *slog.Logger
}

// Handle implements Handler.
func (l *Log) Handle(ev Event) {
	l.Logger.Info("event", "prefix", l.Prefix, "event", ev.Type, "api_id", ev.Meta.APIID, "message", ev.Meta.Message,
		"path", ev.Meta.Path, "origin", ev.Meta.Origin, "key_hash", ev.Meta.Key, "host", ev.Meta.Host)
}

// DefaultTemplate is the body a webhook sends without a template of its own (Tyk's
// templates/default_webhook.json, its values escaped as JSON strings).
const DefaultTemplate = `{
	"event": {{json .Type}},
	"message": {{json .Meta.Message}},
	"path": {{json .Meta.Path}},
	"origin": {{json .Meta.Origin}},
	"key": {{json .Meta.Key}}
}`

// Funcs are the functions webhook templates may call besides text/template's: json writes a
// value as JSON (a string quoted and escaped).
var Funcs = template.FuncMap{"json": func(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}}

// ParseTemplate parses a webhook template.
func ParseTemplate(name, src string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	// Run once, as it will run, so that a template that cannot is refused at load.
	if _, err := render(t, Event{Type: "AuthFailure", TimeStamp: time.Unix(0, 0).UTC().Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	return t, nil
}

// MaxBody bounds what a template may write.
const MaxBody = 64 << 10

func render(t *template.Template, ev Event) ([]byte, error) {
	var b capped
	if err := t.Execute(&b, ev); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > MaxBody {
		return 0, fmt.Errorf("the webhook body is larger than %d bytes", MaxBody)
	}
	return c.Buffer.Write(p)
}

// WebHook is eh_web_hook_handler.
type WebHook struct {
	APIID, Method, URL string
	Header             http.Header
	Template           *template.Template
	// Every is event_timeout: the same body is sent at most once per Every; 0 sends each.
	Every  time.Duration
	Sender *Sender
}

// Handle implements Handler: renders the body and sends it in the background.
func (h *WebHook) Handle(ev Event) {
	body, err := render(h.Template, ev)
	if err != nil {
		h.Sender.log.Warn("webhook not sent: its template failed", "api_id", h.APIID, "event", ev.Type, "error", err)
		return
	}
	if h.Every > 0 && !h.Sender.first(h.Method+" "+h.URL, body, h.Every) {
		return
	}
	h.Sender.send(h, ev.Type, body)
}

// Sender sends every webhook of the gateway, in the background.
type Sender struct {
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}

	mu   sync.Mutex
	sent map[[32]byte]time.Time // body hash -> when it may be sent again
	// dropped and failed warn about webhooks dropped and failed at most once per
	// warnEvery each: a flood of events must not flood the log too.
	dropped, failed throttle
}

// warnEvery spaces the warnings about dropped and failed webhooks.
const warnEvery = 10 * time.Second

// throttle counts what it is told and says, at most once per warnEvery, how many since.
type throttle struct {
	mu sync.Mutex
	n  int
	at time.Time
}

// tick counts one; it returns the count to log, or 0 when it is not time to log.
func (t *throttle) tick(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if !t.at.IsZero() && now.Sub(t.at) < warnEvery {
		return 0
	}
	n := t.n
	t.n, t.at = 0, now
	return n
}

// Sender settings, as Tyk's: one attempt, a 10 s timeout.
const (
	Timeout     = 10 * time.Second
	MaxInFlight = 256
	// maxMarks bounds the event_timeout marks kept; past it the expired ones are dropped, and if
	// none is, all (a body may then be sent again early).
	maxMarks = 10000
)

// NewSender returns a sender; Close stops it. transport nil is http.DefaultTransport's.
func NewSender(log *slog.Logger, transport http.RoundTripper, now func() time.Time) *Sender {
	ctx, cancel := context.WithCancel(context.Background())
	if now == nil {
		now = time.Now
	}
	return &Sender{
		client: &http.Client{Timeout: Timeout, Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		log: log, now: now, ctx: ctx, cancel: cancel, slots: make(chan struct{}, MaxInFlight), sent: map[[32]byte]time.Time{},
	}
}

// Close abandons the webhooks being sent and waits for them.
func (s *Sender) Close() {
	s.cancel()
	s.wg.Wait()
}

// first reports whether body is sent to target now: not when it was within every.
func (s *Sender) first(target string, body []byte, every time.Duration) bool {
	h := sha256.New()
	h.Write([]byte(target))
	h.Write([]byte{0})
	h.Write(body)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.sent[sum]; ok && now.Before(until) {
		return false
	}
	if len(s.sent) >= maxMarks {
		for k, until := range s.sent {
			if !now.Before(until) {
				delete(s.sent, k)
			}
		}
		if len(s.sent) >= maxMarks {
			clear(s.sent)
		}
	}
	s.sent[sum] = now.Add(every)
	return true
}

func (s *Sender) send(h *WebHook, event string, body []byte) {
	select {
	case s.slots <- struct{}{}:
	default:
		if n := s.dropped.tick(s.now()); n > 0 {
			s.log.Warn("webhooks dropped: too many in flight (a receiver is slow or down, or events come too fast)", "dropped", n, "api_id", h.APIID, "event", event, "url", h.URL)
		}
		return
	}
	s.wg.Add(1)
	go func() {
		defer func() { <-s.slots; s.wg.Done() }()
		var rd io.Reader
		if h.Method != http.MethodGet && h.Method != http.MethodHead {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(s.ctx, h.Method, h.URL, rd)
		if err != nil {
			s.log.Warn("webhook not sent", "api_id", h.APIID, "event", event, "url", h.URL, "error", err)
			return
		}
		for k, v := range h.Header {
			req.Header[k] = v
		}
		if req.Header.Get("Content-Type") == "" && rd != nil && strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := s.client.Do(req)
		if err != nil {
			if n := s.failed.tick(s.now()); n > 0 && s.ctx.Err() == nil {
				s.log.Warn("webhooks failed", "failed", n, "api_id", h.APIID, "event", event, "url", h.URL, "error", err)
			}
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		_ = res.Body.Close()
		if res.StatusCode >= 300 {
			if n := s.failed.tick(s.now()); n > 0 {
				s.log.Warn("webhooks failed", "failed", n, "api_id", h.APIID, "event", event, "url", h.URL, "status", res.StatusCode)
			}
		}
	}()
}
