-- tests/bench/json.lua: the json module against lua-cjson on a ~10 MB
-- Kubernetes-like list (5,000 ConfigMaps), generated in memory.
--   ./kscript tests/bench/json.lua [count]
-- Prints the median of 5 runs of each (CPU seconds, os.clock) and the ratio
-- cjson/json (> 1: json is faster).
local json = require "json"
local cjson = require "cjson"

local count = tonumber(arg and arg[1]) or 5000
local RUNS = 5

-- deterministic pseudo-random text
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end
local alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
local function word(n)
  local t = {}
  for i = 1, n do
    local k = rnd(#alpha) + 1
    t[i] = alpha:sub(k, k)
  end
  return table.concat(t)
end

local function configmap(i)
  local name = "cm-" .. word(8) .. "-" .. i
  local labels = { app = "web-" .. word(4), tier = "backend", ["app.kubernetes.io/managed-by"] = "Helm",
    release = "r" .. rnd(100) }
  local data = {}
  for j = 1, 6 do
    data["key" .. j .. ".conf"] = ("line %d = %s\n"):format(j, word(20)):rep(6 + rnd(6))
  end
  local obj = {
    apiVersion = "v1",
    kind = "ConfigMap",
    metadata = {
      name = name,
      namespace = "ns-" .. rnd(20),
      uid = ("%s-%s-%s-%s-%s"):format(word(8), word(4), word(4), word(4), word(12)),
      resourceVersion = tostring(100000 + i),
      creationTimestamp = "2024-05-01T12:00:00Z",
      labels = labels,
      annotations = {
        ["kubectl.kubernetes.io/last-applied-configuration"] = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"'
          .. name .. '"}}\n',
        ["meta.helm.sh/release-name"] = "release-" .. word(6),
      },
      managedFields = { json.array { { manager = "kubectl", operation = "Update", apiVersion = "v1",
        time = "2024-05-01T12:00:00Z", fieldsType = "FieldsV1" } } },
      generation = 1,
    },
    data = data,
  }
  return obj
end

local items = {}
for i = 1, count do items[i] = configmap(i) end
local list = { apiVersion = "v1", kind = "ConfigMapList", metadata = { resourceVersion = "987654" }, items = items }
local text = json.encode(list)

local function median(f)
  local times = {}
  for r = 1, RUNS do
    collectgarbage()
    collectgarbage()
    local t0 = os.clock()
    f()
    times[r] = os.clock() - t0
  end
  table.sort(times)
  return times[(RUNS + 1) // 2]
end

local jdoc = json.decode(text)
local cdoc = cjson.decode(text)
assert(#jdoc.items == count and #cdoc.items == count)

local rows_
local rows = {
  { "decode", median(function() json.decode(text) end), median(function() cjson.decode(text) end) },
  { "encode", median(function() json.encode(jdoc) end), median(function() cjson.encode(cdoc) end) },
  { "encode sort_keys=false", median(function() json.encode(jdoc, { sort_keys = false }) end),
    median(function() cjson.encode(cdoc) end) },
  { "encode indent=4", median(function() json.encode(jdoc, { indent = 4 }) end), nil },
}

local mb = #text / 1e6
io.write(("json vs cjson: %d objects, %.1f MB, median of %d (CPU s)\n"):format(count, mb, RUNS))
io.write(("%-24s %9s %9s %7s %9s\n"):format("", "json", "cjson", "ratio", "json MB/s"))
for _, r in ipairs(rows) do
  io.write(("%-24s %9.4f %9s %7s %9.0f\n"):format(r[1], r[2], r[3] and ("%.4f"):format(r[3]) or "-",
    r[3] and ("%.2fx"):format(r[3] / r[2]) or "-", mb / r[2]))
end
rows_ = rows

-- a row of tests/bench/run's summary (when it runs us)
local rows = os.getenv("BENCH_ROWS")
if rows and rows ~= "" then
  local f = assert(io.open(rows, "a"))
  local what = ("json.%%s, %d-ConfigMap list (%.0f MB): CPU"):format(count, mb)
  f:write(("%s|s|%.4f|lua-cjson|%.4f|-|-\n"):format(what:format("decode"), rows_[1][2], rows_[1][3]))
  f:write(("%s|s|%.4f|lua-cjson|%.4f|-|-\n"):format(what:format("encode"), rows_[2][2], rows_[2][3]))
  f:close()
end
