-- Mark a session tainted by a result of `tool` (toolwall.state.redis).
--
-- KEYS[1]  the session's hash
-- ARGV     tool, ttl ms, the most taint sources kept (they are for people reading the state)

local S = KEYS[1]
redis.call('HSET', S, 'tainted', 1)
if redis.call('HEXISTS', S, 't:' .. ARGV[1]) == 0 then
  local kept = tonumber(redis.call('HGET', S, 'sources') or '0')
  if kept < tonumber(ARGV[3]) then
    redis.call('HSET', S, 't:' .. ARGV[1], 1)
    redis.call('HINCRBY', S, 'sources', 1)
  end
end
redis.call('PEXPIRE', S, tonumber(ARGV[2]))
return 1
