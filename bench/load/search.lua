-- Catalogue searches with facets, as a portal's visitors send them (bench/load.sh).
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local queries = { "区划代码", "街道", "成都", "交通", "公路", "医院", "空气质量", "gonglu",
  "qhdm", "行政区划", "养老", "学校", "环境", "卫生", "统计" }
local n = 0
setup = load.setup
done = load.done("search")
request = function()
  n = n + 1
  local q = queries[n % #queries + 1]
  local path = "/api/v1/search?q=" .. load.encode(q)
  if n % 3 == 0 then path = path .. "&sort=updated" end
  return wrk.format("GET", path)
end
response = function(status) load.count(status) end
