-- Take back a reserved call that did not run (toolwall.state.redis).
--
-- KEYS[1]  the session's hash (or the caller's): routes the script
-- ARGV     base, session id ('' for none), caller key, tool, reservation id
--
-- Only what this reservation added goes: the counts of the session are decremented only if
-- its own entry is still there, so a session that expired and started afresh meanwhile (or
-- forgot the entry to stay within capacity, which leaves a count too high: stricter) is never
-- decremented below what it really did.

local base, sid, ckey, tool, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

if sid ~= '' then
  local S = base .. 's:' .. sid
  if redis.call('ZREM', base .. 'w:s:' .. sid .. '\0' .. tool, rid) == 1 then
    redis.call('LREM', base .. 'o:s:' .. sid, -1, tool)
    redis.call('HINCRBY', S, 'logged', -1)
    local n = tonumber(redis.call('HGET', S, 'n:' .. tool) or '0')
    if n > 1 then
      redis.call('HINCRBY', S, 'n:' .. tool, -1)
    elseif n == 1 then
      redis.call('HDEL', S, 'n:' .. tool)
      redis.call('HINCRBY', S, 'tools', -1)
    end
    if n > 0 then redis.call('HINCRBY', S, 'calls', -1) end
  end
end

local C = base .. 'c:' .. ckey
if ckey ~= '' and redis.call('ZREM', base .. 'w:c:' .. ckey .. '\0' .. tool, rid) == 1 then
  redis.call('LREM', base .. 'o:c:' .. ckey, -1, tool)
  redis.call('HINCRBY', C, 'logged', -1)
  if redis.call('HINCRBY', C, 'e:' .. tool, -1) <= 0 then
    redis.call('HDEL', C, 'e:' .. tool)
  end
end
return 1
