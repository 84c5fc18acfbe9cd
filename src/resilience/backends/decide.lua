-- Exact mode: one atomic decision. KEYS[1] the limit's ring.
-- ARGV: now_us ('' = server TIME), slot_us, buckets, channels (2 or 8), ttl_ms, limit, n, tier.
-- Channels: admitted per tier, then demand per tier; demand is always recorded.
-- Sliding window (1 tier): admit iff count + n <= limit.
-- Tiered (4 tiers): admit iff
--   sum(A_j, j >= tier) + n <= limit - sum(D_j, j < tier) and sum(A_j) + n <= limit,
--   A over the sliding window, D over the last complete window.
-- Reply: {1, repaired} when admitted; when rejected {0, repaired, now_us, total, used,
-- admissions of every tier per slot of the sliding window, oldest first}, from which the
-- client derives the reason and retry_after.
local key = KEYS[1]
local now = store_now_us(ARGV[1])
local slot_us, buckets = tonumber(ARGV[2]), tonumber(ARGV[3])
local channels, ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local limit, n, tier = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local size, tiers = buckets + 1, math.floor(channels / 2)
if tiers == 1 then tier = 1 end
local current = math.floor(now / slot_us)

-- One read in the common case: the head, and the newest and oldest slots' counts guessed
-- from the current slot (right unless the clock went back).
local function positions_of(slot)
  local fields = {}
  for ch = 0, channels - 1 do fields[#fields + 1] = (slot % size) .. ':' .. ch end
  for ch = 0, channels - 1 do fields[#fields + 1] = ((slot + 1) % size) .. ':' .. ch end
  return fields
end
local fields = positions_of(current)
local values, newest, totals, repaired = read_head(key, channels, fields)
local state
newest, state = advance(key, size, channels, newest, current, totals)
if state == 'repaired' then repaired = 1 end
if newest ~= current then  -- the clock went back: count in the newest slot
  values = redis.call('HMGET', key, unpack(positions_of(newest)))
end
local latest, oldest = zeros(channels), zeros(channels)
if state == 'same' or state == 'moved' then
  for ch = 1, channels do
    local a, b = count_of(values[ch]), count_of(values[channels + ch])
    if a == nil or b == nil then
      redis.call('DEL', key)
      repaired, totals = 1, zeros(channels)
      latest, oldest = zeros(channels), zeros(channels)
      break
    end
    oldest[ch] = b
    -- A moved ring starts its newest slot empty; what was read there was an expired slot.
    if state == 'same' then latest[ch] = a end
  end
end

local total, used, reserved = 0, 0, 0
for j = 1, tiers do
  local window = totals[j] - oldest[j]
  total = total + window
  if j >= tier then used = used + window end
end
for j = 1, tier - 1 do reserved = reserved + totals[tiers + j] - latest[tiers + j] end
local allowed = total + n <= limit and used + n <= limit - reserved

local p = newest % size
local demand = tiers + tier
local writes = {'c', newest, p .. ':' .. (demand - 1), latest[demand] + n,
  'T:' .. (demand - 1), totals[demand] + n}
if allowed then
  writes[#writes + 1] = p .. ':' .. (tier - 1)
  writes[#writes + 1] = latest[tier] + n
  writes[#writes + 1] = 'T:' .. (tier - 1)
  writes[#writes + 1] = totals[tier] + n
end
redis.call('HSET', key, unpack(writes))
redis.call('PEXPIRE', key, ttl_ms)
if allowed then return {1, repaired} end

-- Rejected: the sliding window's admissions per slot, for retry_after.
local slots = {}
for s = newest - buckets + 1, newest do
  for ch = 0, tiers - 1 do slots[#slots + 1] = (s % size) .. ':' .. ch end
end
local counts = redis.call('HMGET', key, unpack(slots))
local reply = {0, repaired, now, total, used}
for i = 1, #counts, tiers do
  local sum = 0
  for j = 0, tiers - 1 do sum = sum + (count_of(counts[i + j]) or 0) end
  reply[#reply + 1] = sum
end
return reply
