-- Use an approval once, for exactly the call it was given for, before it expires
-- (toolwall.state.redis_approvals): the check and the use are one step, so of two replicas
-- asking at once, one gets it.
--
-- KEYS  the record's hash
-- ARGV  now, the digest of the call about to run
--
-- Reply: {1 if used now else 0, the record's fields and values as they stand}.

local record = KEYS[1]
local now = tonumber(ARGV[1])
local fields = redis.call('HMGET', record, 'status', 'digest', 'consumed', 'expires')
local used = 0
if fields[1] == 'approved' and fields[2] == ARGV[2] and not fields[3]
    and now < tonumber(fields[4]) then
  redis.call('HSET', record, 'consumed', ARGV[1])
  used = 1
end
return {used, redis.call('HGETALL', record)}
