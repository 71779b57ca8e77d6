-- Take a failure that nobody owns, in one step: the first taker wins.
-- KEYS[1] the owner key, KEYS[2] the taker's "mine" set; ARGV[1] taker, ARGV[2] payment id.
-- Returns "" when taken now, else the current owner (the taker included).
local cur = redis.call('GET', KEYS[1])
if cur then
  return cur
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return ''
