-- Store a new pending approval (toolwall.state.redis_approvals).
--
-- KEYS  the record's hash, the call's index (its newest approval id), the list of approvals
-- ARGV  approval id, created (the list's score), ms to keep it, the most approvals listed,
--       then the record's fields and values
--
-- Reply: 1, or 0 when the id is taken (the caller draws another).

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
-- The list is for people (`toolwall approvals list`); its oldest entries go beyond the bound,
-- and entries whose record has expired are skipped when listed.
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if extra > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1) end
return 1
