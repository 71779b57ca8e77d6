-- Save a failure record and bring every index in step with it, in one atomic step.
--
-- KEYS: 1 the record key, 2 the payment's lease key (read only when ARGV[2] is set), 3 the
-- payment's team owner key and 4 its team snooze key ('-': no team tags), read to tag an
-- open failure with its owner and state (team_tags(), prepended from team_tags.lua), so a
-- save after a take keeps the owner index right.
-- ARGV: 1 the record bytes ('' to leave the record alone: an index rebuild), 2 the lease
-- token the saver must still hold ('' for none), 3 the index prefix ("P{P idx}"), 4 the
-- payment id, 5 its CB reference upper-cased, 6 '1' open / '0' resolved, 7 the resolved
-- score, 8 the summary JSON, 9 the row JSON (indexes.row_of; '' when resolved), 10 '1' to
-- index only while the summary hash still holds ARGV[8] (a rebuild must not bring back a
-- failure resolved meanwhile), 11 the index version to mark a brand-new store with (its
-- first open failure: everything in it is then indexed by this release), 12.. zset keys
-- (under the prefix) the id is taken out of whatever its old row says (the per-cause zsets
-- of records indexed before rows existed).
-- Every index key shares the hash tag of ARGV[3]. Answers 1, or 0 when nothing was done.
-- Amounts are integers in millionths, kept as text: Lua numbers would lose digits.
-- Loaded by bot/store/records.py.
local ix, pid = ARGV[3], ARGV[4]
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if ARGV[10] == '1' and redis.call('HGET', ix .. ':summary', pid) ~= ARGV[8] then return 0 end
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1]) end

local function neg(a)
  if a == '0' then return a end  -- "-0" is not an integer to HINCRBY
  if string.sub(a, 1, 1) == '-' then return string.sub(a, 2) end
  return '-' .. a
end

local old = redis.call('HGET', ix .. ':row', pid)
if old then
  local row = cjson.decode(old)
  for _, t in ipairs(row.t) do
    local n, m = ix .. ':n:' .. t[1], ix .. ':m:' .. t[1]
    if t[3] ~= '' then redis.call('ZREM', ix .. ':' .. t[3], pid) end
    if redis.call('HINCRBY', n, t[2], -1) <= 0 then
      redis.call('HDEL', n, t[2])
      redis.call('HDEL', m, t[2])
      redis.call('HINCRBY', ix .. ':values', t[1], 1)  -- the index's values changed
    else
      redis.call('HINCRBY', m, t[2], neg(row.a))
    end
  end
  redis.call('HDEL', ix .. ':row', pid)
end
redis.call('ZREM', ix .. ':by:amount', pid)
redis.call('ZREM', ix .. ':by:seen', pid)
for i = 12, #ARGV do redis.call('ZREM', ix .. ':' .. ARGV[i], pid) end

if ARGV[5] ~= '' then redis.call('HSET', ix .. ':ref', ARGV[5], pid) end
if ARGV[6] == '1' then
  if ARGV[11] ~= '' and redis.call('HLEN', ix .. ':summary') == 0 then
    redis.call('SETNX', ix .. ':version', ARGV[11])
  end
  local row = cjson.decode(ARGV[9])
  local saved = ARGV[9]
  local team = team_tags(KEYS[3] or '-', KEYS[4] or '-')
  if #team > 0 then
    for _, t in ipairs(team) do row.t[#row.t + 1] = t end
    saved = cjson.encode(row)
  end
  for _, t in ipairs(row.t) do
    if t[3] ~= '' then redis.call('ZADD', ix .. ':' .. t[3], score_of(t, row), pid) end
    if redis.call('HINCRBY', ix .. ':n:' .. t[1], t[2], 1) == 1 then
      redis.call('HINCRBY', ix .. ':values', t[1], 1)  -- a new value of the index
    end
    redis.call('HINCRBY', ix .. ':m:' .. t[1], t[2], row.a)
  end
  redis.call('ZADD', ix .. ':by:amount', row.a, pid)
  redis.call('ZADD', ix .. ':by:seen', row.s, pid)
  redis.call('HSET', ix .. ':row', pid, saved)
  redis.call('HSET', ix .. ':summary', pid, ARGV[8])
  redis.call('ZREM', ix .. ':resolved', pid)
else
  redis.call('ZREM', ix .. ':open', pid)
  redis.call('HDEL', ix .. ':summary', pid)
  redis.call('ZADD', ix .. ':resolved', ARGV[7], pid)
end
return 1
