-- Exact mode: one atomic decision. KEYS[1] the limit's ring.
-- ARGV[1]: "slot_us buckets channels limit n tier" (one argument: each argument costs the
-- client an encoding), channels 2 or 8; ARGV[2], optional: now_us (a test clock; without it
-- the server's TIME). Demand is always recorded.
-- Sliding window (1 tier): admit iff count + n <= limit.
-- Tiered (4 tiers): admit iff
--   sum(A_j, j >= tier) + n <= limit - sum(D_j, j < tier) and sum(A_j) + n <= limit,
--   A over the sliding window, D over the last complete window.
-- Reply: 1 when admitted (2 when malformed values were reset first); when rejected
-- {0, repaired, now_us, total, used, admissions of every tier per slot of the sliding window,
-- oldest first}, from which the client derives the reason and retry_after.
-- Cost: the common call (same slot as the last one) runs TIME, one HMGET and one HSET; the
-- TTL is refreshed only when the ring moves or is created (a key then outlives its newest
-- write by more than a window plus a slot, all the rules read).
local key = KEYS[1]
local slot_us, buckets, channels, limit, n, tier =
  string.match(ARGV[1], '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
slot_us, buckets, channels = tonumber(slot_us), tonumber(buckets), tonumber(channels)
limit, n, tier = tonumber(limit), tonumber(n), tonumber(tier)
local now = store_now_us(ARGV[2])
local size, tiers = buckets + 1, channels / 2
if tiers == 1 then tier = 1 end
local current = math.floor(now / slot_us)

-- Rejected: the sliding window's admissions per slot, for retry_after.
local function rejection(newest, total, used, repaired)
  local slots = {}
  for s = newest - buckets + 1, newest do
    local position = (s % size) .. ':'
    for ch = 1, tiers do slots[#slots + 1] = position .. CHANNEL[ch] end
  end
  local counts = redis.call('HMGET', key, unpack(slots))
  local reply = {0, repaired, now, total, used}
  for i = 1, #counts, tiers do
    local sum = 0
    for j = 0, tiers - 1 do sum = sum + (count_of(counts[i + j]) or 0) end
    reply[#reply + 1] = sum
  end
  return reply
end

-- Fast path, nearly every call of a sliding window: its ring exists, is well-formed and is
-- already at the current slot. The same rule and writes as the general path below, without
-- its tables; anything else (a new, moved, malformed ring, a clock gone back) takes that path.
if channels == 2 then
  local p, q = (current % size) .. ':', ((current + 1) % size) .. ':'
  local ok, v = pcall(redis.call, 'HMGET', key, 'c', 'T:0', 'T:1',
    p .. '0', p .. '1', q .. '0', q .. '1')
  if ok and tonumber(v[1]) == current then
    local admitted, demand = count_of(v[2]), count_of(v[3])
    local newest_admitted, newest_demand = count_of(v[4]), count_of(v[5])
    local oldest_admitted = count_of(v[6])
    if admitted and demand and newest_admitted and newest_demand and oldest_admitted
        and count_of(v[7]) then
      local count = admitted - oldest_admitted
      if count + n <= limit then
        redis.call('HSET', key, p .. '1', newest_demand + n, 'T:1', demand + n,
          p .. '0', newest_admitted + n, 'T:0', admitted + n)
        return 1
      end
      redis.call('HSET', key, p .. '1', newest_demand + n, 'T:1', demand + n)
      return rejection(current, count, count, 0)
    end
  end
end

-- The fields of `slot` and of the slot after it (the ring's oldest while `slot` is newest).
local function positions_of(slot, fields)
  local newest, oldest = (slot % size) .. ':', ((slot + 1) % size) .. ':'
  for ch = 1, channels do fields[#fields + 1] = newest .. CHANNEL[ch] end
  for ch = 1, channels do fields[#fields + 1] = oldest .. CHANNEL[ch] end
  return fields
end

-- One read in the common case: the head, and the newest and oldest slots' counts guessed
-- from the current slot (right unless the clock went back).
local values, newest, totals, repaired =
  read_head(key, channels, positions_of(current, head_fields(channels)))
local base = 1 + channels
local state
newest, state = advance(key, size, channels, newest, current, totals)
local fresh = state == 'reset' or state == 'repaired'
if state == 'repaired' then repaired = 1 end
if newest ~= current then  -- the clock went back: count in the newest slot
  values, base = redis.call('HMGET', key, unpack(positions_of(newest, {}))), 0
end
local latest, oldest = zeros(channels), zeros(channels)
if not fresh then
  for ch = 1, channels do
    local a, b = count_of(values[base + ch]), count_of(values[base + channels + ch])
    if a == nil or b == nil then
      redis.call('DEL', key)
      repaired, fresh, totals = 1, true, zeros(channels)
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

local p = (newest % size) .. ':'
local demand = tiers + tier
local writes = {p .. CHANNEL[demand], latest[demand] + n, TOTAL[demand], totals[demand] + n}
if allowed then
  writes[5], writes[6] = p .. CHANNEL[tier], latest[tier] + n
  writes[7], writes[8] = TOTAL[tier], totals[tier] + n
end
if fresh then  -- the key was deleted or never existed: write its head
  writes[#writes + 1] = 'c'
  writes[#writes + 1] = newest
end
redis.call('HSET', key, unpack(writes))
if fresh or state == 'moved' then
  redis.call('PEXPIRE', key, math.floor(2 * buckets * slot_us / 1000) + 1000)
end
if allowed then return 1 + repaired end
return rejection(newest, total, used, repaired)
