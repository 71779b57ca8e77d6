-- The newest-paid ``ARGV[1]`` failures among the zsets KEYS (each scored by paid time),
-- without a union: the top ARGV[1] of each key, merged by picking the best head each time.
-- Cost: keys x ARGV[1], whatever the zsets hold. A failure in several keys counts once.
-- Answers {id, score, id, score, ...}, newest first (ties: larger id first, as ZREVRANGE
-- orders). Loaded by bot/store/open_query.py.
local want = tonumber(ARGV[1])
local lists, heads, scores = {}, {}, {}
for k, key in ipairs(KEYS) do
  lists[k] = redis.call('ZREVRANGE', key, 0, want - 1, 'WITHSCORES')
  heads[k] = 1
  if #lists[k] > 0 then scores[k] = tonumber(lists[k][2]) end
end
local out, seen = {}, {}
while #out < 2 * want do
  local best, bs, bid = nil, nil, nil
  for k = 1, #KEYS do
    local s = scores[k]
    if s then
      local id = lists[k][heads[k]]
      if not best or s > bs or (s == bs and id > bid) then best, bs, bid = k, s, id end
    end
  end
  if not best then break end
  local l, h = lists[best], heads[best]
  if not seen[bid] then
    seen[bid] = true
    out[#out + 1] = bid
    out[#out + 1] = l[h + 1]
  end
  heads[best] = h + 2
  if heads[best] > #l then scores[best] = nil else scores[best] = tonumber(l[h + 3]) end
end
return out
