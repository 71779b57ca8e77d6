-- Count, sum and page the open failures of a few candidate zsets that pass every other
-- filter, each candidate tested against its index row inside Redis: for a list whose
-- smallest filter is a value filter (a customer, an owner, the snoozed), its failures are
-- the candidates, so the cost follows them, not the other filters' failures.
-- KEYS: 1 the row hash (indexes.row_of), 2.. the candidate zsets (their union is tested).
-- ARGV: 1 offset, 2 limit, 3 the tests as JSON: {"tags": [[dim, [value, ...]], ...], a
-- row passing when it has any of the values in each dim; "ranges": [[field, min, max],
-- ...], field "a" (amount, millionths) or "s" (first seen, epoch seconds), null for an open
-- end}. Answers {count, whole units, millionths, id, id, ...}: the page newest paid first
-- (ties: the greater id first, as ZREVRANGE has them); the sum exact (add_millionths,
-- prepended from add_millionths.lua). Loaded by bot/store/open_query.py.
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local spec = cjson.decode(ARGV[3])
local wanted = {}
for i, t in ipairs(spec.tags) do
  local allowed = {}
  for _, v in ipairs(t[2]) do allowed[v] = true end
  wanted[i] = {t[1], allowed}
end

local function passes(row)
  for _, w in ipairs(wanted) do
    local hit = false
    for _, t in ipairs(row.t) do
      if t[1] == w[1] and w[2][t[2]] then hit = true break end
    end
    if not hit then return false end
  end
  for _, r in ipairs(spec.ranges) do
    local v = tonumber(row[r[1]])
    if r[2] ~= cjson.null and v < r[2] then return false end
    if r[3] ~= cjson.null and v > r[3] then return false end
  end
  return true
end

local seen, kept = {}, {}
for k = 2, #KEYS do
  for _, id in ipairs(redis.call('ZRANGE', KEYS[k], 0, -1)) do
    if not seen[id] then
      seen[id] = true
      local raw = redis.call('HGET', KEYS[1], id)
      if raw then
        local row = cjson.decode(raw)
        if passes(row) then kept[#kept + 1] = {tonumber(row.p), id, row.a} end
      end
    end
  end
end
table.sort(kept, function(x, y)
  if x[1] ~= y[1] then return x[1] > y[1] end
  return x[2] > y[2]
end)
local sum = {0, 0}
for _, k in ipairs(kept) do add_millionths(sum, k[3]) end
local out = {string.format('%.0f', #kept), string.format('%.0f', sum[1]),
  string.format('%.0f', sum[2])}
for i = offset + 1, math.min(#kept, offset + limit) do out[#out + 1] = kept[i][2] end
return out
