-- wrk script for the webhook drain's ceiling: POSTs of the same size as one of
-- Herald's signed webhook requests (HERALD_BENCH_REQ_LEN bytes in all, of which
-- HERALD_BENCH_BODY_LEN of body, as the sink's access log measured them), with
-- the same three Standard Webhooks headers; prints the RESULT line.
local req_len = tonumber(os.getenv("HERALD_BENCH_REQ_LEN") or "900")
local body_len = tonumber(os.getenv("HERALD_BENCH_BODY_LEN") or "400")
local threads = {}
local req
ok = 0

function setup(thread) table.insert(threads, thread) end

function init(args)
    local headers = {
        ["Content-Type"] = "application/json",
        ["User-Agent"] = "Herald-Webhooks/1",
        ["webhook-id"] = "0193a5f0-0000-7000-8000-000000000000",
        ["webhook-timestamp"] = tostring(os.time()),
        ["webhook-signature"] = "v1," .. string.rep("A", 43) .. "=",
    }
    local body = '{"pad":"' .. string.rep("x", math.max(0, body_len - 10)) .. '"}'
    req = wrk.format("POST", "/hook", headers, body)
    -- Pad a header so the whole request has Herald's size.
    local missing = req_len - #req
    if missing > 12 then
        headers["X-Pad"] = string.rep("p", missing - 9)
        req = wrk.format("POST", "/hook", headers, body)
    end
end

function request() return req end
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
