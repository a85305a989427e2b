-- Shared by the load scripts of bench/load.sh: counts every response by status per thread,
-- and on exit prints one STATUS and one LATENCY line the script reads, e.g.
--   STATUS search 200=51234 503=0
--   LATENCY search p50=3.21 p99=41.02 max=180.33 requests=51234
-- Threads may append lines to their own file (`record`), named after OUT and the thread.
local M = {}
local threads = {}

statuses = {}
tid = 0
local out

function M.setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

function M.count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function M.record(line)
  if not out then
    out = assert(io.open(os.getenv("OUT") .. "." .. tid, "a"))
  end
  out:write(line, "\n")
  out:flush()
end

function M.done(name)
  return function(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
      for s, n in pairs(t:get("statuses")) do
        total[s] = (total[s] or 0) + n
      end
    end
    local parts = {}
    for s, n in pairs(total) do
      parts[#parts + 1] = s .. "=" .. n
    end
    table.sort(parts)
    io.write(string.format("STATUS %s %s\n", name, table.concat(parts, " ")))
    io.write(string.format("LATENCY %s p50=%.2f p99=%.2f max=%.2f requests=%d errors=%d\n", name,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout))
  end
end

-- The path's query parameter, percent-encoded.
function M.encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Lines of a file, or an empty list when it is missing.
function M.lines(path)
  local t = {}
  local f = io.open(path, "r")
  if f then
    for l in f:lines() do t[#t + 1] = l end
    f:close()
  end
  return t
end

return M
