-- Set KEYS[2] to ARGV[2] only while the lease at KEYS[1] still holds ARGV[1] (its token):
-- a failure record saved during a remedy, by the process that holds the payment's lease.
-- Answers 1 when it wrote the record, 0 when the lease was gone or someone else's.
-- Loaded by bot/store/records.py.
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[2], ARGV[2])
  return 1
end
return 0
