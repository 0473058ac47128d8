-- wrk script for scripts/bench_api.py: the instance list through the REST API or through the
-- pages' server function, and a JSON line of the figures at the end.
--
--   BENCH_COOKIE=<name=value>   POST with the session cookie and the form BENCH_FORM (the server
--                               function)
--   BENCH_TOKENS=<file>         GET with "Authorization: Bearer <token>", the file's tokens one a
--                               line, taken in turn (one line: one token on every request)

local cookie = os.getenv("BENCH_COOKIE")
local tokens = {}

if cookie then
  wrk.method = "POST"
  wrk.body = os.getenv("BENCH_FORM") or ""
  wrk.headers["Cookie"] = cookie
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
else
  local file = os.getenv("BENCH_TOKENS")
  assert(file, "set BENCH_COOKIE or BENCH_TOKENS")
  for line in io.lines(file) do
    if line ~= "" then tokens[#tokens + 1] = line end
  end
  assert(#tokens > 0, "no tokens")
  wrk.method = "GET"
  wrk.headers["Authorization"] = "Bearer " .. tokens[1]
end

-- Each thread starts at its own place in the token list.
local started = 0
function setup(thread)
  thread:set("offset", started)
  started = started + 1
end

local turn = 0
if #tokens > 1 then
  function request()
    turn = turn + 1
    local token = tokens[((offset or 0) * 7919 + turn) % #tokens + 1]
    return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non_2xx":%d,"socket_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
