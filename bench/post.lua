-- wrk script used by bench/run.py: POST the JSON body in $BENCH_BODY (with the Authorization
-- header in $BENCH_AUTH, if set) and print the run's figures as one JSON line, "BENCHJSON {...}",
-- with wrk's whole latency histogram (microseconds) when $BENCH_HISTOGRAM is 1.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local histogram = os.getenv("BENCH_HISTOGRAM") == "1"

done = function(summary, latency, requests)
  local e = summary.errors
  local out = {}
  table.insert(out, string.format('{"requests":%d,"duration_us":%d,"bytes":%d,',
    summary.requests, summary.duration, summary.bytes))
  table.insert(out, string.format(
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},',
    e.connect, e.read, e.write, e.status, e.timeout))
  table.insert(out, string.format(
    '"latency":{"min":%d,"max":%d,"mean":%f,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
    latency.min, latency.max, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  if histogram then
    -- latency(i) is the i-th distinct latency value and how many requests took it.
    local h = {}
    for i = 1, #latency do
      local v, c = latency(i)
      table.insert(h, string.format("[%d,%d]", v, c))
    end
    table.insert(out, ',"histogram":[' .. table.concat(h, ",") .. "]")
  end
  table.insert(out, "}")
  io.write("BENCHJSON " .. table.concat(out) .. "\n")
end
