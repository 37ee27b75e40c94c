-- api-resources: list the resource types the server offers, as kubectl api-resources does
-- usage: api-resources [--namespaced=true|false] [--api-group G] [--verbs V,...] [--categories C,...]
--                      [-o wide|name] [--no-headers] [--sort-by name|kind] [--cached]
--   --context NAME, --kubeconfig FILE, -s/--server URL
local args = require "ksh.args"
local k8s = require "k8s"
local printers = require "k8s.printers"
local ksh = require "ksh"

local o = args.parse(arg, {
  { nil, "namespaced", value = true },
  { nil, "api-group", value = true },
  { nil, "verbs", value = true, list = true, split = "," },
  { nil, "categories", value = true, list = true, split = "," },
  { "o", "output", value = true },
  { nil, "no-headers" },
  { nil, "sort-by", value = true },
  { nil, "cached" },
  { nil, "context", value = true },
  { nil, "kubeconfig", value = true },
  { "s", "server", value = true },
})
if o.output and o.output ~= "wide" and o.output ~= "name" then
  ksh.usage("unsupported output format %q (wide, name)", o.output)
end

local k = assert(k8s.connect { context = o.context, kubeconfig = o.kubeconfig, server = o.server })
local entries = assert(k:resources(not o.cached))

local function has_all(list, want)
  local set = {}
  for _, v in ipairs(list or {}) do set[v] = true end
  for _, v in ipairs(want or {}) do if not set[v] then return false end end
  return true
end

-- the preferred version of each group/resource (first seen, in priority order)
local seen, rows = {}, {}
for _, e in ipairs(entries) do
  local key = e.group .. "/" .. e.name
  if not seen[key] and #(e.verbs or {}) > 0 then
    seen[key] = true
    local keep = true
    if o.api_group and o.api_group ~= e.group then keep = false end
    if o.namespaced and tostring(e.namespaced) ~= o.namespaced then keep = false end
    if not has_all(e.verbs, o.verbs) or not has_all(e.categories, o.categories) then keep = false end
    if keep then rows[#rows + 1] = e end
  end
end

local by = o.sort_by
local idx = {}
for i, e in ipairs(rows) do idx[e] = i end
table.sort(rows, function(a, b)
  local va, vb = a.group, b.group
  if by == "name" then va, vb = a.name, b.name elseif by == "kind" then va, vb = a.kind, b.kind end
  if va ~= vb then return va < vb end
  if a.name ~= b.name then return a.name < b.name end
  return idx[a] < idx[b]
end)

if o.output == "name" then
  for _, e in ipairs(rows) do
    io.stdout:write(e.name, e.group ~= "" and "." .. e.group or "", "\n")
  end
  return
end

local tbl = printers.table { no_headers = o.no_headers }
local cols = { { name = "NAME" }, { name = "SHORTNAMES" }, { name = "APIVERSION" }, { name = "NAMESPACED" }, { name = "KIND" } }
if o.output == "wide" then
  cols[#cols + 1] = { name = "VERBS" }
  cols[#cols + 1] = { name = "CATEGORIES" }
end
local trows = {}
for i, e in ipairs(rows) do
  local cells = { e.name, table.concat(e.short or {}, ","),
                  e.group == "" and e.version or e.group .. "/" .. e.version, tostring(e.namespaced), e.kind }
  if o.output == "wide" then
    cells[#cells + 1] = table.concat(e.verbs or {}, ",")
    cells[#cells + 1] = table.concat(e.categories or {}, ",")
  end
  trows[i] = { cells = cells }
end
tbl:add { columnDefinitions = cols, rows = trows }
io.stdout:write(tbl:render())
