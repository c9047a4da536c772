package memory

import (
	"context"
	"sync"
)

// bus delivers notifications to the subscribers of one Store.
type bus struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
	// closed is closed by Store.Close, ending every subscription.
	closed chan struct{}
}

type subscriber struct {
	ch   chan []byte
	done chan struct{} // closed when the subscription ends
}

// subscriberQueue is how many messages a subscriber may fall behind before Publish waits for it.
const subscriberQueue = 256

// Publish delivers a copy of msg to every subscriber of channel, waiting (until ctx ends) for a
// subscriber whose queue is full.
func (s *Store) Publish(ctx context.Context, channel string, msg []byte) error {
	if s.closed.Load() {
		return errClosed
	}
	s.bus.mu.Lock()
	subs := make([]*subscriber, 0, len(s.bus.subs[channel]))
	for sub := range s.bus.subs[channel] {
		subs = append(subs, sub)
	}
	s.bus.mu.Unlock()
	for _, sub := range subs {
		select {
		case sub.ch <- append([]byte(nil), msg...):
		case <-sub.done:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.bus.closed:
			return errClosed
		}
	}
	return nil
}

// Subscribe calls fn with every message published on channel until ctx ends or the store is
// closed. subscribed is called once: an in-process subscription is never cut.
func (s *Store) Subscribe(ctx context.Context, channel string, fn func(msg []byte), subscribed func()) error {
	if s.closed.Load() {
		return errClosed
	}
	sub := &subscriber{ch: make(chan []byte, subscriberQueue), done: make(chan struct{})}
	s.bus.mu.Lock()
	if s.bus.subs == nil {
		s.bus.subs = map[string]map[*subscriber]struct{}{}
	}
	if s.bus.subs[channel] == nil {
		s.bus.subs[channel] = map[*subscriber]struct{}{}
	}
	s.bus.subs[channel][sub] = struct{}{}
	s.bus.mu.Unlock()
	defer func() {
		close(sub.done)
		s.bus.mu.Lock()
		delete(s.bus.subs[channel], sub)
		if len(s.bus.subs[channel]) == 0 {
			delete(s.bus.subs, channel)
		}
		s.bus.mu.Unlock()
	}()
	if subscribed != nil {
		subscribed()
	}
	for {
		select {
		case msg := <-sub.ch:
			fn(msg)
		case <-ctx.Done():
			return ctx.Err()
		case <-s.bus.closed:
			return errClosed
		}
	}
}
