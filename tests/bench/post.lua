-- wrk script for the ingest benchmark: POST /v1/notifications with a new
-- recipient each time; counts 202 answers per thread and prints the total.
local key = os.getenv("HERALD_KEY") or ""
local channels = os.getenv("HERALD_BENCH_CHANNELS") or '["in_app"]'
-- the RESULT line (result.lua, next to this script)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("result")
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

done = result.done(threads, "accepted")
