-- Forget a session: its hash, its order list and the call log of each of its tools.
--
-- KEYS[1]  the session's hash
-- ARGV     base, session id

local base, sid = ARGV[1], ARGV[2]
local hash = redis.call('HGETALL', KEYS[1])
for i = 1, #hash, 2 do
  if string.sub(hash[i], 1, 2) == 'n:' then
    redis.call('DEL', base .. 'w:s:' .. sid .. '\0' .. string.sub(hash[i], 3))
  end
end
redis.call('DEL', KEYS[1], base .. 'o:s:' .. sid)
return 1
