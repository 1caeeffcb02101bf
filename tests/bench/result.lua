-- result.lua: the RESULT line every wrk script of the benchmarks prints
-- (scripts/lib/bench.sh reads it): requests, accepted (counted by the
-- threads in the global named by counter), rate, p50/p99, errors.
local M = {}

-- The done() of a script whose threads (collected in its setup) count
-- accepted requests in the global named counter.
function M.done(threads, counter)
    return function(summary, latency, requests)
        local total = 0
        for _, t in ipairs(threads) do total = total + (t:get(counter) or 0) end
        local secs = summary.duration / 1e6
        io.write(string.format("RESULT requests=%d accepted=%d seconds=%.2f accepted_per_s=%.0f " ..
            "p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
            summary.requests, total, secs, total / secs,
            latency:percentile(50) / 1000, latency:percentile(99) / 1000,
            summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
            summary.errors.status))
    end
end

return M
