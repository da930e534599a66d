-- One turn of a decision, atomically: read what the tool's rules need, and record the call.
-- (toolwall.state.redis; the same arithmetic as toolwall.state.windows and sqlite_state.)
--
-- KEYS[1]   the session's hash (or the caller's, for a call without a session): routes the
--           script; every key of one key_prefix shares its hash tag, so one slot holds them all
-- ARGV      base, session id ('' for none), caller key ('' for none), tool, ttl ms, max tools per session,
--           capacity (calls remembered per owner), read (1/0), record (1/0), reservation id,
--           then the number of session windows and their seconds, then the same for the caller
--
-- Keys: S = base..'s:'..session  hash: calls, tainted, tools, logged, horizon,
--                                       'n:'..tool (calls per tool), 't:'..tool (taint sources)
--       base..'o:s:'..session    list: the tool of each remembered call, oldest first
--       base..'w:s:'..session..'\0'..tool   sorted set: reservation id -> time of the call
--       C = base..'c:'..caller   hash: logged, horizon, 'e:'..tool (remembered calls per tool)
--       base..'o:c:'.., base..'w:c:'..   as for the session
--
-- Reply: {'ok', now, session hash (flat), session window counts (flat: window index, tool,
--         count), caller horizon, caller window counts} or {'full', tools} when the session
--         may not call one more distinct tool (nothing is written then).

local base, sid, ckey, tool = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl = tonumber(ARGV[5])
local max_tools = tonumber(ARGV[6])
local capacity = tonumber(ARGV[7])
local read = ARGV[8] == '1'
local record = ARGV[9] == '1'
local rid = ARGV[10]
local nwin = tonumber(ARGV[11])
local ncwin = tonumber(ARGV[12 + nwin])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000

local S = base .. 's:' .. sid
local SO = base .. 'o:s:' .. sid
local SW = base .. 'w:s:' .. sid .. '\0'
local C = base .. 'c:' .. ckey
local CO = base .. 'o:c:' .. ckey
local CW = base .. 'w:c:' .. ckey .. '\0'
local has_session = sid ~= ''
local has_caller = ckey ~= ''

-- Calls per tool within each window, for the tools named by fields with `prefix` in `hash`.
local function within(hash, prefix, logs, first, count)
  local out = {}
  if count == 0 then return out end
  local cutoffs = {}
  for w = 1, count do
    cutoffs[w] = '(' .. string.format('%.6f', now - tonumber(ARGV[first + w]))
  end
  local plen = string.len(prefix)
  for i = 1, #hash, 2 do
    local field = hash[i]
    if string.sub(field, 1, plen) == prefix then
      local name = string.sub(field, plen + 1)
      for w = 1, count do
        local n = redis.call('ZCOUNT', logs .. name, cutoffs[w], '+inf')
        if n > 0 then
          out[#out + 1] = w
          out[#out + 1] = name
          out[#out + 1] = n
        end
      end
    end
  end
  return out
end

-- Remember the call's time for an owner; forget its oldest beyond `capacity`, moving the
-- horizon up to the newest time forgotten.
local function remember(meta, order, logs, per_tool)
  redis.call('ZADD', logs .. tool, now, rid)
  redis.call('PEXPIRE', logs .. tool, ttl)
  redis.call('RPUSH', order, tool)
  if per_tool then redis.call('HINCRBY', meta, 'e:' .. tool, 1) end
  local logged = redis.call('HINCRBY', meta, 'logged', 1)
  while logged > capacity do
    local old = redis.call('LPOP', order)
    if not old then
      redis.call('HSET', meta, 'logged', 0)
      break
    end
    local popped = redis.call('ZPOPMIN', logs .. old)
    if popped[2] then
      local at = tonumber(popped[2])
      local horizon = redis.call('HGET', meta, 'horizon')
      if not horizon or at > tonumber(horizon) then
        redis.call('HSET', meta, 'horizon', string.format('%.17g', at))
      end
      if per_tool and redis.call('HINCRBY', meta, 'e:' .. old, -1) <= 0 then
        redis.call('HDEL', meta, 'e:' .. old)
      end
    end
    logged = redis.call('HINCRBY', meta, 'logged', -1)
  end
  redis.call('PEXPIRE', order, ttl)
end

local session = {}
local windows = {}
if read and has_session then
  session = redis.call('HGETALL', S)
  windows = within(session, 'n:', SW, 11, nwin)
end
local caller_horizon = false
local caller_windows = {}
if read and has_caller and ncwin > 0 then
  local caller = redis.call('HGETALL', C)
  caller_windows = within(caller, 'e:', CW, 12 + nwin, ncwin)
  caller_horizon = redis.call('HGET', C, 'horizon')
end

if record then
  if has_session and redis.call('HEXISTS', S, 'n:' .. tool) == 0 then
    local tools = tonumber(redis.call('HGET', S, 'tools') or '0')
    if tools >= max_tools then
      return {'full', tools}
    end
    redis.call('HINCRBY', S, 'tools', 1)
  end
  if has_session then
    redis.call('HINCRBY', S, 'n:' .. tool, 1)
    redis.call('HINCRBY', S, 'calls', 1)
    remember(S, SO, SW, false)
  end
  if has_caller then
    remember(C, CO, CW, true)
    redis.call('PEXPIRE', C, ttl)
  end
end
if has_session then
  -- A turn is activity: the session lives session_ttl_s after its last one.
  redis.call('PEXPIRE', S, ttl)
  redis.call('PEXPIRE', SO, ttl)
end

return {'ok', string.format('%.6f', now), session, windows, caller_horizon, caller_windows}
