-- wrk script: GET one of the 10,000 keys wrk-put.lua writes (load them
-- first), at the consistency level in the environment variable
-- CONSISTENCY (default: the node's default, leader).
-- Usage: CONSISTENCY=strong wrk -t2 -c64 -d10s -s docs/bench/wrk-get.lua http://127.0.0.1:4000
local query = ""
local level = os.getenv("CONSISTENCY")
if level and level ~= "" then
  query = "?consistency=" .. level
end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/kv/bench:" .. ((n * 7919) % 10000) .. query)
end
