-- Shared by index_failure.lua and team_index.lua (prepended to each when loaded, by
-- bot/store/records.py and bot/store/team.py): the team's index tags of one failure, read
-- from the team keys, which stay apart from the record (so a save never undoes a take).
-- owner_key: "P team:owner:<id>" ('-' for none), snooze_key: "P team:snooze:<id>".
-- Answers {dim, value, zset key[, 's']} tags: the owner (when one), the state
-- (snoozed/active), and the queue 'unowned' when active and nobody's. A fourth element 's'
-- scores the tag's zset by first-seen time (row.s) instead of paid time (row.p): score_of().
local function team_tags(owner_key, snooze_key)
  local tags = {}
  if owner_key == '-' then return tags end
  local owner = redis.call('GET', owner_key)
  if owner then tags[#tags + 1] = {'owner', owner, 'ix:owner:' .. owner} end
  local state = 'active'
  if redis.call('EXISTS', snooze_key) == 1 then state = 'snoozed' end
  tags[#tags + 1] = {'state', state, 'ix:state:' .. state}
  if not owner and state == 'active' then
    tags[#tags + 1] = {'queue', 'unowned', 'ix:queue:unowned', 's'}
  end
  return tags
end

local function score_of(tag, row)
  if tag[4] == 's' then return row.s end
  return row.p
end
