// Package events runs Tyk's event handlers (an API's event_handlers): on the events the gateway
// fires (AuthFailure, KeyExpired, RatelimitExceeded, QuotaExceeded, BreakerTripped,
// BreakerReset, HostDown, HostUp, OrgQuotaExceeded, ...; apidef.Events), and on the gateway's own
// (apidef.SystemEvents), a webhook (eh_web_hook_handler) posts the event, rendered
// through a template, to a URL, and a log handler (eh_log_handler) writes it to the log.
//
// Firing never waits: a webhook is rendered and sent in the background, at most PerHandler of
// one handler and MaxInFlight of the gateway at once (past that, events are dropped and logged,
// at most once per 10 s), one attempt within Timeout, its redirects not followed. A webhook
// with event_timeout sends one body once per that many seconds at most: per fleet when the
// marks are shared (Sender.ShareMarks, as Tyk keeps them in Redis), else per gateway.
package events

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/apidef"
	"github.com/gatehouse/gatehouse/internal/logevery"
	"github.com/gatehouse/gatehouse/internal/regfile"
	"github.com/gatehouse/gatehouse/internal/storage"
)

// Meta is what an event says, as Tyk's templates read it ({{.Meta.Message}}, ...).
type Meta struct {
	Message string
	// Path is the request's path (a breaker's for breaker events), Origin the client's
	// address, Key a name for the key (its hash's first 12 hex digits: never the key).
	Path, Origin, Key string
	APIID, OrgID      string
	// Host is the upstream host of HostDown and HostUp, Endpoint the breaker's endpoint.
	Host, Endpoint string
	// OriginatingRequest is Tyk's field for the whole request, always empty here: it would
	// carry the client's credentials.
	OriginatingRequest string
	// HostInfo is Tyk's field of host events, CircuitEvent of breaker events (0 tripped, 1
	// reset).
	HostInfo     HostInfo
	CircuitEvent int
	// Reason is why VersionFailure refused the request: Tyk's message for it.
	Reason string
	// Org is the key's org of the token events (Tyk's EventTokenMeta.Org), as OrgID.
	Org string
	// TriggerLimit is the quota percentage a TriggerExceeded passed, UsagePercentage the
	// quota's use then (whole percents, as Tyk's).
	TriggerLimit, UsagePercentage int64
}

// HostInfo is what a host event tells of the check that found the host down or up.
type HostInfo struct {
	CheckURL, Host string
}

// Event is one event: Tyk's EventMessage ({{.Type}}, {{.Meta}}, {{.TimeStamp}}).
type Event struct {
	Type      string
	Meta      Meta
	TimeStamp string
}

// Handler runs on an API's event. Handle must not block: it is called on the request's
// goroutine, and under the locks of breakers and the uptime checker.
type Handler interface {
	Handle(ev Event)
}

// Handlers are an API's handlers by event type.
type Handlers map[string][]Handler

// Fire runs the handlers of typ; nil Handlers run none.
func (h Handlers) Fire(typ string, meta Meta, now time.Time) {
	hs := h[typ]
	if len(hs) == 0 {
		return
	}
	ev := New(typ, meta, now)
	for _, x := range hs {
		x.Handle(ev)
	}
}

// New returns the event typ of meta at now, each of its texts cut to MaxValue bytes.
func New(typ string, meta Meta, now time.Time) Event {
	for _, v := range []*string{&meta.Message, &meta.Path, &meta.Origin, &meta.Key, &meta.Host, &meta.Endpoint, &meta.HostInfo.CheckURL, &meta.HostInfo.Host, &meta.OrgID, &meta.APIID, &meta.Org} {
		*v = cut(*v)
	}
	return Event{Type: typ, Meta: meta, TimeStamp: now.UTC().Format(time.RFC3339)}
}

