package events

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/storage/memory"
)

// TestDefaultTemplate: the built-in body is Tyk's, an html/template: it is JSON for what the
// gateway fires, and a quote a client put in the path is escaped, so it cannot change the
// body's structure.
func TestDefaultTemplate(t *testing.T) {
	tmpl, err := ParseTemplate("default", DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	b, err := render(tmpl, Event{Type: "AuthFailure", Meta: Meta{Message: "Key not authorised", Path: `/x", "event": "forged`, Origin: "127.0.0.1", Key: "0123456789ab"}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	want := map[string]string{"event": "AuthFailure", "message": "Key not authorised", "path": `/x&#34;, &#34;event&#34;: &#34;forged`,
		"origin": "127.0.0.1", "key": "0123456789ab"}
	if len(got) != len(want) {
		t.Errorf("rendered %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// TestParseTemplate: a template that does not parse, fails when run, writes too much, loops,
// calls templates, uses variables or a function that builds values is refused when it is read;
// Tyk's templates, with fields, if, with and comparisons, are not.
func TestParseTemplate(t *testing.T) {
	for name, src := range map[string]string{
		"does not parse":               `{{.Type`,
		"fails when run":               `{{.Meta.Nope}}`,
		"too large":                    strings.Repeat("x", MaxTemplate+1),
		"loops":                        `{{range 3}}x{{end}}`,
		"loops on real data only":      `{{if .Meta.Path}}{{range 3}}x{{end}}{{end}}`,
		"loops in an else":             `{{with .Meta.Path}}x{{else}}{{range 2}}{{end}}{{end}}`,
		"defines":                      `{{define "a"}}x{{end}}y`,
		"calls a template":             `{{template "a"}}`,
		"blocks":                       `{{block "b" .}}x{{end}}`,
		"variables doubling":           `{{$x := "aaaa"}}{{$x = print $x $x}}{{$x = print $x $x}}`,
		"a variable behind an if":      `{{if .Meta.Path}}{{$x := .Meta.Path}}{{end}}`,
		"nested js":                    `{{len (js (js (js "\\")))}}`,
		"a wide printf":                `{{if .Meta.Path}}{{len (printf "%01000000d" 0)}}{{end}}`,
		"index":                        `{{index .Meta.Path 1}}`,
		"call in a with":               `{{with .Meta}}{{html .Path}}{{end}}`,
		"a function in a chain":        `{{(printf "%s" .Meta).Path}}`,
		"a function in an if":          `{{if printf "%s" .Type}}x{{end}}`,
		"a function in a chain's pipe": `{{(or .Meta (printf "%01000000d" 0)).Path}}`,
	} {
		if _, err := ParseTemplate(name, src); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, src := range []string{
		DefaultTemplate,
		`{"event": "{{.Type}}", "at": "{{.TimeStamp}}"{{if eq .Type "HostDown"}}, "host": "{{.Meta.HostInfo.Host}}"{{end}}}`,
		`{{with .Meta}}{{.Message}} {{.Path}}{{else}}none{{end}} {{if and (ne .Meta.Key "") (gt (len .Meta.Path) 1)}}{{$.Type}}{{end}}{{/* a comment */}}`,
	} {
		if _, err := ParseTemplate("tyk", src); err != nil {
			t.Errorf("refused %q: %v", src, err)
		}
	}
}

// TestFireCutsValues: an event's texts reach the template cut to MaxValue bytes, at a
// character's start, so that no action works on a client's megabyte of path; and a body is
// cut off at MaxBody.
func TestFireCutsValues(t *testing.T) {
	got := make(chan Event, 1)
	h := Handlers{"AuthFailure": {handlerFunc(func(ev Event) { got <- ev })}}
	h.Fire("AuthFailure", Meta{Path: "/" + strings.Repeat("é", MaxValue), Message: "short"}, time.Unix(0, 0))
	ev := <-got
	if len(ev.Meta.Path) > MaxValue || len(ev.Meta.Path) < MaxValue-1 || !utf8.ValidString(ev.Meta.Path) || ev.Meta.Message != "short" {
		t.Errorf("path of %d bytes (valid UTF-8: %v), message %q", len(ev.Meta.Path), utf8.ValidString(ev.Meta.Path), ev.Meta.Message)
	}
	tmpl, err := ParseTemplate("many", strings.Repeat("{{.Meta.Path}}", 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render(tmpl, ev); err == nil {
		t.Errorf("a body of 100 paths of %d bytes was rendered, past MaxBody", len(ev.Meta.Path))
	}
}

type handlerFunc func(Event)

func (f handlerFunc) Handle(ev Event) { f(ev) }

// counting is a webhook receiver that counts what reaches it.
func counting(t *testing.T) (*httptest.Server, *atomic.Int32) {
	n := new(atomic.Int32)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
	}))
	t.Cleanup(recv.Close)
	return recv, n
}

// TestEventTimeout: a webhook with event_timeout sends the same body once within it, another
// body at once, and the same body again once it has passed; the marks kept are bounded.
func TestEventTimeout(t *testing.T) {
	recv, n := counting(t)
	var now atomic.Int64
	now.Store(1000)
	s := NewSender(slog.New(slog.DiscardHandler), nil, func() time.Time { return time.Unix(now.Load(), 0) })
	defer s.Close()
	tmpl, _ := ParseTemplate("t", `{{.Meta.Path}}`)
	h := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: recv.URL, Template: tmpl, Every: time.Minute, Sender: s})
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	waitFor(t, n, 1)
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	h.Handle(Event{Meta: Meta{Path: "/b"}})
	waitFor(t, n, 2)
	now.Add(60)
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	waitFor(t, n, 3)
}

// TestEventTimeoutShared: with marks shared (as through Redis for a fleet), a body one gateway
// sent within event_timeout is not sent by another; another body, or another webhook URL, is;
// once the timeout has passed the body is sent again. While the shared store fails, each
// gateway keeps its own marks, and the body is still sent once per gateway, never per event.
func TestEventTimeoutShared(t *testing.T) {
	recv, n := counting(t)
	var now atomic.Int64
	now.Store(1000)
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	store := memory.New(memory.WithClock(clock))
	defer store.Close()
	counted := &countingCreator{Creator: store}
	tmpl, _ := ParseTemplate("t", `{{.Meta.Path}}`)
	var hooks []*WebHook
	for range 2 { // two gateways
		s := NewSender(slog.New(slog.DiscardHandler), nil, clock)
		defer s.Close()
		s.ShareMarks(counted, time.Second)
		hooks = append(hooks, NewWebHook(WebHook{APIID: "a", Method: "POST", URL: recv.URL, Template: tmpl, Every: time.Minute, Sender: s}))
	}
	a, b := hooks[0], hooks[1]
	a.Handle(Event{Meta: Meta{Path: "/a"}})
	waitFor(t, n, 1)
	// What this gateway sent within the timeout is dropped without asking the store.
	for range 5 {
		a.Handle(Event{Meta: Meta{Path: "/a"}})
	}
	waitFor(t, n, 1)
	if c := counted.n.Load(); c != 1 {
		t.Errorf("%d calls to the shared store for one body sent by one gateway, want 1", c)
	}
	b.Handle(Event{Meta: Meta{Path: "/a"}})
	b.Handle(Event{Meta: Meta{Path: "/b"}})
	waitFor(t, n, 2)
	other := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: recv.URL + "/other", Template: tmpl, Every: time.Minute, Sender: b.Sender})
	other.Handle(Event{Meta: Meta{Path: "/a"}})
	waitFor(t, n, 3)
	now.Add(60)
	b.Handle(Event{Meta: Meta{Path: "/a"}})
	waitFor(t, n, 4)

	// The shared store fails: each gateway's own marks hold.
	store.Close()
	now.Add(60)
	for range 3 {
		a.Handle(Event{Meta: Meta{Path: "/c"}})
		b.Handle(Event{Meta: Meta{Path: "/c"}})
	}
	waitFor(t, n, 6)
}

type countingCreator struct {
	Creator
	n atomic.Int32
}

func (c *countingCreator) Create(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.n.Add(1)
	return c.Creator.Create(ctx, key, value, ttl)
}

// TestMarksBounded: event_timeout's marks stay at maxMarks; while full of live marks, new
// bodies are sent (never a wipe that would let the remembered ones through again); once marks
// expire, they make room.
func TestMarksBounded(t *testing.T) {
	k := &marks{m: map[[32]byte]time.Time{}}
	now := time.Unix(1000, 0)
	body := func(i int) [32]byte { return sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)}) }
	for i := range maxMarks + 10 {
		if !k.first(body(i), now, time.Hour) {
			t.Fatalf("body %d: not sent the first time", i)
		}
	}
	if len(k.m) != maxMarks {
		t.Errorf("%d marks kept, want %d", len(k.m), maxMarks)
	}
	for i := range maxMarks {
		if k.first(body(i), now.Add(time.Minute), time.Hour) {
			t.Fatalf("body %d: sent again within event_timeout while the marks were full", i)
		}
	}
	later := now.Add(2 * time.Hour)
	if !k.first(body(0), later, time.Hour) || k.first(body(0), later, time.Hour) {
		t.Error("after the marks expired, a body is not sent once and then held")
	}
	if len(k.m) != 1 {
		t.Errorf("%d marks after the expired were dropped, want 1", len(k.m))
	}
}

