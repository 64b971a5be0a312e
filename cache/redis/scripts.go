package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// The Lua scripts. Each touches only the keys it declares, all in one
// Cluster slot, so each runs atomically on the node that owns its key.
//
// Versions travel as 20-digit decimal strings (bytes 2..21 of an entry, the
// whole value of a tag tombstone or the floor). newer compares two of them
// as two 10-digit halves, each exact in a Lua number (a double), rather than
// with Lua's string comparison, which goes through the server's locale.
const luaLib = `
local function isversion(s)
  return type(s) == 'string' and #s == 20 and string.find(s, '^%d+$') ~= nil
end
local function newer(a, b)
  local a1, b1 = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if a1 ~= b1 then return a1 > b1 end
  return tonumber(string.sub(a, 11)) > tonumber(string.sub(b, 11))
end
local function extend(key, px)
  local left = redis.call('PTTL', key)
  if left >= 0 and left < px then redis.call('PEXPIRE', key, px) end
end
`

// fillScript stores an entry unless the key holds a newer one (a value, a
// negative entry or a tombstone with a higher version). The stored key
// lives at least as long as what it replaces, so a tombstone's protection
// against late fills survives the newer value that took its place (Get
// never serves past the entry's own Expires). It then wakes lease waiters.
//
//	KEYS[1] entry key
//	ARGV[1] stored entry, ARGV[2] its version (20 digits), ARGV[3] lifetime
//	in ms, ARGV[4] wake channel, ARGV[5] the cache key (the wake message)
//
// Returns 1 when stored, 0 when refused.
var fillScript = newScript(luaLib + `
local px = tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = string.sub(cur, 3, 22)
  if isversion(v) and newer(v, ARGV[2]) then return 0 end
  local left = redis.call('PTTL', KEYS[1])
  if left > px then px = left end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// tombstoneScript writes a key tombstone unless the key already holds a
// value or tombstone at the version or later; that one is kept, and lives
// at least as long as the tombstone would have.
//
//	KEYS[1] entry key
//	ARGV[1] tombstone, ARGV[2] its version (20 digits), ARGV[3] lifetime in ms
var tombstoneScript = newScript(luaLib + `
local px = tonumber(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = string.sub(cur, 3, 22)
  if isversion(v) and not newer(ARGV[2], v) then
    extend(KEYS[1], px)
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
return 1
`)

// raiseScript raises a tag tombstone or the floor to a version: it never
// lowers one, and the result lives at least the given lifetime.
//
//	KEYS[1] tag tombstone or floor key
//	ARGV[1] version (20 digits), ARGV[2] lifetime in ms
var raiseScript = newScript(luaLib + `
local px = tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if isversion(cur) and not newer(ARGV[1], cur) then
  extend(KEYS[1], px)
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
return 1
`)

// releaseScript gives a lease up if the token still holds it, and wakes
// the waiters.
//
//	KEYS[1] lease key
//	ARGV[1] token, ARGV[2] wake channel, ARGV[3] the cache key
var releaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`)

// publishScript appends an event to the invalidation stream with field i
// set to one more than the last event's i, and field e, the stream's
// epoch, copied from the last event (or, in a new or emptied stream, a
// fresh random one from the caller): consecutive numbers of one epoch let
// a subscriber tell from the events alone that it missed some (trimmed,
// or the stream was lost and created again, maybe with IDs no greater than
// those it had read). %.0f keeps the number exact up to 2^53, where
// tostring would switch to an exponent.
//
//	KEYS[1] stream
//	ARGV[1] MAXLEN (approximate), ARGV[2] a fresh epoch, ARGV[3...] the
//	event's fields and values
//
// Returns the new entry's ID.
var publishScript = newScript(`
local n, epoch = 0, ARGV[2]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 1 then
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'i' then n = tonumber(f[i + 1]) or 0
    elseif f[i] == 'e' then epoch = f[i + 1] end
  end
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  'i', string.format('%.0f', n + 1), 'e', epoch, unpack(ARGV, 3))
`)

// script is a Lua script run by EVALSHA, falling back to EVAL when the
// server does not have it (first use, a restart, SCRIPT FLUSH).
type script struct {
	src, sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

func (s *script) build(c rueidis.Client, sha bool, key string, args []string) rueidis.Completed {
	if sha {
		return c.B().Evalsha().Sha1(s.sha).Numkeys(1).Key(key).Arg(args...).Build()
	}
	return c.B().Eval().Script(s.src).Numkeys(1).Key(key).Arg(args...).Build()
}

// exec runs the script on key.
func (s *script) exec(ctx context.Context, c rueidis.Client, key string, args ...string) rueidis.RedisResult {
	r := c.Do(ctx, s.build(c, true, key, args))
	if isNoScript(r) {
		r = c.Do(ctx, s.build(c, false, key, args))
	}
	return r
}

func isNoScript(r rueidis.RedisResult) bool {
	err, ok := rueidis.IsRedisErr(r.Error())
	return ok && err.IsNoScript()
}

// call is one script run in a batch.
type call struct {
	s    *script
	key  string
	args []string
}

// runBatch runs calls in one pipeline (rueidis splits it by node in a
// Cluster) and returns one result per call; scripts the server lacked are
// sent again with EVAL in a second pipeline.
func runBatch(ctx context.Context, c rueidis.Client, calls []call) []rueidis.RedisResult {
	out := make([]rueidis.RedisResult, len(calls))
	pending := make([]int, len(calls))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		sha := attempt == 0
		cmds := make(rueidis.Commands, len(pending))
		for j, i := range pending {
			cmds[j] = calls[i].s.build(c, sha, calls[i].key, calls[i].args)
		}
		var again []int
		for j, r := range c.DoMulti(ctx, cmds...) {
			i := pending[j]
			out[i] = r
			if sha && isNoScript(r) {
				again = append(again, i)
			}
		}
		pending = again
	}
	return out
}
