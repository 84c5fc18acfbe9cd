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

local fields = head_fields(channels)
for p = 0, size - 1 do
  local prefix = p .. ':'
  for ch = 1, channels do fields[#fields + 1] = prefix .. CHANNEL[ch] end
end
local values, newest, totals, repaired = read_head(key, channels, fields)
local before, state = newest, nil
newest, state = advance(key, size, channels, newest, current, totals)
if state == 'repaired' then repaired = 1 end

-- counts[ch][i]: slot newest - size + i, oldest first; slots the advance cleared read 0.
local counts = {}
for ch = 1, channels do counts[ch] = zeros(size) end
if state == 'same' or state == 'moved' then
  local valid = true
  for i = 1, size do
    local slot = newest - size + i
    if slot <= before then
      for ch = 1, channels do
        local n = count_of(values[1 + channels + (slot % size) * channels + ch])
        if n == nil then valid = false else counts[ch][i] = n end
      end
    end
  end
  if not valid then
    redis.call('DEL', key)
    repaired, totals = 1, zeros(channels)
    for ch = 1, channels do counts[ch] = zeros(size) end
  end
end

-- The deltas; a slot older than the ring has expired, a future one counts as the newest.
local writes, dirty = {'c', newest}, {}
for g = 7, #ARGV, channels + 1 do
  local slot = math.min(tonumber(ARGV[g]), newest)
  local i = slot - newest + size
  if i >= 1 then
    for ch = 1, channels do
      local delta = tonumber(ARGV[g + ch])
      counts[ch][i] = counts[ch][i] + delta
      totals[ch] = totals[ch] + delta
    end
    dirty[i] = true
  end
end
for i in pairs(dirty) do
  local p = (newest - size + i) % size
  for ch = 1, channels do
    writes[#writes + 1] = p .. ':' .. CHANNEL[ch]
    writes[#writes + 1] = counts[ch][i]
  end
end
for ch = 1, channels do
  writes[#writes + 1] = TOTAL[ch]
  writes[#writes + 1] = totals[ch]
end
redis.call('HSET', key, unpack(writes))
redis.call('PEXPIRE', key, ttl_ms)

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
local reply = {now, newest, #ages + 1, repaired}
for ch = 1, channels do
  for i = 1, size do reply[#reply + 1] = counts[ch][i] end
end
for a = 1, #ages do reply[#reply + 1] = ages[a] end
return reply
