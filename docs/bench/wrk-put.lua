-- wrk script: PUT a 100-byte JSON string value under one of 10,000 keys,
-- each connection walking the key space from its own offset.
-- Usage: wrk -t2 -c64 -d10s -s docs/bench/wrk-put.lua http://127.0.0.1:4000
local value = '{"value":"' .. string.rep("x", 100) .. '"}'
local n = 0
request = function()
  n = n + 1
  local key = "bench:" .. ((n * 7919) % 10000)
  return wrk.format("PUT", "/api/v1/kv/" .. key, {["Content-Type"] = "application/json"}, value)
end
