package storagetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

var busCases = []testCase{
	{"PublishReachesSubscribers", busDelivers},
	{"ChannelsIndependent", busChannels},
	{"SubscribeEndsWithContext", busEnds},
}

// busWait bounds how long a published message may take to arrive.
const busWait = 5 * time.Second

// subscription is a running Subscribe whose messages the case reads.
type subscription struct {
	msgs       chan string
	subscribed chan struct{}
	done       chan error
	cancel     context.CancelFunc
}

// subscribe starts a subscription and waits until it is made.
func (e *env) subscribe(channel string) *subscription {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	s := &subscription{msgs: make(chan string, 100), subscribed: make(chan struct{}, 10), done: make(chan error, 1), cancel: cancel}
	go func() {
		s.done <- e.s.Subscribe(ctx, channel, func(msg []byte) { s.msgs <- string(msg) }, func() { s.subscribed <- struct{}{} })
	}()
	e.t.Cleanup(func() {
		cancel()
		<-s.done
	})
	select {
	case <-s.subscribed:
	case err := <-s.done:
		e.t.Fatalf("Subscribe(%q) returned before subscribing: %v", channel, err)
	case <-time.After(busWait):
		e.t.Fatalf("Subscribe(%q) did not subscribe within %v", channel, busWait)
	}
	return s
}

func (e *env) publish(channel, msg string) {
	e.t.Helper()
	if err := e.s.Publish(e.t.Context(), channel, []byte(msg)); err != nil {
		e.t.Fatalf("Publish(%q): %v", channel, err)
	}
}

// want fails unless the next messages are want, in any order: a Redis Cluster relays messages
// published through different nodes by different paths.
func (s *subscription) want(e *env, who string, want ...string) {
	e.t.Helper()
	var got []string
	for range want {
		select {
		case m := <-s.msgs:
			got = append(got, m)
		case <-time.After(busWait):
			e.t.Fatalf("%s received %q within %v, want %q", who, got, busWait, want)
		}
	}
	slices.Sort(got)
	if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
		e.t.Errorf("%s received %q, want %q", who, got, w)
	}
}

// wantNothing fails if a message arrives within a short while.
func (s *subscription) wantNothing(e *env, who string) {
	e.t.Helper()
	select {
	case got := <-s.msgs:
		e.t.Errorf("%s received %q, want nothing", who, got)
	case <-time.After(100 * time.Millisecond):
	}
}

func busDelivers(e *env) {
	ch := e.key("notifications")
	a, b := e.subscribe(ch), e.subscribe(ch)
	var msgs []string
	for i := range 20 {
		msgs = append(msgs, fmt.Sprintf("message %d \x00\xff", i))
	}
	for _, m := range msgs {
		e.publish(ch, m)
	}
	var wg sync.WaitGroup
	for _, s := range []*subscription{a, b} {
		wg.Go(func() { s.want(e, "subscriber", msgs...) })
	}
	wg.Wait()
}

func busChannels(e *env) {
	one, two := e.subscribe(e.key("one")), e.subscribe(e.key("two"))
	e.publish(e.key("one"), "for one")
	one.want(e, "subscriber of one", "for one")
	two.wantNothing(e, "subscriber of two")
}

func busEnds(e *env) {
	s := e.subscribe(e.key("ch"))
	s.cancel()
	select {
	case err := <-s.done:
		if err == nil {
			e.t.Error("Subscribe returned nil when its context ended, want the context's error")
		}
		s.done <- err // for the cleanup
	case <-time.After(busWait):
		e.t.Fatalf("Subscribe did not return within %v of its context ending", busWait)
	}
	// Publishing with no subscriber left is not an error.
	e.publish(e.key("ch"), "nobody listens")
}
