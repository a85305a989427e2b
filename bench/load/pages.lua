-- Web pages anonymous visitors read: home, search results, dataset pages (bench/load.sh;
-- DATASETS is a space-separated list of dataset names).
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local paths = { "/", "/catalogue?q=" .. load.encode("区划") }
for name in string.gmatch(os.getenv("DATASETS") or "", "%S+") do
  paths[#paths + 1] = "/dataset/" .. name
end
local n = 0
setup = load.setup
done = load.done("pages")
request = function()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1], { ["Accept-Language"] = "zh-CN" })
end
response = function(status) load.count(status) end