// TestSenderBounded: past MaxInFlight webhooks waiting on a slow receiver, more are dropped
// rather than piling up; Close ends those in flight.
func TestSenderBounded(t *testing.T) {
	var arrived atomic.Int32
	block := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer recv.Close()
	defer close(block)
	s := NewSender(slog.New(slog.DiscardHandler), nil, nil)
	tmpl, _ := ParseTemplate("t", `x`)
	// One handler gets PerHandler slots; many handlers together, MaxInFlight.
	one := NewWebHook(WebHook{APIID: "one", Method: "POST", URL: recv.URL, Template: tmpl, Sender: s})
	for range PerHandler + 10 {
		one.Handle(Event{})
	}
	waitFor(t, &arrived, PerHandler)
	var hs []*WebHook
	for i := range MaxInFlight / PerHandler {
		hs = append(hs, NewWebHook(WebHook{APIID: fmt.Sprint(i), Method: "POST", URL: recv.URL, Template: tmpl, Sender: s}))
	}
	for _, h := range hs {
		for range PerHandler {
			h.Handle(Event{})
		}
	}
	waitFor(t, &arrived, MaxInFlight)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the webhooks in flight")
	}
}

// TestWebHookLogs: a template that fails on every event, or a receiver that fails every
// webhook, is told of once per warnEvery, not once per event; the log never holds the
// webhook URL's path, query or user, where such URLs keep their secret.
func TestWebHookLogs(t *testing.T) {
	var n atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer recv.Close()
	var logs strings.Builder
	var mu sync.Mutex
	s := NewSender(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)), nil, nil)
	secretURL := strings.Replace(recv.URL, "http://", "http://user:pa55@", 1) + "/hooks/T0KEN?sig=S1G"
	failing, _ := ParseTemplate("t", `{{if .Meta.Path}}{{lt .Meta.Path 1}}{{end}}`)
	if failing == nil {
		t.Fatal("the failing template was refused at load")
	}
	ok, _ := ParseTemplate("t", `x`)
	bad := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: secretURL, Template: failing, Sender: s})
	good := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: secretURL, Template: ok, Sender: s})
	for range 50 {
		bad.Handle(Event{Meta: Meta{Path: "/x"}})
	}
	for range 10 {
		want := n.Load() + 1 // read before: the webhook may arrive before Handle returns
		good.Handle(Event{})
		waitFor(t, &n, want)
	}
	// A receiver that cannot be reached: the client's error names the URL, the log must not.
	dead := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: "http://user:pa55@127.0.0.1:1/hooks/T0KEN?sig=S1G", Template: ok, Sender: s})
	dead.Handle(Event{})
	time.Sleep(200 * time.Millisecond)
	s.Close()
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if c := strings.Count(out, "their template failed"); c != 1 {
		t.Errorf("the failing template was logged %d times for 50 events, want 1:\n%s", c, out)
	}
	if c := strings.Count(out, "webhooks failed"); c != 2 {
		t.Errorf("the failing receiver (10 webhooks) and the dead one were logged %d times, want once each:\n%s", c, out)
	}
	for _, secret := range []string{"T0KEN", "S1G", "pa55"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q of the webhook URL:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitFor waits until n reaches want, then a little more, and fails unless n is want (more
// would have arrived by then).
func waitFor(t *testing.T, n *atomic.Int32, want int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := n.Load(); got != want {
		t.Errorf("%d webhooks reached the receiver, want %d (the rest dropped)", got, want)
	}
}

// TestClosedDrops: events fired after Close are dropped at once: not sent, and not even
// rendered (a template that fails would say so in the log), so no work outlives Close.
func TestClosedDrops(t *testing.T) {
	var n atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer recv.Close()
	var logs strings.Builder
	var mu sync.Mutex
	s := NewSender(slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)), nil, nil)
	failing, _ := ParseTemplate("t", `{{if .Meta.Path}}{{lt .Meta.Path 1}}{{end}}`)
	h := NewWebHook(WebHook{APIID: "a", Method: "POST", URL: recv.URL, Template: failing, Sender: s})
	s.Close()
	h.Handle(Event{Meta: Meta{Path: "/x"}})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if n.Load() != 0 || out != "" {
		t.Errorf("after Close: %d webhooks sent, log %q", n.Load(), out)
	}
}

