-- wrk script for the ceiling runs: a POST like the ingest benchmark's, to a
-- server that answers without doing any work; prints the same RESULT line.
local threads = {}
ok = 0
function setup(thread) table.insert(threads, thread) end
function request()
    return wrk.format("POST", "/v1/notifications", {["Content-Type"] = "application/json"},
        '{"user":{"id":"bench-1","email":"bench-1@example.com"},"type":"bench.ingest","title":"bench","body":"load","channels":["in_app"]}')
end
function response(status) if status < 300 then ok = ok + 1 end end
function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do total = total + (t:get("ok") or 0) end
    local secs = summary.duration / 1e6
    io.write(string.format("RESULT requests=%d accepted=%d seconds=%.2f accepted_per_s=%.0f " ..
        "p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
        summary.requests, total, secs, total / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
end