// cut returns s cut to MaxValue bytes, at a character's start.
func cut(s string) string {
	if len(s) <= MaxValue {
		return s
	}
	i := MaxValue
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// Handles reports whether any of typs has a handler.
func (h Handlers) Handles(typs ...string) bool {
	for _, t := range typs {
		if len(h[t]) > 0 {
			return true
		}
	}
	return false
}

// FilesChanged reports whether a webhook's template file now holds other content than was
// read (or, missing then, exists now): the API must be compiled again to send it.
func (h Handlers) FilesChanged() bool {
	for _, hs := range h {
		for _, x := range hs {
			if wh, ok := x.(*WebHook); ok && wh.FileChanged() {
				return true
			}
		}
	}
	return false
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

// DefaultTemplate is the body a webhook sends without a template of its own: Tyk's
// templates/default_webhook.json.
const DefaultTemplate = `{
	"event": "{{.Type}}",
	"message": "{{.Meta.Message}}",
	"path": "{{.Meta.Path}}",
	"origin": "{{.Meta.Origin}}",
	"key": "{{.Meta.Key}}"
}`

// MonitorTemplate is the body of the quota monitor's webhook without a template of its own:
// Tyk's templates/monitor_template.json.
const MonitorTemplate = `{
	"event": "{{.Type}}",
	"message": "{{.Meta.Message}}",
	"org": "{{.Meta.OrgID}}",
	"key": "{{.Meta.Key}}",
	"trigger_limit": "{{.Meta.TriggerLimit}}"
}`

// ParseTemplate parses a webhook template. As Tyk's, it is an html/template: every value is
// escaped (a quote becomes &#34;), so that what a client sends (the path) cannot change the
// body's structure. It may use the event's fields, if, with and comparisons, and nothing else
// (no range, template calls, variables or functions that build values: see straight): so a
// body renders in time and memory bounded by the template's size and the event's, and a
// template cannot hold a reload, a slot or the shutdown, or take the gateway's memory.
func ParseTemplate(name, src string) (*template.Template, error) {
	if len(src) > MaxTemplate {
		return nil, fmt.Errorf("the template is larger than %d bytes", MaxTemplate)
	}
	t, err := template.New(name).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, err
	}
	if err := apidef.StraightTemplate(t.Tree, len(t.Templates()), "a webhook template"); err != nil {
		return nil, err
	}
	// Run once, as it will run, so that a template that cannot is known at load.
	if _, err := render(t, Event{Type: "AuthFailure", TimeStamp: time.Unix(0, 0).UTC().Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	return t, nil
}

// MaxBody bounds what a template may write.
const MaxBody = 64 << 10

// MaxTemplate bounds a template's source. html/template's escaper takes time that grows with
// the square of some templates' size (a <script> full of quotes: seconds at 64 KiB), and every
// action may work on a whole event value: 8 KiB keeps a parse within tens of milliseconds.
// Tyk's default template is under 200 bytes.
const MaxTemplate = 8 << 10

// MaxValue bounds each text of an event (its path, above all, which a client chooses): past
// it, the text is cut, so that a template's actions cannot each work on a megabyte.
const MaxValue = 1 << 10

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

// PerHandler bounds the webhooks of one handler in flight, so that one API's flood of events
// cannot take every slot of the gateway's.
const PerHandler = 16

// WebHook is eh_web_hook_handler. Make it with NewWebHook.
type WebHook struct {
	APIID, Method, URL string
	Header             http.Header
	Template           *template.Template
	// Every is event_timeout: the same body is sent at most once per Every; 0 sends each.
	Every  time.Duration
	Sender *Sender
	// Root and File name the template file read (in Root, as os.OpenInRoot opens it) and Sum
	// its content's SHA-256; File is "" for the built-in template. A file missing when read
	// has a zero Sum.
	Root, File string
	Sum        [32]byte

	slots chan struct{}
	marks *marks
	// seen remembers the ids HandleOnce let through.
	seen *onceMarks
	// dropped and failed count this handler's webhooks dropped and failed (templates that fail
	// included), told at most once per warnEvery each: a flood of events must not flood the log.
	dropped, failed *logevery.Gate
	// target is the URL as logged: its scheme and host only, since a webhook URL's path or
	// query often holds its secret.
	target string
}

// NewWebHook returns a webhook ready to send; its fields are set by the caller first.
func NewWebHook(h WebHook) *WebHook {
	h.slots = make(chan struct{}, PerHandler)
	h.marks = &marks{m: map[[32]byte]time.Time{}}
	h.seen = &onceMarks{m: map[[32]byte]time.Time{}}
	h.dropped, h.failed = &logevery.Gate{Every: warnEvery}, &logevery.Gate{Every: warnEvery}
	h.target = "(not a URL)"
	if u, err := url.Parse(h.URL); err == nil {
		h.target = u.Scheme + "://" + u.Host
	}
	return &h
}

// ReadTemplateFile reads a template file in root, at most MaxTemplate bytes; what is not a
// regular file (a named pipe, whose read would block the reload, a device) is refused.
func ReadTemplateFile(root, name string) ([]byte, error) {
	return regfile.ReadInRoot(root, name, MaxTemplate)
}

// FileChanged reports whether the template file now holds other content than was read (or,
// missing then, exists now).
func (h *WebHook) FileChanged() bool {
	if h.File == "" {
		return false
	}
	b, err := ReadTemplateFile(h.Root, h.File)
	if err != nil {
		return h.Sum != [32]byte{}
	}
	return sha256.Sum256(b) != h.Sum
}

// Handle implements Handler: it takes a slot of the handler's and of the sender's without
// waiting (the event is dropped when there is none), and renders, dedupes and sends the body in
// the background.
func (h *WebHook) Handle(ev Event) {
	if !h.Sender.acquire(h) {
		return
	}
	go h.deliver(ev)
}

// deliver renders, dedupes and sends ev, holding the slots Handle took.
func (h *WebHook) deliver(ev Event) {
	defer h.Sender.release(h)
	body, err := render(h.Template, ev)
	if err != nil {
		if held, ok := h.failed.Allow(h.Sender.now()); ok {
			h.Sender.log.Warn("webhooks not sent: their template failed", "failed", held+1, "api_id", h.APIID, "event", ev.Type, "error", err)
		}
		return
	}
	if h.Every > 0 && !h.first(body) {
		return
	}
	h.Sender.send(h, ev.Type, body)
}

// OnceWithout is how long HandleOnce remembers an id on a webhook without event_timeout.
const OnceWithout = 24 * time.Hour

// HandleOnce is Handle for an event that repeats while a condition holds (a quota past a
// trigger, on every request): an event with an id this gateway sent within event_timeout (a
// day without one) is dropped at once, before any work, the event itself never made. An event dropped for want of a slot
// is not remembered: the next one tries again.
func (h *WebHook) HandleOnce(id string, event func() Event) {
	window := h.Every
	if window <= 0 {
		window = OnceWithout
	}
	sum := sha256.Sum256([]byte(id))
	now := h.Sender.now()
	if h.seen.holds(sum, now) || !h.Sender.acquire(h) {
		return
	}
	// Marked once a slot is taken, so that an event dropped is not remembered (and marks a
	// flood cannot use are not evicted for it).
	if !h.seen.claim(sum, now, window) {
		h.Sender.release(h)
		return
	}
	go h.deliver(event())
}

// SharedMarkPrefix begins the names of the marks webhooks leave in a store shared by a fleet
// (ShareMarks), followed by the hex SHA-256 of the webhook's method, URL and body.
const SharedMarkPrefix = "gatehouse-webhook-sent:"

// first reports whether body is sent now under event_timeout: with marks shared by a fleet,
// whether no gateway sent it within h.Every; else (or while the store cannot say) whether this
// gateway did not.
func (h *WebHook) first(body []byte) bool {
	s := h.Sender
	bodySum := sha256.Sum256(body) // once: this gateway's marks are by body
	if s.shared != nil {
		// What this gateway sent within the timeout needs no round trip: the fleet's mark is
		// there too.
		if h.marks.holds(bodySum, s.now()) {
			return false
		}
		sum := sha256.New()
		for _, part := range [][]byte{[]byte(h.Method), {0}, []byte(h.URL), {0}, body} {
			sum.Write(part)
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.sharedTimeout)
		err := s.shared.Create(ctx, SharedMarkPrefix+hex.EncodeToString(sum.Sum(nil)), []byte("1"), h.Every)
		cancel()
		switch {
		case err == nil:
			h.marks.first(bodySum, s.now(), h.Every)
			return true
		case errors.Is(err, storage.ErrExists):
			return false
		}
		if held, ok := s.unshared.Allow(s.now()); ok {
			s.log.Warn("webhooks' event_timeout kept on this gateway alone: the shared store did not answer", "times", held+1, "error", err)
		}
	}
	return h.marks.first(bodySum, s.now(), h.Every)
}

// Creator writes a value only where none is (storage.KV.Create).
type Creator interface {
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// ShareMarks keeps webhooks' event_timeout marks in a store the fleet shares, as Tyk keeps them
// in Redis: a body is sent once per event_timeout by the fleet, not by each gateway. A mark
// the store does not write within timeout falls back to this gateway's own. Call it before
// the first event.
func (s *Sender) ShareMarks(c Creator, timeout time.Duration) {
	s.shared, s.sharedTimeout = c, timeout
}

// marks remember the bodies a webhook sent, for its event_timeout: at most maxMarks, the
// expired dropped when it is full; while still full, new bodies are sent unremembered (never
// a wipe of what is remembered).
type marks struct {
	mu        sync.Mutex
	m         map[[32]byte]time.Time // body hash -> when it may be sent again
	fullUntil time.Time              // no pruning before: the last found nothing to drop
}

const maxMarks = 1000

// holds reports whether the body of SHA-256 sum was sent within its timeout, as of now.
func (k *marks) holds(sum [32]byte, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	until, ok := k.m[sum]
	return ok && now.Before(until)
}

// first reports whether the body of SHA-256 sum is sent now: not when it was within every.
func (k *marks) first(sum [32]byte, now time.Time, every time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if until, ok := k.m[sum]; ok && now.Before(until) {
		return false
	}
	if len(k.m) >= maxMarks {
		if now.Before(k.fullUntil) {
			return true
		}
		for s, until := range k.m {
			if !now.Before(until) {
				delete(k.m, s)
			}
		}
		if len(k.m) >= maxMarks {
			k.fullUntil = now.Add(time.Second)
			return true
		}
	}
	k.m[sum] = now.Add(every)
	return true
}

// onceMarks remember the ids HandleOnce sent, until each one's time is up: at most maxOnce.
// A webhook marks every id for the same time, so the order they were marked in is the order
// they expire in: when full of live ones, the oldest is forgotten for the new one (and may be
// told of once more), so that memory stays bounded and a new id is never sent unremembered.
type onceMarks struct {
	mu    sync.Mutex
	m     map[[32]byte]time.Time // id hash -> when it may be sent again
	order []onceMark             // the marks in the order they were made, from head
	head  int
}

type onceMark struct {
	sum   [32]byte
	until time.Time
}

const maxOnce = 100_000

// holds reports whether the id sum was sent and its time is not up.
func (k *onceMarks) holds(sum [32]byte, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	until, ok := k.m[sum]
	return ok && now.Before(until)
}

// claim reports whether the id sum may be sent now, and marks it until now+every if so.
func (k *onceMarks) claim(sum [32]byte, now time.Time, every time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if until, ok := k.m[sum]; ok && now.Before(until) {
		return false
	}
	// From the oldest: marks whose time is up go, and while full the oldest live one; a mark
	// an id was given again since is passed over.
	for k.head < len(k.order) {
		o := k.order[k.head]
		cur, ok := k.m[o.sum]
		current := ok && cur.Equal(o.until)
		if current && now.Before(o.until) && len(k.m) < maxOnce {
			break
		}
		if current {
			delete(k.m, o.sum)
		}
		k.order[k.head] = onceMark{}
		k.head++
	}
	if k.head > 1024 && k.head > len(k.order)/2 {
		k.order = append(k.order[:0], k.order[k.head:]...)
		k.head = 0
	}
	until := now.Add(every)
	k.m[sum] = until
	k.order = append(k.order, onceMark{sum, until})
	return true
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

	mu     sync.Mutex
	closed bool

	// shared keeps event_timeout marks for the fleet (ShareMarks); unshared counts the marks
	// it could not keep.
	shared        Creator
	sharedTimeout time.Duration
	unshared      *logevery.Gate
}

// warnEvery spaces the warnings about dropped and failed webhooks.
const warnEvery = 10 * time.Second

// Sender settings: one attempt, Tyk's 30 s timeout, at most MaxInFlight webhooks at once.
const (
	Timeout     = 30 * time.Second
	MaxInFlight = 256
	// UserAgent is the User-Agent of webhooks (Tyk's is Tyk-Hookshot).
	UserAgent = "Gatehouse-Hookshot"
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
		log: log, now: now, ctx: ctx, cancel: cancel, slots: make(chan struct{}, MaxInFlight),
		unshared: &logevery.Gate{Every: warnEvery},
	}
}

// Close ends the webhooks being sent and waits for them; events fired after it are dropped.
func (s *Sender) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// acquire takes a slot of h's and of the gateway's, without waiting; false drops the event.
func (s *Sender) acquire(h *WebHook) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case h.slots <- struct{}{}:
	default:
		s.drop(h)
		return false
	}
	select {
	case s.slots <- struct{}{}:
	default:
		<-h.slots
		s.drop(h)
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Sender) release(h *WebHook) {
	<-s.slots
	<-h.slots
	s.wg.Done()
}

func (s *Sender) drop(h *WebHook) {
	if held, ok := h.dropped.Allow(s.now()); ok {
		s.log.Warn("webhooks dropped: too many in flight (a receiver is slow or down, or events come too fast)", "dropped", held+1, "api_id", h.APIID, "target", h.target)
	}
}

// send sends body, on the goroutine Handle started.
func (s *Sender) send(h *WebHook, event string, body []byte) {
	req, err := http.NewRequestWithContext(s.ctx, h.Method, h.URL, bytes.NewReader(body))
	if err != nil {
		if held, ok := h.failed.Allow(s.now()); ok {
			s.log.Warn("webhooks not sent", "failed", held+1, "api_id", h.APIID, "event", event, "target", h.target, "error", redact(err, h.URL))
		}
		return
	}
	req.Header.Set("User-Agent", UserAgent)
	for k, v := range h.Header {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" && (h.File == "" || strings.HasSuffix(h.File, ".json")) {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		if s.ctx.Err() == nil {
			if held, ok := h.failed.Allow(s.now()); ok {
				s.log.Warn("webhooks failed", "failed", held+1, "api_id", h.APIID, "event", event, "target", h.target, "error", redact(err, h.URL))
			}
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	if res.StatusCode >= 300 {
		if held, ok := h.failed.Allow(s.now()); ok {
			s.log.Warn("webhooks failed", "failed", held+1, "api_id", h.APIID, "event", event, "target", h.target, "status", res.StatusCode)
		}
	}
}

// redact takes the webhook's URL out of a client error (a *url.Error names it whole).
func redact(err error, full string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), full, "(the webhook URL)")
}
