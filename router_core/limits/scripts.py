"""The Lua scripts of the Redis limiter: one per admission, one per settlement.

Each runs atomically inside Redis, so checks and commits of every dimension cannot
interleave with another router process. Times are Unix seconds: ``ARGV[1]`` when the
caller injects a clock, else the server's ``TIME`` (one clock for every router).
Scores and bucket names are formatted explicitly because Lua's default number-to-string
conversion keeps only 14 significant digits.

Acquire: KEYS = rpm log, rpd log, tpm buckets, concurrency leases, account quota.
ARGV = now|"", lease id, rpm, rpd, tpm, concurrency, estimate, quota tokens,
quota cost, quota period, lease ttl; a limit of -1 means unlimited. Replies
``{"ok", now, requests limit, remaining, reset, tokens limit, remaining, reset}`` ("" for
unlimited) or ``{dimension, retry_after}`` ("" when waiting cannot help).

Settle: KEYS = tpm buckets, concurrency leases, account quota. ARGV = now|"", lease id,
holds slot (1/0), reservation bucket ("" when TPM is unlimited), used - reserved,
used tokens, cost, quota period ("" when no quota applies).

Refresh: KEYS = concurrency leases of one key. ARGV = now|"", lease ttl, lease ids of
live requests. Re-arms each lease still present (``XX``: a lease that already expired
stays gone, its slot may have been taken); replies how many it re-armed.
"""

from __future__ import annotations

from router_core.limits.periods import DAY_SECONDS, MINUTE_SECONDS, TPM_SPAN_BUCKETS

_PRELUDE = f"""
local now = tonumber(ARGV[1])
if not now then
  -- Redis < 5 replicates scripts verbatim and forbids writes after TIME unless asked.
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local MINUTE, DAY, TPM_BACK = {MINUTE_SECONDS}, {DAY_SECONDS}, {TPM_SPAN_BUCKETS - 1}
local TPM_SPAN = TPM_BACK + 1
local function fmt(x) return string.format('%.6f', x) end
local function int(x) return string.format('%.0f', x) end

-- UTC period [start, end) holding t; months via the Gregorian calendar counted in
-- 400-year eras of 146097 days, shifted so that each year starts on 1 March.
local function period_bounds(kind, t)
  local day = math.floor(t / DAY)
  if kind == 'day' then return day * DAY, (day + 1) * DAY end
  local MONTH_DAYS = {{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}}
  local shifted = day + 719468
  local era = math.floor(shifted / 146097)
  local doe = shifted - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day_of_month = doy - math.floor((153 * mp + 2) / 5)
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then year = year + 1 end
  local length = MONTH_DAYS[month]
  if month == 2 and year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0) then
    length = 29
  end
  local start = (day - day_of_month) * DAY
  return start, start + length * DAY
end
"""

