package redisbus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
)

// StoreOptions configures a Store. The zero value is usable.
type StoreOptions struct {
	// Prefix names the keys, all in the {Prefix} Cluster slot:
	// {Prefix}:inv:ID (a hash per invalidation), {Prefix}:ref:SHA256 (a
	// caller reference's invalidation id) and {Prefix}:invs (the ids by
	// creation time, for List). The bus's Prefix is a good choice. It must
	// not contain braces. Default "strata:inval".
	Prefix string
	// TTL is how long an invalidation, and its caller reference, are
	// kept. Default 7 days.
	TTL time.Duration
}

// Store is an inval.Store in Redis, shared by every admin API that uses
// the same Redis and Prefix. Create it with NewStore.
type Store struct {
	c      rueidis.Client
	tag    string
	index  string
	ttlArg string
}

var _ inval.Store = (*Store)(nil)

// NewStore returns a store on client.
func NewStore(client rueidis.Client, opts StoreOptions) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisbus: a client is required")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redisbus: Prefix %q must not contain braces", opts.Prefix)
	}
	if opts.TTL <= 0 {
		opts.TTL = 7 * 24 * time.Hour
	}
	if opts.TTL < time.Millisecond {
		return nil, fmt.Errorf("redisbus: store TTL %v is under a millisecond", opts.TTL)
	}
	tag := "{" + opts.Prefix + "}"
	return &Store{c: client, tag: tag, index: tag + ":invs", ttlArg: strconv.FormatInt(opts.TTL.Milliseconds(), 10)}, nil
}

func (s *Store) invKey(id string) string { return s.tag + ":inv:" + id }

func (s *Store) refKey(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return s.tag + ":ref:" + hex.EncodeToString(sum[:])
}

// Hash fields of an invalidation.
const (
	fieldRecord   = "rec"  // JSON of what Create was given
	fieldSeq      = "seq"  // decimal, set once
	fieldComplete = "done" // RFC 3339 with nanoseconds, set once
)

// createScript stores an invalidation unless its caller reference names
// one already. It returns {1, id} when it stored it, {0, the other id}
// when the reference was taken.
//
//	KEYS[1] the invalidation's hash, KEYS[2] the reference's key ("" ref:
//	ARGV[5] is 0), KEYS[3] the index
//	ARGV[1] id, ARGV[2] record, ARGV[3] TTL in ms, ARGV[4] creation time
//	in ms, ARGV[5] 1 if there is a reference
var createScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR invalidation id already stored')
end
if ARGV[5] == '1' then
  local prev = redis.call('GET', KEYS[2])
  if prev then return {0, prev} end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
end
redis.call('HSET', KEYS[1], 'rec', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%.0f', tonumber(ARGV[4]) - tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {1, ARGV[1]}
`)

// setOnceScript sets a field of an existing hash unless it is set, and
// returns the hash (empty if the hash does not exist).
//
//	KEYS[1] the invalidation's hash; ARGV[1] field, ARGV[2] value
var setOnceScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
`)

// deleteScript deletes an invalidation, and its reference if the reference
// still names it.
//
//	KEYS[1] the hash, KEYS[2] the reference's key, KEYS[3] the index
//	ARGV[1] id
var deleteScript = rueidis.NewLuaScript(`
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
`)

// Create implements inval.Store.
func (s *Store) Create(ctx context.Context, inv inval.Invalidation) (inval.Invalidation, bool, error) {
	rec, err := json.Marshal(storedRecord(inv))
	if err != nil {
		return inval.Invalidation{}, false, fmt.Errorf("redisbus: encode invalidation: %w", err)
	}
	hasRef, refKey := "0", s.tag+":ref:"
	if inv.CallerReference != "" {
		hasRef, refKey = "1", s.refKey(inv.CallerReference)
	}
	// A reference can outlive its invalidation by a moment (both expire
	// after TTL, separately): then free it and try again.
	for attempt := 0; ; attempt++ {
		res, err := createScript.Exec(ctx, s.c, []string{s.invKey(inv.ID), refKey, s.index},
			[]string{inv.ID, string(rec), s.ttlArg, strconv.FormatInt(inv.CreateTime.UnixMilli(), 10), hasRef}).ToArray()
		if err != nil {
			return inval.Invalidation{}, false, fmt.Errorf("redisbus: store invalidation: %w", err)
		}
		if len(res) != 2 {
			return inval.Invalidation{}, false, fmt.Errorf("redisbus: store invalidation: %d replies, want 2", len(res))
		}
		created, _ := res[0].AsInt64()
		id, _ := res[1].ToString()
		got, err := s.Get(ctx, id)
		if created == 1 || !errors.Is(err, inval.ErrNotFound) || attempt == 2 {
			return got, created == 1, err
		}
		if err := deleteScript.Exec(ctx, s.c, []string{s.invKey(id), refKey, s.index}, []string{id}).Error(); err != nil {
			return inval.Invalidation{}, false, fmt.Errorf("redisbus: free caller reference: %w", err)
		}
	}
}

