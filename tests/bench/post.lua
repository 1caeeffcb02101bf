-- wrk script for the ingest benchmark: POST /v1/notifications with a new
-- recipient each time; counts 202 answers per thread and prints the total.
local key = os.getenv("HERALD_KEY") or ""
local channels = os.getenv("HERALD_BENCH_CHANNELS") or '["in_app"]'
local threads = {}
local n = 0
accepted = 0

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    n = math.random(1, 1e9)
end

function request()
    n = n + 1
    local body = string.format(
        '{"user":{"id":"bench-%d","email":"bench-%d@example.com"},"type":"bench.ingest",' ..
        '"title":"bench %d","body":"load","channels":%s}', n, n, n, channels)
    return wrk.format("POST", "/v1/notifications",
        {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}, body)
end

function response(status, headers, body)
    if status == 202 then
        accepted = accepted + 1
    end
end

function done(summary, latency, requests)
    local total = 0
    for _, t in ipairs(threads) do
        total = total + (t:get("accepted") or 0)
    end
    local secs = summary.duration / 1e6
    io.write(string.format("RESULT requests=%d accepted=%d seconds=%.2f accepted_per_s=%.0f " ..
        "p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
        summary.requests, total, secs, total / secs,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
end
