-- Shared by index_failure.lua and team_index.lua (prepended to each when loaded, by
-- bot/store/records.py and bot/store/team.py): the team's index tags of one failure, read
-- from the team keys, which stay apart from the record (so a save never undoes a take).
-- owner_key: "P team:owner:<id>" ('-' for none), snooze_key: "P team:snooze:<id>".
-- Answers {dim, value, zset key} tags: the owner (when one) and the state (snoozed/active).
local function team_tags(owner_key, snooze_key)
  local tags = {}
  if owner_key == '-' then return tags end
  local owner = redis.call('GET', owner_key)
  if owner then tags[#tags + 1] = {'owner', owner, 'ix:owner:' .. owner} end
  local state = 'active'
  if redis.call('EXISTS', snooze_key) == 1 then state = 'snoozed' end
  tags[#tags + 1] = {'state', state, 'ix:state:' .. state}
  return tags
end
