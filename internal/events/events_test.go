package events

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDefaultTemplate: the built-in body is JSON whatever the event says (quotes, newlines).
func TestDefaultTemplate(t *testing.T) {
	tmpl, err := ParseTemplate("default", DefaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	b, err := render(tmpl, Event{Type: "AuthFailure", Meta: Meta{Message: `a "quoted" message` + "\n", Path: `/x"y`, Key: "0123456789ab"}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if got["event"] != "AuthFailure" || got["path"] != `/x"y` || got["key"] != "0123456789ab" || got["message"] != `a "quoted" message`+"\n" {
		t.Errorf("rendered %v", got)
	}
}

// TestParseTemplate: a template that does not parse, fails when run, or writes too much is
// refused when it is read.
func TestParseTemplate(t *testing.T) {
	for name, src := range map[string]string{
		"does not parse":  `{{.Type`,
		"fails when run":  `{{.Meta.Nope}}`,
		"writes too much": `{{range 100000}}` + strings.Repeat("x", 10) + `{{end}}`,
	} {
		if _, err := ParseTemplate(name, src); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEventTimeout: a webhook with event_timeout sends the same body once within it, another
// body at once, and the same body again once it has passed; the marks kept are bounded.
func TestEventTimeout(t *testing.T) {
	var n atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
	}))
	defer recv.Close()
	now := time.Unix(1000, 0)
	s := NewSender(slog.New(slog.DiscardHandler), nil, func() time.Time { return now })
	tmpl, _ := ParseTemplate("t", `{{.Meta.Path}}`)
	h := &WebHook{APIID: "a", Method: "POST", URL: recv.URL, Template: tmpl, Every: time.Minute, Sender: s}
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	h.Handle(Event{Meta: Meta{Path: "/b"}})
	now = now.Add(time.Minute)
	h.Handle(Event{Meta: Meta{Path: "/a"}})
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a fourth, had it been sent
	s.Close()
	if got := n.Load(); got != 3 {
		t.Errorf("%d webhooks sent, want 3", got)
	}
	s2 := NewSender(slog.New(slog.DiscardHandler), nil, func() time.Time { return now })
	defer s2.Close()
	for i := range maxMarks + 10 {
		s2.first("t", []byte{byte(i), byte(i >> 8), byte(i >> 16)}, time.Hour)
	}
	if len(s2.sent) > maxMarks {
		t.Errorf("%d marks kept, want at most %d", len(s2.sent), maxMarks)
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
	h := &WebHook{APIID: "a", Method: "POST", URL: recv.URL, Template: tmpl, Sender: s}
	for range MaxInFlight + 50 {
		h.Handle(Event{})
	}
	deadline := time.Now().Add(10 * time.Second)
	for arrived.Load() < MaxInFlight && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := arrived.Load(); got != MaxInFlight {
		t.Errorf("%d webhooks reached the receiver, want %d (the rest dropped)", got, MaxInFlight)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the webhooks in flight")
	}
}

// TestThrottle: a flood is told of once per warnEvery, with its count.
func TestThrottle(t *testing.T) {
	var th throttle
	now := time.Unix(0, 0)
	if n := th.tick(now); n != 1 {
		t.Fatalf("first: %d, want 1", n)
	}
	for range 99 {
		if n := th.tick(now.Add(time.Second)); n != 0 {
			t.Fatalf("within warnEvery: %d, want 0", n)
		}
	}
	if n := th.tick(now.Add(warnEvery)); n != 100 {
		t.Errorf("after warnEvery: %d, want 100", n)
	}
}
