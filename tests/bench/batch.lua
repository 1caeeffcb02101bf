-- wrk script for the ingest benchmark's batch row: POST /v1/notifications/batch
-- with HERALD_BENCH_BATCH notifications per request; counts the items answered
-- 202 (not the requests) and prints the same RESULT line as post.lua, whose
-- accepted_per_s is then notifications per second.
local key = os.getenv("HERALD_KEY") or ""
local size = tonumber(os.getenv("HERALD_BENCH_BATCH") or "100")
-- the RESULT line (result.lua, next to this script)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("result")
local threads = {}
local n = 0
accepted = 0

function setup(thread) table.insert(threads, thread) end

function init(args)
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    n = math.random(1, 1e9)
end

function request()
    local items = {}
    for i = 1, size do
        n = n + 1
        items[i] = string.format(
            '{"user":{"id":"bench-%d","email":"bench-%d@example.com"},"type":"bench.ingest",' ..
            '"title":"bench %d","body":"load","channels":["in_app"]}', n, n, n)
    end
    return wrk.format("POST", "/v1/notifications/batch",
        {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key},
        '{"notifications":[' .. table.concat(items, ",") .. ']}')
end

function response(status, headers, body)
    if status == 200 and body then
        local _, c = string.gsub(body, '"status": *202', "")
        accepted = accepted + c
    end
end

done = result.done(threads, "accepted")
