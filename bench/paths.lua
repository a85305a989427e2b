-- wrk script for bench/search.sh: rotates through the request paths listed in a file, one per
-- line (headers such as Authorization come from wrk's -H).
--
--   wrk -t2 -c32 -d20s --latency -H 'Authorization: Bearer …' -s bench/paths.lua URL -- FILE

local paths = {}
local threads = 0

-- Each thread starts somewhere else in the list.
function setup(thread)
  threads = threads + 1
  thread:set("i", threads * 37)
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
