-- The data API: one row by its key from a consumer with a grant (bench/load.sh; RESOURCE,
-- TOKEN, and CODES, a file of key values).
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local codes = load.lines(os.getenv("CODES"))
local base = "/api/v1/resources/" .. os.getenv("RESOURCE") .. "/rows?code.eq="
local headers = { Authorization = "Bearer " .. os.getenv("TOKEN") }
local n = 0
setup = load.setup
done = load.done("data_api")
request = function()
  n = n + 1
  return wrk.format("GET", base .. codes[n % #codes + 1], headers)
end
response = function(status) load.count(status) end
