-- wrk script for `python -m benchmarks`.
-- Arguments after `--`: the path prefix, then a file of certificate codes (one a line);
-- each request asks for the prefix followed by a random code from the file. Without a
-- file every request asks for the prefix alone. Responses outside 2xx are counted per
-- status, and done() prints one line "BENCH_JSON {...}" for the runner to read.
-- A third argument, a number of milliseconds, paces each connection: before each request
-- it waits a random time with that mean (exponential, so arrivals are as irregular as
-- buyers'), which holds the load below saturation.

local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("id", count)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  codes = {}
  if args[2] ~= nil and args[2] ~= "" then
    for line in io.lines(args[2]) do
      if line ~= "" then
        codes[#codes + 1] = line
      end
    end
  end
  -- wrk asks whether delay() exists after init, and an unpaced run keeps none, so that
  -- it sends the next request as soon as an answer arrives.
  local pace = tonumber(args[3] or "") or 0
  if pace > 0 then
    function delay()
      -- wrk takes whole milliseconds: rounded, the mean stays the one asked for
      return math.floor(-pace * math.log(1 - math.random()) + 0.5)
    end
  end
  math.randomseed(os.time() * 1000 + id)
  non2xx = 0
  statuses = {}
end

function request()
  if #codes == 0 then
    return wrk.format("GET", prefix)
  end
  return wrk.format("GET", prefix .. codes[math.random(#codes)])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  local merged = {}
  for _, thread in ipairs(threads) do
    total = total + thread:get("non2xx")
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%s":%d', status, n)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"non2xx":%d,"statuses":{%s},' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total, table.concat(parts, ","),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
