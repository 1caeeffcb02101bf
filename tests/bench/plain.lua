-- wrk script for the ceiling runs: a POST like the ingest benchmark's, to a
-- server that answers without doing any work; prints the same RESULT line.
-- the RESULT line (result.lua, next to this script)
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local result = require("result")
local threads = {}
ok = 0
function setup(thread) table.insert(threads, thread) end
function request()
    return wrk.format("POST", "/v1/notifications", {["Content-Type"] = "application/json"},
        '{"user":{"id":"bench-1","email":"bench-1@example.com"},"type":"bench.ingest","title":"bench","body":"load","channels":["in_app"]}')
end
function response(status) if status < 300 then ok = ok + 1 end end
done = result.done(threads, "ok")