// TestHandleOnce: with event_timeout, events with one id are sent once within it, even when
// their bodies differ (a quota's use grows past a trigger); another id is sent; without
// event_timeout, once a day (OnceWithout).
func TestHandleOnce(t *testing.T) {
	recv, n := counting(t)
	s := NewSender(slog.New(slog.DiscardHandler), nil, nil)
	defer s.Close()
	tmpl, _ := ParseTemplate("t", `{{.Meta.UsagePercentage}}`)
	h := NewWebHook(WebHook{Method: "POST", URL: recv.URL, Template: tmpl, Every: time.Minute, Sender: s})
	for pct := range int64(5) {
		h.HandleOnce("key-a/80", func() Event { return Event{Meta: Meta{UsagePercentage: 80 + pct}} })
	}
	h.HandleOnce("key-b/80", func() Event { return Event{Meta: Meta{UsagePercentage: 81}} })
	waitFor(t, n, 2)
	untimed := NewWebHook(WebHook{Method: "POST", URL: recv.URL, Template: tmpl, Sender: s})
	for pct := range int64(3) {
		untimed.HandleOnce("key-a/80", func() Event { return Event{Meta: Meta{UsagePercentage: 90 + pct}} })
	}
	waitFor(t, n, 3)
}

// TestHandleOnceDropsAreRetried: an event dropped for want of a slot (a slow receiver) is not
// remembered: the next one of that id is sent once there is room.
func TestHandleOnceDropsAreRetried(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		<-release
	}))
	defer recv.Close()
	s := NewSender(slog.New(slog.DiscardHandler), nil, nil)
	defer s.Close()
	tmpl, _ := ParseTemplate("t", `{{.Meta.Key}}`)
	h := NewWebHook(WebHook{Method: "POST", URL: recv.URL, Template: tmpl, Every: time.Hour, Sender: s})
	for i := range PerHandler + 4 {
		h.HandleOnce(fmt.Sprint(i), func() Event { return Event{Meta: Meta{Key: fmt.Sprint(i)}} })
	}
	close(release)
	waitFor(t, &n, PerHandler)
	for i := range PerHandler + 4 {
		h.HandleOnce(fmt.Sprint(i), func() Event { return Event{Meta: Meta{Key: fmt.Sprint(i)}} })
	}
	waitFor(t, &n, PerHandler+4)
}