// storedRecord is the part of inv kept in the "rec" field.
func storedRecord(inv inval.Invalidation) inval.Invalidation {
	inv.Status, inv.Nodes, inv.Seq, inv.CompleteTime = "", nil, 0, time.Time{}
	return inv
}

// decode builds an invalidation from its hash.
func decode(id string, h map[string]string) (inval.Invalidation, error) {
	rec, ok := h[fieldRecord]
	if !ok {
		return inval.Invalidation{}, fmt.Errorf("%w: %q", inval.ErrNotFound, id)
	}
	var inv inval.Invalidation
	if err := json.Unmarshal([]byte(rec), &inv); err != nil {
		return inval.Invalidation{}, fmt.Errorf("redisbus: invalidation %s: %w", id, err)
	}
	inv.Status, inv.Nodes = "", nil
	if v, ok := h[fieldSeq]; ok {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return inval.Invalidation{}, fmt.Errorf("redisbus: invalidation %s: bad seq %q", id, v)
		}
		inv.Seq = seq
	}
	if v, ok := h[fieldComplete]; ok {
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return inval.Invalidation{}, fmt.Errorf("redisbus: invalidation %s: bad completion time %q", id, v)
		}
		inv.CompleteTime = at
	}
	return inv, nil
}

func (s *Store) setOnce(ctx context.Context, id, field, value string) (inval.Invalidation, error) {
	h, err := setOnceScript.Exec(ctx, s.c, []string{s.invKey(id)}, []string{field, value}).AsStrMap()
	if err != nil {
		return inval.Invalidation{}, fmt.Errorf("redisbus: update invalidation %s: %w", id, err)
	}
	return decode(id, h)
}

// SetSeq implements inval.Store.
func (s *Store) SetSeq(ctx context.Context, id string, seq uint64) (inval.Invalidation, error) {
	return s.setOnce(ctx, id, fieldSeq, strconv.FormatUint(seq, 10))
}

// Complete implements inval.Store.
func (s *Store) Complete(ctx context.Context, id string, at time.Time) (inval.Invalidation, error) {
	return s.setOnce(ctx, id, fieldComplete, at.UTC().Format(time.RFC3339Nano))
}

// Delete implements inval.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	inv, err := s.Get(ctx, id)
	if errors.Is(err, inval.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	refKey := s.tag + ":ref:"
	if inv.CallerReference != "" {
		refKey = s.refKey(inv.CallerReference)
	}
	if err := deleteScript.Exec(ctx, s.c, []string{s.invKey(id), refKey, s.index}, []string{id}).Error(); err != nil {
		return fmt.Errorf("redisbus: delete invalidation %s: %w", id, err)
	}
	return nil
}

// Get implements inval.Store.
func (s *Store) Get(ctx context.Context, id string) (inval.Invalidation, error) {
	h, err := s.c.Do(ctx, s.c.B().Hgetall().Key(s.invKey(id)).Build()).AsStrMap()
	if err != nil {
		return inval.Invalidation{}, fmt.Errorf("redisbus: read invalidation %s: %w", id, err)
	}
	return decode(id, h)
}

// List implements inval.Store.
func (s *Store) List(ctx context.Context, limit int) ([]inval.Invalidation, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := s.c.Do(ctx, s.c.B().Zrange().Key(s.index).Min("+inf").Max("-inf").Byscore().Rev().Limit(0, int64(limit)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redisbus: list invalidations: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = s.c.B().Hgetall().Key(s.invKey(id)).Build()
	}
	out := make([]inval.Invalidation, 0, len(ids))
	for i, r := range s.c.DoMulti(ctx, cmds...) {
		h, err := r.AsStrMap()
		if err != nil {
			return nil, fmt.Errorf("redisbus: list invalidations: %w", err)
		}
		inv, err := decode(ids[i], h)
		if errors.Is(err, inval.ErrNotFound) {
			continue // expired since the index was read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}
