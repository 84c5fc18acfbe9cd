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
local size = buckets + 1
local current = math.floor(now / slot_us)
local counts, _, repaired = read_ring(key, size, channels, current)

local tiers = math.floor(channels / 2)
if tiers == 1 then tier = 1 end
local per_slot, total, used, reserved = {}, 0, 0, 0
for i = 2, size do
  local sum = 0
  for j = 1, tiers do sum = sum + counts[j][i] end
  per_slot[#per_slot + 1] = sum
  total = total + sum
end
for j = tier, tiers do
  for i = 2, size do used = used + counts[j][i] end
end
for j = 1, tier - 1 do
  for i = 1, size - 1 do reserved = reserved + counts[tiers + j][i] end
end
local allowed = total + n <= limit and used + n <= limit - reserved

counts[tiers + tier][size] = counts[tiers + tier][size] + n
if allowed then counts[tier][size] = counts[tier][size] + n end
write_slot(key, size, channels, current, counts, size, ttl_ms)
if allowed then return {1, repaired} end
local reply = {0, repaired, now, total, used}
for i = 1, #per_slot do reply[#reply + 1] = per_slot[i] end
return reply
