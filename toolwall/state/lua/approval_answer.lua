-- Answer a pending approval, or say why it cannot be (toolwall.state.redis_approvals).
--
-- KEYS  the record's hash
-- ARGV  now, the answer ('approved' | 'denied' | 'timeout'), by, note
--
-- Reply: {'ok'}, {'missing'}, or {'not pending', status} (an expired request is marked so).

local record = KEYS[1]
local now = tonumber(ARGV[1])
local status = redis.call('HGET', record, 'status')
if not status then return {'missing'} end
if status == 'pending' and now >= tonumber(redis.call('HGET', record, 'expires')) then
  redis.call('HSET', record, 'status', 'expired')
  status = 'expired'
end
if status ~= 'pending' then return {'not pending', status} end
redis.call('HSET', record, 'status', ARGV[2], 'answered', ARGV[1], 'by', ARGV[3], 'note', ARGV[4])
return {'ok'}
