-- wrk script for the webhook drain's ceiling: POSTs of the same size as one of
-- Herald's signed webhook requests (HERALD_BENCH_REQ_LEN bytes in all, of which
-- HERALD_BENCH_BODY_LEN of body, as the sink's access log measured them), with
-- the same three Standard Webhooks headers; prints the RESULT line.
local req_len = tonumber(os.getenv("HERALD_BENCH_REQ_LEN") or "900")
local body_len = tonumber(os.getenv("HERALD_BENCH_BODY_LEN") or "400")
-- the RESULT line (result.lua, next to this script)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("result")
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

done = result.done(threads, "ok")
