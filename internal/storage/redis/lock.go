package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// unlockLua deletes a lock only while it is still the taker's: one that ran past its time and
// was taken by another node is left to that node.
var unlockLua = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// lockRetry is how long Lock waits between two tries while another node holds the lock.
const lockRetry = 25 * time.Millisecond

// Lock takes name, a lock every node sharing the server sees, for at most ttl (SET NX PX with a
// token of the taker's), waiting while another node holds it until ctx ends. release gives it
// back; a node that dies holding it holds it until ttl has passed.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (release func(), err error) {
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	for {
		c, cctx, cancel, err := s.conn(ctx)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		err = c.Do(cctx, c.B().Set().Key(name).Value(token).Nx().PxMilliseconds(ceilMillis(ttl)).Build()).Error()
		cancel()
		s.roundTrip("lock", start, err)
		switch {
		case err == nil:
			return func() {
				c, cctx, cancel, err := s.conn(context.Background())
				if err != nil {
					return // it ends after ttl
				}
				defer cancel()
				_ = unlockLua.Exec(cctx, c, []string{name}, []string{token}).Error()
			}, nil
		case !rueidis.IsRedisNil(err):
			return nil, s.result("lock", err)
		}
		// Held by another node: try again shortly.
		select {
		case <-ctx.Done():
			return nil, errors.Join(errors.New("redis: lock "+name+" is held by another node"), ctx.Err())
		case <-time.After(lockRetry):
		}
	}
}
