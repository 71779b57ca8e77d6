-- Take an expired resolved failure out of the indexes. KEYS: 1 the resolved zset, 2 the
-- reference hash, 3 the summary hash, 4 the open zset (one hash tag: one Cluster slot).
-- ARGV: 1 the payment id; 2 its CB reference ('' when unknown); 3 the cut-off (Unix time):
-- only an entry resolved before it is removed, so a failure resolved again meanwhile keeps
-- its fresh entry; 4 '1' when its record is gone (then its reference and summary go too,
-- unless it is open again), '0' to drop the resolved entry alone (a record not resolved).
-- Answers 1 when the resolved entry was removed, else 0. Loaded by bot/store/retention.py.
local removed = 0
local score = redis.call('zscore', KEYS[1], ARGV[1])
if score and tonumber(score) < tonumber(ARGV[3]) then
  removed = redis.call('zrem', KEYS[1], ARGV[1])
end
if ARGV[4] ~= '1' or redis.call('zscore', KEYS[4], ARGV[1]) then return removed end
if ARGV[2] ~= '' and redis.call('hget', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('hdel', KEYS[2], ARGV[2])
end
redis.call('hdel', KEYS[3], ARGV[1])
return removed
