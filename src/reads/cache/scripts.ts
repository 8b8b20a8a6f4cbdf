import { createHash } from 'node:crypto';

// The cache's Redis side. Every decision that compares versions runs inside one Lua script, so no
// write can slip between the check and the set (the race that let a stale replica read win in §3).
//
// An entry is a hash: s = 'v' (value) or 't' (tombstone); d = data; n = version; f = tombstone floor
// (the version a fill must reach); o = the last value before the tombstone (served only as "stale").
// Versions are 20-digit zero-padded decimals: WAL positions are 64-bit and Lua numbers are doubles,
// so versions are compared as two exact 10-digit halves.

const GTE = `
local function gte(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah > bh end
  return tonumber(string.sub(a, 11)) >= tonumber(string.sub(b, 11))
end
`;

/** KEYS: entry, lease. ARGV: owner, leaseMs. Returns {status, data, version}; status hit|lease|busy. */
export const READ_OR_LEASE = `
local e = redis.call('HMGET', KEYS[1], 's', 'd', 'n', 'o')
if e[1] == 'v' then return {'hit', e[2], e[3]} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'lease', '', ''} end
if e[4] then return {'busy-stale', e[4], ''} end
return {'busy', '', ''}
`;

/** KEYS: entry. Returns {status, data, version}; status hit|miss. */
export const READ_ONLY = `
local e = redis.call('HMGET', KEYS[1], 's', 'd', 'n')
if e[1] == 'v' then return {'hit', e[2], e[3]} end
return {'miss', '', ''}
`;

/**
 * KEYS: entry, lease. ARGV: owner, version, data, ttlMs.
 * Returns filled | refused_tombstone | refused_older | present.
 */
export const FILL = `${GTE}
local e = redis.call('HMGET', KEYS[1], 's', 'n', 'f')
local result = 'filled'
if e[1] == 't' and not gte(ARGV[2], e[3]) then
  result = 'refused_tombstone'
elseif e[1] == 'v' and ARGV[2] == e[2] then
  result = 'present'
elseif e[1] == 'v' and not gte(ARGV[2], e[2]) then
  result = 'refused_older'
else
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', 'v', 'd', ARGV[3], 'n', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return result
`;

/**
 * KEYS: entry. ARGV: version (the write's), tombstoneMs. Replaces the entry with a tombstone whose floor
 * is the highest write version seen, keeping the old value aside for stale serving.
 */
export const INVALIDATE = `${GTE}
local e = redis.call('HMGET', KEYS[1], 's', 'd', 'f', 'o')
local floor = ARGV[1]
if e[1] == 't' and e[3] and gte(e[3], floor) then floor = e[3] end
local old = e[4]
if e[1] == 'v' then old = e[2] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 't', 'f', floor)
if old then redis.call('HSET', KEYS[1], 'o', old) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return floor
`;

/** KEYS: entry. Returns {state, data, version, floor} for inspection. */
export const PEEK = `
local e = redis.call('HMGET', KEYS[1], 's', 'd', 'n', 'f')
return {e[1] or '', e[2] or '', e[3] or '', e[4] or ''}
`;

export const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');
