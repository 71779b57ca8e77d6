-- Write the state marker KEYS[1] (a hash) when there is none: born_at = ARGV[1] (the server's
-- time, read just before), instance = ARGV[2], recovery = ARGV[3]. One writer wins.
-- Answers {1 if this call wrote it else 0, the marker's fields and values}.
-- Loaded by bot/store/meta.py.
local created = 0
if redis.call('exists', KEYS[1]) == 0 then
  redis.call('hset', KEYS[1], 'born_at', ARGV[1], 'instance', ARGV[2], 'recovery', ARGV[3])
  created = 1
end
return {created, redis.call('hgetall', KEYS[1])}
