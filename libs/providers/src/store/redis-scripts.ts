/**
 * The Lua scripts of the Redis store. Each runs atomically on the server, on the server's clock
 * (`TIME`), so every process sees one budget and one "now". A budget is four keys sharing one hash
 * tag (one Cluster slot):
 *
 * - `<base>`        sorted set: entry id → the moment it was taken (ms);
 * - `<base>:units`  hash: entry id → units spent;
 * - `<base>:est`    set: ids of estimates not settled yet (they may still make room);
 * - `<base>:spent`  the sum of the units in the window, kept so a take needs no full scan.
 *
 * Every write renews the four keys' expiry (a little over the window): an idle budget leaves nothing.
 */

/** Shared by the budget scripts: the server's clock in ms, the key expiry, number formatting. */
const PRELUDE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function touch(ttl)
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
local function fmt(n) return string.format('%.17g', n) end
`;

/**
 * KEYS: base, units, est, spent. ARGV: id, units, perMinute, estimate (1|0), windowMs, ttlMs.
 * Returns {1, now, 0, 0} when the units were recorded, else {0, now, ms until the window can make
 * room, estimates unsettled}. The rule is SlidingWindowBudget's: an empty window takes anything.
 */
export const TAKE_SCRIPT = `${PRELUDE}
local window = tonumber(ARGV[5])
local ttl = ARGV[6]
local cutoff = now - window
local spent = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #old > 0 then
  -- unpack() has a stack limit: expire in slices.
  for i = 1, #old, 500 do
    local ids = {unpack(old, i, math.min(i + 499, #old))}
    local units = redis.call('HMGET', KEYS[2], unpack(ids))
    for j = 1, #ids do spent = spent - (tonumber(units[j]) or 0) end
    redis.call('HDEL', KEYS[2], unpack(ids))
    redis.call('SREM', KEYS[3], unpack(ids))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
end
if spent < 0 or redis.call('ZCARD', KEYS[1]) == 0 then spent = 0 end
local amount = tonumber(ARGV[2])
local perMinute = tonumber(ARGV[3])
if spent == 0 or spent + amount <= perMinute then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
  redis.call('SET', KEYS[4], fmt(spent + amount))
  touch(ttl)
  return {1, now, 0, 0}
end
if #old > 0 then
  redis.call('SET', KEYS[4], fmt(spent))
  touch(ttl)
end
-- No room: walk the oldest entries until enough would have left.
local need = spent + math.min(amount, perMinute) - perMinute
local freed = 0
local wait = window
local offset = 0
local found = false
while not found do
  local batch = redis.call('ZRANGE', KEYS[1], offset, offset + 199, 'WITHSCORES')
  if #batch == 0 then break end
  local ids = {}
  for i = 1, #batch, 2 do ids[#ids + 1] = batch[i] end
  local units = redis.call('HMGET', KEYS[2], unpack(ids))
  for j = 1, #ids do
    freed = freed + (tonumber(units[j]) or 0)
    if freed >= need then
      wait = tonumber(batch[2 * j]) + window - now
      found = true
      break
    end
  end
  offset = offset + 200
end
return {0, now, math.max(1, math.ceil(wait)), redis.call('SCARD', KEYS[3])}
`;

/**
 * KEYS: base, units, est, spent. ARGV: id, actual units ('' to keep the estimate), windowMs, ttlMs,
 * channel, message. The estimate is no longer pending; `actual` replaces its units while the entry
 * is in the window. Publishes `message` so that waiting takes, in every process, look again.
 * Returns 1 when the entry was still in the window, 0 when it had left it.
 */
export const SETTLE_SCRIPT = `${PRELUDE}
redis.call('SREM', KEYS[3], ARGV[1])
local at = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
local inWindow = at ~= nil and at > now - tonumber(ARGV[3])
if inWindow and ARGV[2] ~= '' then
  local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') or 0
  local spent = (tonumber(redis.call('GET', KEYS[4]) or '0') or 0) + tonumber(ARGV[2]) - old
  if spent < 0 then spent = 0 end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SET', KEYS[4], fmt(spent))
  touch(ARGV[4])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
if inWindow then return 1 end
return 0
`;

/**
 * KEYS: the cooldown's key. ARGV: until (ms since the epoch), ttlMs, channel, message. A cooldown
 * only ever lengthens (as in memory); a new one is published to every process's mirror.
 */
export const COOL_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;
