-- One page of open failures, filtered and paged inside Redis (for /failed-payments list).
--
-- Reads the open zset KEYS[1] (newest paid first) and each row's summary JSON from the hash
-- KEYS[2], keeps the rows matching the filters, and answers their count, their amounts' sum
-- (as exact whole and millionth parts, so no float touches money) and one page of raw
-- summaries: {'ok', count, sum_whole, sum_frac, page}. This keeps a list over 10,000 open
-- failures to one round trip of a few kilobytes. Answers {'fallback'} when a row is not in
-- the form it understands; the caller then filters in Python.
--
-- ARGV: 1 needle (lowercased customer text, '' for any), 2-3 minimum amount as whole and
-- millionth parts ('' for none), 4 cutoff as epoch seconds ('' for none), 5 offset,
-- 6 limit, 7 cause ('' for any), 8 '1' when the needle has Latin-1 letters, 9 the cutoff as
-- YYYY-MM-DDTHH:MM:SS in UTC. Loaded by bot/store/records.py.

local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
local needle = ARGV[1]
local min_set = ARGV[2] ~= ''
local min_whole = tonumber(ARGV[2]) or 0
local min_frac = tonumber(ARGV[3]) or 0
local cutoff_set = ARGV[4] ~= ''
local cutoff = tonumber(ARGV[4]) or 0
local offset = tonumber(ARGV[5])
local limit = tonumber(ARGV[6])
local cause = ARGV[7]
local cutoff_text = ARGV[9]  -- the cutoff as YYYY-MM-DDTHH:MM:SS in UTC
local latin1 = ARGV[8] == '1'  -- the needle has Latin-1 letters: lowercase those in names too

local function lower(name)
  name = string.lower(name)
  if latin1 then  -- U+00C0..U+00DE (but U+00D7) -> +0x20, as UTF-8 C3 80..9E -> C3 A0..BE
    name = string.gsub(name, '\195([\128-\158])', function(c)
      if c == '\151' then return '\195' .. c end
      return '\195' .. string.char(string.byte(c) + 32)
    end)
  end
  return name
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function epoch(s)
  local y, mo, d, h, mi, se, rest = string.match(s,
    '^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$')
  if not y then return nil end
  rest = string.gsub(rest, '^%.%d+', '')
  local off = 0
  if rest ~= 'Z' then
    local sign, oh, om = string.match(rest, '^([+-])(%d%d):(%d%d)$')
    if not sign then return nil end
    off = tonumber(oh) * 3600 + tonumber(om) * 60
    if sign == '-' then off = -off end
  end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se) - off
end

local function money(s)
  local sign, whole, frac = string.match(s, '^(-?)(%d+)%.?(%d*)$')
  if not whole or #frac > 6 or #whole > 13 then return nil end
  frac = frac .. string.rep('0', 6 - #frac)
  local w, f = tonumber(whole), tonumber(frac)
  if sign == '-' then w, f = -w, -f end
  return w, f
end

-- Fields are read from the JSON text without decoding it all (pydantic writes each key once,
-- and a quote inside a string value is escaped, so '"amount":"' cannot occur inside one).
local function field(raw, key)
  return string.match(raw, '"' .. key .. '":"([^"]*)"')
end

local function customer_of(raw)
  local _, start = string.find(raw, '"customer":"', 1, true)
  if not start then return nil end
  local i = start + 1
  while true do
    local q = string.find(raw, '"', i, true)
    if not q then return nil end
    local slashes, k = 0, q - 1
    while string.byte(raw, k) == 92 do slashes = slashes + 1; k = k - 1 end
    if slashes % 2 == 0 then
      local value = string.sub(raw, start + 1, q - 1)
      if string.find(value, '\\', 1, true) then  -- escapes: decode for an exact match
        local ok, row = pcall(cjson.decode, raw)
        if not ok or type(row) ~= 'table' or type(row['customer']) ~= 'string' then
          return nil
        end
        return row['customer']
      end
      return value
    end
    i = q + 1
  end
end

local count, sum_whole, sum_frac = 0, 0, 0
local page = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    local keep = true
    if cause ~= '' and field(raw, 'cause') ~= cause then keep = false end
    local amount = field(raw, 'amount')
    if not amount then return {'fallback'} end
    local w, f = money(amount)
    if not w then return {'fallback'} end
    if keep and min_set then
      if w < min_whole or (w == min_whole and f < min_frac) then keep = false end
    end
    if keep and needle ~= '' then
      local name = customer_of(raw)
      if not name then return {'fallback'} end
      if not string.find(lower(name), needle, 1, true) then keep = false end
    end
    if keep and cutoff_set then
      local seen = field(raw, 'first_seen_at')
      if not seen then return {'fallback'} end
      if #seen >= 20 and string.sub(seen, -1) == 'Z' and string.sub(seen, 20, 20) ~= ','
          and string.sub(seen, 11, 11) == 'T' then
        -- UTC as pydantic writes it: compare the text to the second, no parsing
        if string.sub(seen, 1, 19) > cutoff_text then keep = false end
      else
        local t = epoch(seen)
        if not t then return {'fallback'} end
        if t > cutoff then keep = false end
      end
    end
    if keep then
      if count >= offset and count < offset + limit then page[#page + 1] = raw end
      count = count + 1
      sum_whole = sum_whole + w
      sum_frac = sum_frac + f
    end
  end
end
return {'ok', tostring(count), string.format('%.0f', sum_whole), string.format('%.0f', sum_frac),
  page}
