-- Count, sum and page the failures of a candidate zset (scored by paid time) that pass
-- range filters, one pass inside Redis (for a list with several filters: the candidates are
-- the intersection of its value filters).
-- KEYS: 1 the candidates, 2 by:amount (scores: millionths), 3.. more by-zsets to bound.
-- ARGV: 1 offset, 2 limit, then a (min, max) pair of scores per KEYS[2..] ('-inf', '+inf'
-- for none). Answers {count, whole units, millionths, id, id, ...}: the ids of the page,
-- newest paid first; the sum split at the decimal point so no digit is lost.
-- add_millionths() is prepended from add_millionths.lua. Loaded by bot/store/open_query.py.
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local bounds = {}
for k = 2, #KEYS do
  bounds[k] = {tonumber(ARGV[1 + 2 * (k - 1)]), tonumber(ARGV[2 + 2 * (k - 1)])}
end
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local count, sum, page = 0, {0, 0}, {}
for _, id in ipairs(ids) do
  local keep, amount = true, nil
  for k = 2, #KEYS do
    local score = redis.call('ZSCORE', KEYS[k], id)
    if not score then keep = false break end
    local v = tonumber(score)
    if v < bounds[k][1] or v > bounds[k][2] then keep = false break end
    if k == 2 then amount = v end
  end
  if keep then
    if count >= offset and count < offset + limit then page[#page + 1] = id end
    count = count + 1
    add_millionths(sum, string.format('%.0f', amount))
  end
end
local out = {string.format('%.0f', count), string.format('%.0f', sum[1]),
  string.format('%.0f', sum[2])}
for _, id in ipairs(page) do out[#out + 1] = id end
return out
