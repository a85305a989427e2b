-- wrk script for bench/search.sh: each request takes the next of ~50 catalogue searches a
-- portal sees — Chinese words, pinyin and initials, facet filters with and without text, and
-- browsing by facet alone. Every facet is counted (the API's default).
--
--   wrk -t2 -c32 -d20s --latency -s bench/search.lua http://127.0.0.1:PORT

-- Provider keys are the organisation codes catalogue_gen gives: mb1530007 is 四川省交通运输厅,
-- mb1530014 四川省卫生健康委员会, mb1530147 成都市交通运输局, mb1530154 成都市卫生健康委员会.
local searches = {
  -- Chinese words and phrases
  { q = "公积金" },
  { q = "住房公积金缴存单位" },
  { q = "医疗机构" },
  { q = "空气质量" },
  { q = "幼儿园" },
  { q = "养老机构" },
  { q = "食品经营许可" },
  { q = "公交线路" },
  { q = "农民专业合作社" },
  { q = "律师事务所" },
  { q = "旅游景区" },
  { q = "排污许可证" },
  { q = "不动产登记" },
  { q = "社会保险" },
  { q = "充电桩" },
  { q = "停车场" },
  { q = "地区生产总值" },
  { q = "武侯区" },
  { q = "绵阳市 医院" },
  { q = "中小学校 名录" },
  { q = "危险化学品" },
  { q = "\"居民消费价格指数\"" },
  -- pinyin and initials
  { q = "gongjijin" },
  { q = "yiliao jigou" },
  { q = "kongqi zhiliang" },
  { q = "youeryuan" },
  { q = "yanglao" },
  { q = "gjj" },
  { q = "tingchechang" },
  -- text with facet filters
  { q = "医疗机构", domain = "health" },
  { q = "公积金", region = "510107" },
  { q = "学校", open_type = "unconditional" },
  { q = "许可", provider = "mb1530007" },
  { q = "统计", update_frequency = "monthly" },
  { q = "监测", domain = "resources_environment", format = "API" },
  { q = "名录", region = "510100" },
  { q = "成都市", domain = "transport" },
  { q = "人口", tag = "统计数据" },
  { q = "价格", open_type = "conditional" },
  { q = "gongjijin", domain = "urban_construction" },
  { q = "交通", region = "510700", update_frequency = "daily" },
  { q = "医疗", provider = "mb1530154", sort = "updated" },
  { q = "养老", domain = "livelihood", page = "2" },
  -- browsing by facet, no text
  { domain = "health" },
  { region = "510107" },
  { provider = "mb1530147" },
  { open_type = "conditional", domain = "economy" },
  { sort = "updated" },
  { tag = "2020年" },
  { update_frequency = "realtime", format = "API" },
}

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

local paths = {}
for _, params in ipairs(searches) do
  local keys = {}
  for k in pairs(params) do
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = k .. "=" .. encode(params[k])
  end
  paths[#paths + 1] = "/api/v1/search?" .. table.concat(parts, "&")
end

local n = 0

-- Threads start at different places so both do not ask the same thing at the same time.
function setup(thread)
  n = n + 1
  thread:set("start", n * 17)
end

function request()
  start = (start or 0) + 1
  return wrk.format("GET", paths[(start % #paths) + 1])
end
