-- Periodic mode: push one instance's counts, pull the global ones, in one atomic call.
-- KEYS[1] the limit's ring, KEYS[2] its instance registry (sorted set, score = last sync ms).
-- ARGV: now_us ('' = server TIME), slot_us, buckets, channels, ttl_ms, instance id, then the
-- deltas as repeated groups: slot, count of channel 0, ..., count of channel channels-1.
-- Reply: {now_us, current slot, live instances, repaired, counts channel-major oldest first}.
local key, registry = KEYS[1], KEYS[2]
local now = store_now_us(ARGV[1])
local slot_us, buckets = tonumber(ARGV[2]), tonumber(ARGV[3])
local channels, ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5])
local size = buckets + 1
local current = math.floor(now / slot_us)
local counts, position_slot, repaired = read_ring(key, size, channels, current)

for g = 7, #ARGV, channels + 1 do
  local slot = math.min(tonumber(ARGV[g]), current)
  local i = slot - current + size
  -- A slot older than the ring, or whose position already holds a newer slot, has expired.
  if i >= 1 and position_slot[slot % size] <= slot then
    for ch = 1, channels do counts[ch][i] = counts[ch][i] + tonumber(ARGV[g + ch]) end
    position_slot[slot % size] = slot
    write_slot(key, size, channels, slot, counts, i, ttl_ms)
  end
end

local now_ms = math.floor(now / 1000)
local ok = pcall(redis.call, 'ZADD', registry, now_ms, ARGV[6])
if not ok then
  redis.call('DEL', registry)
  redis.call('ZADD', registry, now_ms, ARGV[6])
  repaired = 1
end
redis.call('ZREMRANGEBYSCORE', registry, '-inf', now_ms - math.floor(buckets * slot_us / 1000))
redis.call('PEXPIRE', registry, ttl_ms)
local reply = {now, current, redis.call('ZCARD', registry), repaired}
for ch = 1, channels do
  for i = 1, size do reply[#reply + 1] = counts[ch][i] end
end
return reply
