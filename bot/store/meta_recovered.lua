-- The poll cycle recovered from Slack: clear the 'recovery' field of the state marker KEYS[1],
-- only while the marker is still the one born at ARGV[1] (not one written after a newer loss).
-- Loaded by bot/store/meta.py.
if redis.call('hget', KEYS[1], 'born_at') == ARGV[1] then
  return redis.call('hdel', KEYS[1], 'recovery')
end
return 0
