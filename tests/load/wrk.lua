-- wrk script: each request signs in with one of many API tokens (as many clients would) and asks
-- for the incident list (MODE=list) or one incident (MODE=detail). Prints p95 and failures.
dofile(os.getenv("LOAD_DATA"))
local mode = os.getenv("MODE") or "list"
local counter = 0

request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local path
  if mode == "detail" then
    path = "/api/v1/incidents/" .. ids[(counter * 7919 % #ids) + 1] .. "/"
  else
    path = "/api/v1/incidents/?page=" .. ((counter % 5) + 1)
  end
  return wrk.format("GET", path, {
    ["Authorization"] = "Token " .. token,
    ["X-Forwarded-Proto"] = "https",
    ["Accept"] = "application/json",
  })
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT mode=%s requests=%d seconds=%.1f rps=%.1f p50_ms=%.1f p95_ms=%.1f p99_ms=%.1f errors=%d non_2xx=%d\n",
    mode, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    errors, summary.errors.status))
end
