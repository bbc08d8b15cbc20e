/**
 * The Lua scripts behind every write: one script call per write, so each runs atomically in one
 * round trip. Each touches one key (the session hash), so they run unchanged on Redis Cluster.
 * A script that releases a lock also PUBLISHes the hash's key on the store's unlock channel (pub/sub
 * names no key, so on Cluster the message reaches subscribers on every node). It is `pcall`ed: a
 * Redis user whose ACL does not allow the channel still releases and writes; its waiters fall back
 * to their timers.
 *
 * Hash fields: `v` version, `c` created, `e` expiry, `a` absolute expiry, `u` user id, `s` size
 * (bytes of key names plus JSON text), `lk`/`lkx` lock token and its expiry, and `d:<key>` per
 * top-level data key (the `d:` prefix keeps data keys and metadata apart). Times are ms since the
 * epoch, passed by the caller as `now` so they agree with the clock that computed the expiries.
 */
import { createHash } from 'node:crypto';

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const LIVE = `
local function live(e, a, now)
  return e ~= false and e ~= nil and tonumber(e) > now and tonumber(a) > now
end
`;

/**
 * One command over a list of arguments after the key, in slices that stay within Lua's stack
 * limit for `unpack` (the even slice size keeps field/value pairs together).
 */
const SLICED = `
local function sliced(command, h, list)
  for i = 1, #list, 4000 do redis.call(command, h, unpack(list, i, math.min(i + 3999, #list))) end
end
`;

/** ARGV: now, expiresAt, version, createdAt, absoluteExpiresAt, userId or '', size, field, value, ... → 1, or 0 when a live session is there. */
export const CREATE = script(`${LIVE}${SLICED}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', h, 'e', 'a')
if live(m[1], m[2], now) then return 0 end
redis.call('DEL', h)
local hs = {'v', ARGV[3], 'c', ARGV[4], 'e', ARGV[2], 'a', ARGV[5], 's', ARGV[7]}
if ARGV[6] ~= '' then
  hs[#hs + 1] = 'u'
  hs[#hs + 1] = ARGV[6]
end
for i = 8, #ARGV do hs[#hs + 1] = ARGV[i] end
sliced('HSET', h, hs)
local at = ARGV[2]
if tonumber(ARGV[5]) < tonumber(at) then at = ARGV[5] end
redis.call('PEXPIREAT', h, at)
return 1
`);

/**
 * ARGV: now, expiresAt, expectVersion or '', lockToken or '', releaseLock '1'|'0', replace '1'|'0',
 * maxSize, user mode ('k' keep | 'd' drop | 's' set), userId, number of set pairs, number of
 * expectations, unlock channel, then the set pairs (key, value, ...), the expectations (key,
 * 'n' absent | 's' holds text, text, ...), then the keys to unset.
 * → {0} gone, {2} version conflict, {3} lock lost, {4, size} too large, {5, {stale keys}} an
 *   expected key holds other text, {1, version, previous user id or '', absoluteExpiresAt} written.
 * Releasing the lock announces it on the unlock channel (the message is the hash's key).
 */