ACQUIRE = (
    _PRELUDE
    + """
local lease = ARGV[2]
local rpm, rpd = tonumber(ARGV[3]), tonumber(ARGV[4])
local tpm, conc = tonumber(ARGV[5]), tonumber(ARGV[6])
local estimate = tonumber(ARGV[7])
local qtokens, qcost = tonumber(ARGV[8]), tonumber(ARGV[9])
local ttl = tonumber(ARGV[11])

if qtokens >= 0 or qcost >= 0 then
  local pstart, pend = period_bounds(ARGV[10], now)
  local q = redis.call('HMGET', KEYS[5], 'p', 't', 'c')
  local used_t, used_c = 0, 0
  if tonumber(q[1]) == pstart then
    used_t, used_c = tonumber(q[2]) or 0, tonumber(q[3]) or 0
  end
  if (qtokens >= 0 and used_t >= qtokens) or (qcost >= 0 and used_c >= qcost) then
    return {'quota', fmt(pend - now)}
  end
end

-- Prune a request log; nil and its size when one more fits, else the retry delay.
local function log_full(key, limit, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - window))
  local n = redis.call('ZCARD', key)
  if n < limit then return nil, n end
  if limit == 0 then return '' end
  local e = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return fmt(math.max(0, tonumber(e[2]) + window - now))
end
local rpd_n, rpm_n = 0, 0
if rpd >= 0 then
  local wait
  wait, rpd_n = log_full(KEYS[2], rpd, DAY)
  if wait then return {'rpd', wait} end
end
if rpm >= 0 then
  local wait
  wait, rpm_n = log_full(KEYS[1], rpm, MINUTE)
  if wait then return {'rpm', wait} end
end

local cur = math.floor(now)
local buckets, total = {}, 0
if tpm >= 0 then
  local raw = redis.call('HGETALL', KEYS[3])
  local cutoff = cur - TPM_BACK
  for i = 1, #raw, 2 do
    local b = tonumber(raw[i])
    if b < cutoff then
      redis.call('HDEL', KEYS[3], raw[i])
    else
      local v = tonumber(raw[i + 1])
      buckets[#buckets + 1] = {b, v}
      total = total + v
    end
  end
  if tpm == 0 or total + estimate > tpm then
    if estimate > tpm or tpm == 0 then return {'tpm', ''} end
    table.sort(buckets, function(a, b) return a[1] < b[1] end)
    local needed, freed = total + estimate - tpm, 0
    for _, e in ipairs(buckets) do
      freed = freed + e[2]
      if freed >= needed then return {'tpm', fmt(math.max(0, e[1] + TPM_SPAN - now))} end
    end
    return {'tpm', ''}
  end
end

if conc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', fmt(now))
  if redis.call('ZCARD', KEYS[4]) >= conc then return {'conc', ''} end
end

-- Every check passed: commit all dimensions.
local req_limit, req_left, req_reset = '', nil, ''
-- n: the log's size before this request (lease ids are unique: ZADD adds one).
local function log_add(key, limit, window, n)
  redis.call('ZADD', key, fmt(now), lease)
  redis.call('PEXPIRE', key, (window + 1) * 1000)
  local left = limit - (n + 1)
  if req_left == nil or left <= req_left then
    local oldest = tonumber(fmt(now))  -- as the ZADD stored it
    if n > 0 then oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) end
    req_limit, req_left, req_reset = int(limit), left, fmt(oldest + window)
  end
end
if rpd >= 0 then log_add(KEYS[2], rpd, DAY, rpd_n) end
if rpm >= 0 then log_add(KEYS[1], rpm, MINUTE, rpm_n) end

local tok_limit, tok_left, tok_reset = '', '', ''
if tpm >= 0 then
  local oldest = cur
  for _, e in ipairs(buckets) do
    if e[1] < oldest then oldest = e[1] end
  end
  if estimate > 0 then
    redis.call('HINCRBY', KEYS[3], int(cur), estimate)
  end
  redis.call('EXPIRE', KEYS[3], TPM_SPAN + 1)
  total = total + estimate
  tok_limit, tok_left = int(tpm), int(math.max(0, tpm - total))
  if total > 0 then tok_reset = fmt(oldest + TPM_SPAN) else tok_reset = fmt(now) end
end

if conc >= 0 then
  redis.call('ZADD', KEYS[4], fmt(now + ttl), lease)
  redis.call('PEXPIRE', KEYS[4], math.ceil(ttl * 1000) + 1000)
end

return {'ok', fmt(now), req_limit, req_left and int(req_left) or '', req_reset,
  tok_limit, tok_left, tok_reset}
"""
)

SETTLE = (
    _PRELUDE
    + """
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[2]) end

if ARGV[4] ~= '' then
  local delta, cur = tonumber(ARGV[5]), math.floor(now)
  -- The reservation is replaced in its own bucket while that still counts; once
  -- it has aged out only an overrun matters, and it counts from now.
  if tonumber(ARGV[4]) >= cur - TPM_BACK and redis.call('HEXISTS', KEYS[1], ARGV[4]) == 1 then
    if redis.call('HINCRBY', KEYS[1], ARGV[4], delta) <= 0 then
      redis.call('HDEL', KEYS[1], ARGV[4])
    end
  elseif delta > 0 then
    redis.call('HINCRBY', KEYS[1], int(cur), delta)
    redis.call('EXPIRE', KEYS[1], TPM_SPAN + 1)
  end
end

if ARGV[8] ~= '' then
  local pstart, pend = period_bounds(ARGV[8], now)
  if tonumber(redis.call('HGET', KEYS[3], 'p')) ~= pstart then
    redis.call('DEL', KEYS[3])
    redis.call('HSET', KEYS[3], 'p', int(pstart), 't', 0, 'c', 0)
  end
  redis.call('HINCRBY', KEYS[3], 't', ARGV[6])
  redis.call('HINCRBYFLOAT', KEYS[3], 'c', ARGV[7])
  -- Expire once the period is over; relative, so an injected clock works too.
  redis.call('EXPIRE', KEYS[3], math.ceil(pend - now) + 1)
end
return 1
"""
)

REFRESH = (
    _PRELUDE
    + """
local ttl = tonumber(ARGV[2])
local armed = 0
for i = 3, #ARGV do
  armed = armed + redis.call('ZADD', KEYS[1], 'XX', 'CH', fmt(now + ttl), ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000) + 1000)
end
return armed
"""
)
