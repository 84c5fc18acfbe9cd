-- Shared by decide.lua and exchange.lua (prepended to each): the slot ring of one limit.
-- Hash layout: field "c" holds the newest slot the ring covers (it covers c-size+1 .. c),
-- "<p>:<ch>" the count of channel ch in the slot at position p = slot % size, and "T:<ch>"
-- channel ch's running total over the ring, so that a decision reads a handful of fields:
-- window sum = total - oldest slot, last complete window = total - newest slot.
-- Anything malformed (a key of another type, a value that is not a non-negative integer)
-- resets the limit's counts (repaired = 1); a reset forgets at most one window.

-- `arg`: a test clock's microseconds; nil or '' reads the server's TIME.
local function store_now_us(arg)
  if arg and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- Field-name suffixes by channel (1-based), so no call formats channel numbers.
local CHANNEL = {'0', '1', '2', '3', '4', '5', '6', '7'}
local TOTAL = {'T:0', 'T:1', 'T:2', 'T:3', 'T:4', 'T:5', 'T:6', 'T:7'}

local tonumber = tonumber

-- A stored count: 0 when absent, nil when malformed (not a finite non-negative integer: for
-- inf and nan, n % 1 is nan).
local function count_of(value)
  if not value then return 0 end
  local n = tonumber(value)
  if n == nil or n < 0 or n % 1 ~= 0 then return nil end
  return n
end

local function zeros(channels)
  local t = {}
  for ch = 1, channels do t[ch] = 0 end
  return t
end

-- The head's fields: "c", then the channels' totals; callers append the slot fields to read.
local function head_fields(channels)
  local fields = {'c'}
  for ch = 1, channels do fields[ch + 1] = TOTAL[ch] end
  return fields
end

-- One HMGET of `fields` (which start with head_fields); returns the values (the slot fields'
-- values follow the head's 1 + channels), the newest slot (nil for a new or reset ring), the
-- totals, and repaired.
local function read_head(key, channels, fields)
  local ok, values = pcall(redis.call, 'HMGET', key, unpack(fields))
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
  return values, newest, totals, 0
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
    local p = (s % size) .. ':'
    for ch = 1, channels do fields[#fields + 1] = p .. CHANNEL[ch] end
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
    writes[#writes + 1] = TOTAL[ch]
    writes[#writes + 1] = totals[ch]
  end
  redis.call('HSET', key, unpack(writes))
  return current, 'moved'
end
