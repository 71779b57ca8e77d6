-- The running totals of many values of one index, added up inside Redis (a filter over
-- hundreds of customer names answers three numbers, not hundreds).
-- KEYS: 1 the index's count hash (n:<dim>), 2 its amount hash (m:<dim>, millionths as text).
-- ARGV: the values. Answers {count, whole units, millionths}, each as text: the amounts are
-- split at the decimal point before adding (add_millionths, prepended from
-- add_millionths.lua), so no digit is lost to Lua's doubles.
-- Loaded by bot/store/open_query.py.
local count, sum = 0, {0, 0}
local ns = redis.call('HMGET', KEYS[1], unpack(ARGV))
local ms = redis.call('HMGET', KEYS[2], unpack(ARGV))
for i = 1, #ARGV do
  if ns[i] then count = count + tonumber(ns[i]) end
  if ms[i] then add_millionths(sum, ms[i]) end
end
return {string.format('%.0f', count), string.format('%.0f', sum[1]),
  string.format('%.0f', sum[2])}
