-- Pre-review decisions by the administration institution: forwards the submitted applications
-- listed in QUEUE ("submitted ID" lines), each thread its share, then reads the queue once
-- they are used up (bench/load.sh; TOKEN, QUEUE, OUT). "decided ID" is recorded on 200.
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local headers = { Authorization = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json" }
local body = '{"decision":"forward","text":"材料齐全，转数据提供单位审核。"}'
local ids
local next_id = 1
setup = load.setup
done = load.done("review")
init = function()
  ids = {}
  for _, l in ipairs(load.lines(os.getenv("QUEUE"))) do
    local id = l:match("^submitted (%d+)")
    if id and tonumber(id) % tonumber(os.getenv("THREADS")) == tid - 1 then ids[#ids + 1] = id end
  end
end
request = function()
  local id = ids[next_id]
  if id then
    next_id = next_id + 1
    return wrk.format("POST", "/api/v1/applications/" .. id .. "/decision", headers, body)
  end
  return wrk.format("GET", "/api/v1/application-queue", headers)
end
response = function(status, _, resp)
  load.count(status)
  local id = resp and resp:match('"id":(%d+)')
  if status == 200 and id and resp:match('"state"') and not resp:match('^%s*%[') and not resp:match('"items"') then
    load.record("decided " .. id)
  end
end