// TestOnceMarksBounded: past maxOnce live ids, the oldest is forgotten for each new one: the
// marks stay bounded, the newest are remembered (not sent on every event), and an id marked
// again after its time keeps its new mark.
func TestOnceMarksBounded(t *testing.T) {
	k := &onceMarks{m: map[[32]byte]time.Time{}}
	now := time.Unix(1000, 0)
	for i := range maxOnce + 10 {
		if !k.claim(sha256.Sum256([]byte(fmt.Sprint(i))), now, time.Hour) {
			t.Fatalf("id %d refused", i)
		}
	}
	if len(k.m) != maxOnce {
		t.Errorf("%d marks, want %d", len(k.m), maxOnce)
	}
	last := sha256.Sum256([]byte(fmt.Sprint(maxOnce + 9)))
	if k.claim(last, now, time.Hour) {
		t.Error("the newest id, remembered, was let through again")
	}
	for i, want := range map[int]bool{0: false, 9: false, 10: true, maxOnce: true} {
		if got := k.holds(sha256.Sum256([]byte(fmt.Sprint(i))), now); got != want {
			t.Errorf("id %d held: %v, want %v (the oldest go first)", i, got, want)
		}
	}
	// Time up for every mark: an id given again is remembered, whatever its old mark.
	later := now.Add(2 * time.Hour)
	again := sha256.Sum256([]byte("10"))
	if !k.claim(again, later, time.Hour) || k.claim(again, later, time.Hour) || len(k.m) != 1 {
		t.Errorf("after every mark's time: claim again %v, %d marks, want the id remembered alone", k.holds(again, later), len(k.m))
	}
}
