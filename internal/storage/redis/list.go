package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// pushChunk bounds the values one RPUSH carries, so that a large batch does not become one
// huge command.
const pushChunk = 256

// expireIfPersistent sets a TTL on a key that has none, as Tyk's analytics purger does: a list
// nobody reads expires this long after it was last found without one, and a reader that keeps
// up (tyk-pump deletes what it read) never meets the TTL.
const expireIfPersistent = `if redis.call('TTL', KEYS[1]) == -1 then return redis.call('EXPIRE', KEYS[1], ARGV[1]) end return 0`

// PushList appends values to the list at key (RPUSH, raw key, not hashed) in one pipeline and,
// when ttl is positive, gives the list that TTL if it has none. It is how analytics records
// reach the list tyk-pump reads. Like every call it fails at once while Redis is down and is
// bounded by Options.Timeout.
func (s *Store) PushList(ctx context.Context, key string, values [][]byte, ttl time.Duration) error {
	if len(values) == 0 {
		return nil
	}
	c, ctx, cancel, err := s.conn(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cmds := make(rueidis.Commands, 0, len(values)/pushChunk+2)
	for len(values) > 0 {
		n := min(len(values), pushChunk)
		elems := make([]string, n)
		for i, v := range values[:n] {
			elems[i] = rueidis.BinaryString(v)
		}
		cmds = append(cmds, c.B().Rpush().Key(key).Element(elems...).Build())
		values = values[n:]
	}
	pushes := len(cmds)
	if secs := int64(ttl / time.Second); secs > 0 {
		cmds = append(cmds, c.B().Eval().Script(expireIfPersistent).Numkeys(1).Key(key).Arg(strconv.FormatInt(secs, 10)).Build())
	}
	start := time.Now()
	for i, res := range c.DoMulti(ctx, cmds...) {
		e := res.Error()
		if e == nil {
			continue
		}
		if i < pushes {
			err = e
			break
		}
		// The values are in the list: only its expiry was not set. Not a failure to write
		// them, but said, at most once a minute.
		if held, ok := s.expiryWarn.Allow(time.Now()); ok {
			s.log.Warn(s.o.Name+": a list's expiry could not be set (its values were written); an ACL user needs TTL and EXPIRE, run by EVAL",
				"key", key, "error", e, "also_failed_since_last_warning", held)
		}
	}
	s.roundTrip("rpush", start, err)
	return s.result("rpush", err)
}
