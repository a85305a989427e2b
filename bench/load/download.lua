-- Downloads of a published file by a consumer with a grant (bench/load.sh; DOWNLOAD, TOKEN).
package.path = "bench/load/?.lua;" .. package.path
local load = require("common")
local headers = { Authorization = "Bearer " .. os.getenv("TOKEN") }
setup = load.setup
done = load.done("download")
request = function() return wrk.format("GET", os.getenv("DOWNLOAD"), headers) end
response = function(status) load.count(status) end
