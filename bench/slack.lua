-- wrk script for bench/run: POSTs a Slack-shaped incoming-webhook body
-- carrying a nonce (DRILL-bench-slack-1 to -1000, the ones `outage-drill
-- serve` registers), and prints one machine-readable summary line.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local n = 0

request = function()
  n = n + 1
  local nonce = "DRILL-bench-slack-" .. ((n % 1000) + 1)
  local body = '{"text":"[critical] User-reported phishing (' .. nonce .. ')",'
    .. '"username":"outage-drill","icon_emoji":":rotating_light:"}'
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
