-- Shared: prepended by bot/store/open_query.py to each script that adds amounts
-- (sum_totals.lua, filter_page.lua, filter_rows.lua).
-- add_millionths(sum, m) adds the amount m, in millionths as text, to sum = {whole units,
-- millionths}, split at the decimal point first so that no digit is lost to Lua's doubles.
local function add_millionths(sum, m)
  local sign = 1
  if string.sub(m, 1, 1) == '-' then sign, m = -1, string.sub(m, 2) end
  if #m > 6 then
    sum[1] = sum[1] + sign * tonumber(string.sub(m, 1, -7))
    sum[2] = sum[2] + sign * tonumber(string.sub(m, -6))
  else
    sum[2] = sum[2] + sign * tonumber(m)
  end
end
