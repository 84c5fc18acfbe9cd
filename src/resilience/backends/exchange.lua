-- Periodic mode: push one instance's counts, pull the global ones, in one atomic call.
-- KEYS[1] the limit's ring, KEYS[2] its instance registry (sorted set, score = last sync ms).
-- ARGV: now_us ('' = server TIME), slot_us, buckets, channels, ttl_ms, instance id, then the
-- deltas as repeated groups: slot, count of channel 0, ..., count of channel channels-1.
-- Reply: {now_us, current slot, live instances, repaired, counts channel-major oldest first,
-- then for each other live instance how many ms ago it last synced}.
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

-- The registry: drop instances silent for a window, measure how long ago the others last
-- synced (their unsynced admissions are that old on average), then note this instance.
local now_ms = math.floor(now / 1000)
local horizon = now_ms - math.floor(buckets * slot_us / 1000)
if not pcall(redis.call, 'ZREMRANGEBYSCORE', registry, '-inf', horizon) then
  redis.call('DEL', registry)
  repaired = 1
end
local entries = redis.call('ZRANGE', registry, 0, -1, 'WITHSCORES')
local ages = {}
for e = 1, #entries, 2 do
  local seen = tonumber(entries[e + 1])
  if entries[e] ~= ARGV[6] and seen then ages[#ages + 1] = math.max(0, now_ms - seen) end
end
redis.call('ZADD', registry, now_ms, ARGV[6])
redis.call('PEXPIRE', registry, ttl_ms)
local reply = {now, current, #ages + 1, repaired}
for ch = 1, channels do
  for i = 1, size do reply[#reply + 1] = counts[ch][i] end
end
for a = 1, #ages do reply[#reply + 1] = ages[a] end
return reply
