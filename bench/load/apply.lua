-- Applications for conditional data: each connection creates a draft, then submits it
-- (bench/load.sh; RESOURCE, TOKEN, PERIOD_FROM, PERIOD_TO, OUT). Every acknowledged write is
-- recorded: "created ID" on 201, "submitted ID" on 200, so the script can check afterwards that
-- each one is in the database.
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local headers = { Authorization = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json" }
local body = string.format([[{"purpose":"研究成都市村（社区）级公共服务设施的空间分布与可达性。",
"scenario":"城市规划学术研究，成果仅用于论文发表，不对外提供原始数据。",
"resources":[{"resource_id":%s,"fields":["code","name"]}],"period_from":"%s","period_to":"%s",
"security_measures":"数据存放于内网服务器，仅课题组两名成员可访问，项目结束后删除。",
"commitment_accepted":true}]], os.getenv("RESOURCE"), os.getenv("PERIOD_FROM"), os.getenv("PERIOD_TO"))
local drafts = {}
setup = load.setup
done = load.done("apply")
request = function()
  local id = table.remove(drafts)
  if id then
    return wrk.format("POST", "/api/v1/applications/" .. id .. "/submit", headers)
  end
  return wrk.format("POST", "/api/v1/applications", headers, body)
end
response = function(status, _, resp)
  load.count(status)
  local id = resp and resp:match('"id":(%d+)')
  if status == 201 and id then
    drafts[#drafts + 1] = id
    load.record("created " .. id)
  elseif status == 200 and id then
    load.record("submitted " .. id)
  end
end
