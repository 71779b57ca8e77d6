-- Bring the team's indexes (owner, state, queue) of one failure in step with its team keys,
-- after a take, reassign, release, snooze or wake: run in the same MULTI as the change (or
-- after take_owner.lua, in the same transaction). Nothing when the failure is not open (no row:
-- resolved failures carry no index row).
-- KEYS: 1 the owner key, 2 the snooze key. ARGV: 1 the index prefix ("P{P idx}"), 2 the
-- payment id. Answers 1 when the failure is open and was re-tagged, else 0.
-- team_tags() is prepended from team_tags.lua. Loaded by bot/store/team.py.
local ix, pid = ARGV[1], ARGV[2]
local raw = redis.call('HGET', ix .. ':row', pid)
if not raw then return 0 end
local row = cjson.decode(raw)

local function neg(a)
  if a == '0' then return '0' end  -- Redis refuses '-0' as an integer
  if string.sub(a, 1, 1) == '-' then return string.sub(a, 2) end
  return '-' .. a
end

local kept = {}
for _, t in ipairs(row.t) do
  if t[1] == 'owner' or t[1] == 'state' or t[1] == 'queue' then
    local n, m = ix .. ':n:' .. t[1], ix .. ':m:' .. t[1]
    redis.call('ZREM', ix .. ':' .. t[3], pid)
    if redis.call('HINCRBY', n, t[2], -1) <= 0 then
      redis.call('HDEL', n, t[2])
      redis.call('HDEL', m, t[2])
      redis.call('HINCRBY', ix .. ':values', t[1], 1)
    else
      redis.call('HINCRBY', m, t[2], neg(row.a))
    end
  else
    kept[#kept + 1] = t
  end
end
for _, t in ipairs(team_tags(KEYS[1], KEYS[2])) do
  redis.call('ZADD', ix .. ':' .. t[3], score_of(t, row), pid)
  if redis.call('HINCRBY', ix .. ':n:' .. t[1], t[2], 1) == 1 then
    redis.call('HINCRBY', ix .. ':values', t[1], 1)
  end
  redis.call('HINCRBY', ix .. ':m:' .. t[1], t[2], row.a)
  kept[#kept + 1] = t
end
row.t = kept
redis.call('HSET', ix .. ':row', pid, cjson.encode(row))
return 1
