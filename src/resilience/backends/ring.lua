-- Shared by decide.lua and exchange.lua (prepended to each): the slot ring of one limit.
-- Hash layout: field "c" holds the newest slot the ring covers (it covers c-size+1 .. c),
-- "<p>:<ch>" the count of channel ch in the slot at position p = slot % size, and "T:<ch>"
-- channel ch's running total over the ring, so that a decision reads a handful of fields:
-- window sum = total - oldest slot, last complete window = total - newest slot.
-- Anything malformed (a key of another type, a value that is not a non-negative integer)
-- resets the limit's counts (repaired = 1); a reset forgets at most one window.

local function store_now_us(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function count_of(value)
  if not value then return 0 end
  local n = tonumber(value)
  if n == nil or n < 0 or n ~= math.floor(n) or n == math.huge then return nil end
  return n
end

local function zeros(channels)
  local t = {}
  for ch = 1, channels do t[ch] = 0 end
  return t
end

-- One HMGET of `fields` (prefixed by the head: "c" and the totals); returns the values after
-- the head, the newest slot (nil for a new or reset ring), the totals, and repaired.
local function read_head(key, channels, fields)
  local all = {'c'}
  for ch = 0, channels - 1 do all[#all + 1] = 'T:' .. ch end
  for i = 1, #fields do all[#all + 1] = fields[i] end
  local ok, values = pcall(redis.call, 'HMGET', key, unpack(all))
  if not ok then
    redis.call('DEL', key)
    return {}, nil, zeros(channels), 1
  end
  local totals, valid = {}, true
  for ch = 1, channels do
    totals[ch] = count_of(values[1 + ch])
    if totals[ch] == nil then valid = false end
  end
  local newest = nil
  if values[1] then
    newest = tonumber(values[1])
    if newest == nil or newest ~= math.floor(newest) then valid = false end
  end
  if not valid then
    redis.call('DEL', key)
    return {}, nil, zeros(channels), 1
  end
  local rest = {}
  for i = 1, #fields do rest[i] = values[1 + channels + i] end
  return rest, newest, totals, 0
end

-- Move the ring's newest slot from `newest` to `current`, zeroing the slots that left and
-- taking them out of the totals. Returns the new newest slot and what happened: 'same' (the
-- clock has not left the newest slot, or went back), 'moved' (slots cleared), 'reset' (a new
-- or wholly expired ring), 'repaired' (junk found: reset).
local function advance(key, size, channels, newest, current, totals)
  if newest == nil or current - newest >= size then
    redis.call('DEL', key)
    for ch = 1, channels do totals[ch] = 0 end
    return current, 'reset'
  end
  if current <= newest then return newest, 'same' end
  local fields = {}
  for s = newest + 1, current do
    for ch = 0, channels - 1 do fields[#fields + 1] = (s % size) .. ':' .. ch end
  end
  local values = redis.call('HMGET', key, unpack(fields))
  local writes = {'c', current}
  for i = 1, #fields do
    local n = count_of(values[i])
    if n == nil then
      redis.call('DEL', key)
      for ch = 1, channels do totals[ch] = 0 end
      return current, 'repaired'
    end
    local ch = (i - 1) % channels + 1
    totals[ch] = totals[ch] - n
    writes[#writes + 1] = fields[i]
    writes[#writes + 1] = 0
  end
  for ch = 1, channels do
    writes[#writes + 1] = 'T:' .. (ch - 1)
    writes[#writes + 1] = totals[ch]
  end
  redis.call('HSET', key, unpack(writes))
  return current, 'moved'
end
