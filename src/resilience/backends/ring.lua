-- Shared by decide.lua and exchange.lua (prepended to each): the slot ring of one limit.
-- Hash layout, for ring position p = slot % size: field "t<p>" holds the slot index stored
-- there, fields "<p>:<ch>" its per-channel counts. Malformed values read as 0 and are
-- overwritten when their position is next written; a key of the wrong type is deleted.

local function store_now_us(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- counts[ch][i], i = 1..size, for slots current-size+1 .. current (oldest first);
-- position_slot[p] = slot index stored at position p (or -1); repaired = 1 if junk was seen.
local function read_ring(key, size, channels, current)
  local fields = {}
  for p = 0, size - 1 do
    fields[#fields + 1] = 't' .. p
    for ch = 0, channels - 1 do fields[#fields + 1] = p .. ':' .. ch end
  end
  local repaired = 0
  local ok, values = pcall(redis.call, 'HMGET', key, unpack(fields))
  if not ok then
    redis.call('DEL', key)
    values = {}
    repaired = 1
  end
  local counts, position_slot = {}, {}
  for ch = 1, channels do
    counts[ch] = {}
    for i = 1, size do counts[ch][i] = 0 end
  end
  local stride = channels + 1
  for p = 0, size - 1 do
    position_slot[p] = -1
    local raw = values[p * stride + 1]
    if raw then
      local slot = tonumber(raw)
      if slot == nil or slot ~= math.floor(slot) then
        repaired = 1
      else
        position_slot[p] = slot
        local i = slot - current + size
        if i >= 1 and i <= size then
          for ch = 1, channels do
            local value = values[p * stride + 1 + ch]
            local n = tonumber(value)
            if n == nil or n ~= n or n < 0 or n == math.huge then
              if value then repaired = 1 end
              n = 0
            end
            counts[ch][i] = math.floor(n)
          end
        end
      end
    end
  end
  return counts, position_slot, repaired
end

-- Write the counts of slot `slot` (held in counts[ch][i]) to its position, whole.
local function write_slot(key, size, channels, slot, counts, i, ttl_ms)
  local p = slot % size
  local args = {'t' .. p, slot}
  for ch = 1, channels do
    args[#args + 1] = p .. ':' .. (ch - 1)
    args[#args + 1] = counts[ch][i]
  end
  redis.call('HSET', key, unpack(args))
  redis.call('PEXPIRE', key, ttl_ms)
end
