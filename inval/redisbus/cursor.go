package redisbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
)

// Cursor is an inval.Cursor in Redis, under {Prefix}:relay-cursor, shared
// by the relays of every API instance so that the one that takes over goes
// on where the last one stopped. Stores only move it forward, so a deposed
// relay that writes late cannot move it back. If Redis loses it, the
// relay starts after the outbox's last row — and Redis having lost its
// data, subscribers see the bus's epoch change and forget what they hold.
type Cursor struct {
	c   rueidis.Client
	key string
}

var _ inval.Cursor = (*Cursor)(nil)

// NewCursor returns the relay cursor of prefix (DefaultPrefix if empty).
func NewCursor(client rueidis.Client, prefix string) (*Cursor, error) {
	if client == nil {
		return nil, errors.New("redisbus: a client is required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redisbus: Prefix %q must not contain braces", prefix)
	}
	return &Cursor{c: client, key: "{" + prefix + "}:relay-cursor"}, nil
}

// Load implements inval.Cursor.
func (c *Cursor) Load(ctx context.Context) (uint64, bool, error) {
	v, err := c.c.Do(ctx, c.c.B().Get().Key(c.key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("redisbus: relay cursor: %w", err)
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("redisbus: relay cursor %q: %w", v, err)
	}
	return seq, true, nil
}

// Init implements inval.Cursor.
func (c *Cursor) Init(ctx context.Context, seq uint64) (uint64, error) {
	err := c.c.Do(ctx, c.c.B().Set().Key(c.key).Value(strconv.FormatUint(seq, 10)).Nx().Build()).Error()
	if err != nil && !rueidis.IsRedisNil(err) {
		return 0, fmt.Errorf("redisbus: relay cursor: %w", err)
	}
	got, ok, err := c.Load(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("redisbus: relay cursor %s vanished after it was set", c.key)
	}
	return got, nil
}

// storeIfGreater sets KEYS[1] to ARGV[1] unless it holds a greater number.
var storeIfGreater = rueidis.NewLuaScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) >= cur then
	redis.call('SET', KEYS[1], ARGV[1])
end
return 1`)

// Store implements inval.Cursor.
func (c *Cursor) Store(ctx context.Context, seq uint64) error {
	err := storeIfGreater.Exec(ctx, c.c, []string{c.key}, []string{strconv.FormatUint(seq, 10)}).Error()
	if err != nil {
		return fmt.Errorf("redisbus: relay cursor: %w", err)
	}
	return nil
}
