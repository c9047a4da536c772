package redis

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// Publish sends msg on channel (PUBLISH; with a cluster, every node relays it).
func (s *Store) Publish(ctx context.Context, channel string, msg []byte) error {
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	start := time.Now()
	err = c.Do(ctx, c.B().Publish().Channel(channel).Message(rueidis.BinaryString(msg)).Build()).Error()
	s.roundTrip("publish", start, err)
	return s.result("publish", err)
}

// Subscribe calls fn with every message on channel until ctx ends. It waits for the first
// connection, subscribes, and subscribes again whenever the connection is lost and made again
// (also to a new master after a Sentinel failover), calling subscribed each time. fn and
// subscribed run on the connection's reading goroutine: they must hand work off, not do it.
func (s *Store) Subscribe(ctx context.Context, channel string, fn func(msg []byte), subscribed func()) error {
	select {
	case <-s.connected:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return errClosed
	}
	c := s.client.Load().c
	hook := rueidis.WithOnSubscriptionHook(ctx, func(sub rueidis.PubSubSubscription) {
		if sub.Kind == "subscribe" && sub.Channel == channel && subscribed != nil {
			subscribed()
		}
	})
	delay := 50 * time.Millisecond
	for {
		start := time.Now()
		err := c.Receive(hook, c.B().Subscribe().Channel(channel).Build(), func(m rueidis.PubSubMessage) {
			fn([]byte(m.Message))
		})
		if time.Since(start) > maxRetryDelay {
			delay = 50 * time.Millisecond // it held for a while: a new failure starts the backoff again
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.closed.Load() {
			return errClosed
		}
		if err != nil {
			s.log.Warn("storage: the subscription to Redis notifications was lost; subscribing again", "channel", channel, "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return errClosed
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}