export const PATCH = script(`${LIVE}${SLICED}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', h, 'e', 'a', 'v', 'lk', 's', 'u')
if not live(m[1], m[2], now) then return {0} end
if ARGV[3] ~= '' and ARGV[3] ~= m[3] then return {2} end
if ARGV[4] ~= '' and ARGV[4] ~= m[4] then return {3} end
local setFrom = 13
local expectFrom = setFrom + 2 * tonumber(ARGV[10])
local unsetFrom = expectFrom + 3 * tonumber(ARGV[11])
if unsetFrom > expectFrom then
  local stale = {}
  for i = expectFrom, unsetFrom - 1, 3 do
    local stored = redis.call('HGET', h, 'd:' .. ARGV[i])
    if ARGV[i + 1] == 'n' then
      if stored then stale[#stale + 1] = ARGV[i] end
    elseif stored ~= ARGV[i + 2] then
      stale[#stale + 1] = ARGV[i]
    end
  end
  if #stale > 0 then return {5, stale} end
end
local changes = {}
local size = 0
if ARGV[6] == '1' then
  for i = setFrom, expectFrom - 1, 2 do size = size + #ARGV[i] + #ARGV[i + 1] end
else
  size = tonumber(m[5]) or 0
  for i = unsetFrom, #ARGV do changes[ARGV[i]] = false end
  for i = setFrom, expectFrom - 1, 2 do changes[ARGV[i]] = ARGV[i + 1] end
  for k, v in pairs(changes) do
    -- Stored values are never empty (JSON text or a sealed value): a length of 0 means no field.
    local len = redis.call('HSTRLEN', h, 'd:' .. k)
    if len > 0 then size = size - #k - len end
    if v then size = size + #k + #v end
  end
end
if size > tonumber(ARGV[7]) then return {4, size} end
local hs = {}
local hd = {}
if ARGV[6] == '1' then
  local fields = redis.call('HKEYS', h)
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'd:' then hd[#hd + 1] = f end
  end
  for i = setFrom, expectFrom - 1, 2 do
    hs[#hs + 1] = 'd:' .. ARGV[i]
    hs[#hs + 1] = ARGV[i + 1]
  end
else
  for k, v in pairs(changes) do
    if v then
      hs[#hs + 1] = 'd:' .. k
      hs[#hs + 1] = v
    else
      hd[#hd + 1] = 'd:' .. k
    end
  end
end
local version = redis.call('HINCRBY', h, 'v', 1)
local e = ARGV[2]
if tonumber(e) > tonumber(m[2]) then e = m[2] end
hs[#hs + 1] = 'e'
hs[#hs + 1] = e
hs[#hs + 1] = 's'
hs[#hs + 1] = size
if ARGV[8] == 's' then
  hs[#hs + 1] = 'u'
  hs[#hs + 1] = ARGV[9]
elseif ARGV[8] == 'd' then
  hd[#hd + 1] = 'u'
end
local unlock = ARGV[5] == '1' and ARGV[4] ~= ''
if unlock then
  hd[#hd + 1] = 'lk'
  hd[#hd + 1] = 'lkx'
end
-- Deletes first: a replace drops every data field, then writes the new ones.
sliced('HDEL', h, hd)
sliced('HSET', h, hs)
if unlock then redis.pcall('PUBLISH', ARGV[12], h) end
redis.call('PEXPIREAT', h, e)
return {1, version, m[6] or '', m[2]}
`);

/** ARGV: now, expiresAt → 1 moved, 0 gone. */
export const TOUCH = script(`${LIVE}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', h, 'e', 'a')
if not live(m[1], m[2], now) then return 0 end
local e = ARGV[2]
if tonumber(e) > tonumber(m[2]) then e = m[2] end
redis.call('HSET', h, 'e', e)
redis.call('PEXPIREAT', h, e)
return 1
`);

/** ARGV: now, token, lock expiry → {0} gone, {-1} held by another, {1, fields...} locked and read. */
export const LOCK = script(`${LIVE}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', h, 'e', 'a', 'lk', 'lkx')
if not live(m[1], m[2], now) then return {0} end
if m[3] and m[4] and tonumber(m[4]) > now then return {-1} end
redis.call('HSET', h, 'lk', ARGV[2], 'lkx', ARGV[3])
return {1, redis.call('HGETALL', h)}
`);

/** ARGV: token, unlock channel → 1 released (and announced on the channel), 0 not held by this token. */
export const UNLOCK = script(`
local h = KEYS[1]
if redis.call('HGET', h, 'lk') == ARGV[1] then
  redis.call('HDEL', h, 'lk', 'lkx')
  redis.pcall('PUBLISH', ARGV[2], h)
  return 1
end
return 0
`);

/**
 * ARGV: now, unlock channel → {1 when a live session was there else 0, its user id or ''}. A lock
 * held on the session goes with it, announced on the unlock channel.
 */
export const DESTROY = script(`${LIVE}
local h = KEYS[1]
local now = tonumber(ARGV[1])
local m = redis.call('HMGET', h, 'e', 'a', 'u', 'lk')
redis.call('DEL', h)
if m[4] then redis.pcall('PUBLISH', ARGV[2], h) end
if live(m[1], m[2], now) then return {1, m[3] or ''} end
return {0, m[3] or ''}
`);

/**
 * On a user's index (KEYS[1]). ARGV: now, absoluteExpiresAt, session key → adds the session, drops
 * entries past their absolute expiry, and expires the set with its longest-lived entry, so every
 * key the store writes has a TTL.
 */
export const USER_ADD = script(`
local u = KEYS[1]
redis.call('ZADD', u, ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', u, '-inf', ARGV[1])
local last = redis.call('ZRANGE', u, -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', u, last[2]) end
return 1
`);
