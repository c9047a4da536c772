package redis

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// MaxMessageBytes bounds a message Subscribe hands on: larger ones are dropped unread, counted
// (DroppedMessages) and logged at most once a minute. Gatehouse's notifications are far smaller:
// a signed KeySpaceUpdateNotification names the hash of one key, and the others an api_id or
// nothing, with the sending node's id, a time and a signature, a few hundred bytes; even a
// KeySpaceUpdateNotification naming a thousand SHA-256 key hashes, as a Tyk dashboard may batch
// them, fits.
const MaxMessageBytes = 64 << 10

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
//
// The subscription has a connection of its own, never the one the store's calls share
// (sessions, limit scripts, the probe): any client of Redis can publish on a channel, and a
// flood or a message of many MiB there must not hold up those calls' replies behind it, nor
// make Redis close their connection when the subscriber's output buffer overflows (Redis's
// client-output-buffer-limit for pubsub). A message over MaxMessageBytes is dropped before it is
// copied.
func (s *Store) Subscribe(ctx context.Context, channel string, fn func(msg []byte), subscribed func()) error {
	select {
	case <-s.connected:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return errClosed
	}
	// Close waits for subscriptions to end: it must not return with their connections open.
	s.subMu.Lock()
	if s.closed.Load() {
		s.subMu.Unlock()
		return errClosed
	}
	s.subs.Add(1)
	s.subMu.Unlock()
	defer s.subs.Done()
	// The subscription ends with ctx or with the store.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(s.ctx, stop)()

	c := s.client.Load().c
	hook := rueidis.WithOnSubscriptionHook(ctx, func(sub rueidis.PubSubSubscription) {
		if sub.Kind == "subscribe" && sub.Channel == channel && subscribed != nil {
			subscribed()
		}
	})
	onMessage := func(m rueidis.PubSubMessage) {
		if n := len(m.Message); n > MaxMessageBytes {
			s.droppedMessage(channel, n)
			return
		}
		fn([]byte(m.Message))
	}
	delay := 50 * time.Millisecond
	for {
		start := time.Now()
		dc, release := c.Dedicate()
		err := dc.Receive(hook, dc.B().Subscribe().Channel(channel).Build(), onMessage)
		// Closed rather than given back to the pool: nothing else uses a connection that
		// subscribed, and closing never waits for Redis.
		dc.Close()
		release()
		if time.Since(start) > maxRetryDelay {
			delay = 50 * time.Millisecond // it held for a while: a new failure starts the backoff again
		}
		if s.ctx.Err() != nil || s.closed.Load() {
			return errClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.log.Warn("storage: the subscription to Redis notifications was lost; subscribing again", "channel", channel, "error", err)
		}
		select {
		case <-ctx.Done():
			if s.ctx.Err() != nil {
				return errClosed
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// droppedMessage counts a message over MaxMessageBytes that Subscribe dropped, and logs it at
// most once a minute.
func (s *Store) droppedMessage(channel string, size int) {
	s.dropped.Add(1)
	if held, ok := s.droppedWarn.Allow(time.Now()); ok {
		s.log.Warn("storage: dropped a pub/sub message larger than any Gatehouse sends; a client of Redis other than a gateway publishes on its channel",
			"channel", channel, "bytes", size, "max_bytes", MaxMessageBytes, "dropped_since_last_line", held)
	}
}

// DroppedMessages returns how many pub/sub messages over MaxMessageBytes were dropped.
func (s *Store) DroppedMessages() int64 { return s.dropped.Load() }
