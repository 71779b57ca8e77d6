-- The newest-paid ``ARGV[1]`` failures among the zsets KEYS (each scored by paid time),
-- without a union: the top ARGV[1] of each key, merged. Cost: keys x ARGV[1], whatever the
-- zsets hold. A failure in several keys counts once. Answers {id, score, id, score, ...},
-- newest first (ties: larger id first, as ZREVRANGE orders). Loaded by
-- bot/store/open_query.py.
local want = tonumber(ARGV[1])
local seen, all = {}, {}
for _, key in ipairs(KEYS) do
  local got = redis.call('ZREVRANGE', key, 0, want - 1, 'WITHSCORES')
  for i = 1, #got, 2 do
    local id = got[i]
    if not seen[id] then
      seen[id] = true
      all[#all + 1] = {id, tonumber(got[i + 1]), got[i + 1]}
    end
  end
end
table.sort(all, function(a, b)
  if a[2] ~= b[2] then return a[2] > b[2] end
  return a[1] > b[1]
end)
local out = {}
for i = 1, math.min(want, #all) do
  out[#out + 1] = all[i][1]
  out[#out + 1] = all[i][3]
end
return out
