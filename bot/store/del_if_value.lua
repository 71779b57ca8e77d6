-- Delete KEYS[1] only while it still holds ARGV[1]: a lease's token, a once-marker's value.
-- Answers 1 when it deleted the key, 0 when the key held something else or nothing.
-- Loaded by bot/store/coordination.py.
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
