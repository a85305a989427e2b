-- wrk script for bench/access.sh: rotates through the request paths listed in a file, one per
-- line; the credential (X-App-Key or Authorization) comes from wrk's -H. Refused requests
-- (e.g. 429 past an AppKey's rate limit) show in wrk's "Non-2xx or 3xx responses".
--
--   wrk -t2 -c8 -d15s --latency -H 'X-App-Key: pak_…' -s bench/access.lua URL -- FILE

local paths = {}
local threads = 0

-- Each thread starts somewhere else in the list.
function setup(thread)
  threads = threads + 1
  thread:set("i", threads * 53)
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  if #paths == 0 then
    error("no paths in " .. tostring(args[1]))
  end
end

function request()
  i = (i % #paths) + 1
  return wrk.format("GET", paths[i])
end
