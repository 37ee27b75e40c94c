-- k8s.printers: kubectl's output formats.
--   json(obj [, opts]) -> text   Go's MarshalIndent, 4 spaces, sorted keys, "\n"
--   yaml(obj [, opts]) -> text   through ksh.yaml (go-yaml v2 style)
--   as_list(items) -> {"apiVersion":"v1","items":[...],"kind":"List","metadata":{"resourceVersion":""}}
--   name(obj, entry) -> "deployment.apps/web"
--   Table: t = printers.table{wide =, namespace = true, labels = {...}, show_labels =, no_headers =, kind_prefix =,
--                             event =, context =}
--          t:add(server_table [, event [, context]])  -- a meta.k8s.io Table (rows, columnDefinitions);
--            with opts.context a leading CONTEXT column holding `context` (get --contexts)
--          t:render() -> text aligned as kubectl's tabwriter does
local util = require "k8s.util"

local json = util.json

local M = {}

-- ask the server for a meta.k8s.io Table (kubectl's columns), else JSON
M.TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

local function strip_managed(obj)
  if type(obj) == "table" and type(obj.metadata) == "table" then obj.metadata.managedFields = nil end
end

--- prepare(obj, opts): drop managedFields (unless opts.show_managed_fields)
-- on an object and on each item of a list
function M.prepare(obj, opts)
  if opts and opts.show_managed_fields then return obj end
  strip_managed(obj)
  if type(obj) == "table" and type(obj.items) == "table" then
    for _, it in ipairs(obj.items) do strip_managed(it) end
  end
  return obj
end

function M.as_list(items)
  local arr = json.array({})
  for i, it in ipairs(items or {}) do arr[i] = it end
  return { apiVersion = "v1", kind = "List", items = arr, metadata = { resourceVersion = "" } }
end

function M.json(obj, opts)
  return json.encode(M.prepare(obj, opts), { indent = 4, sort_keys = true }) .. "\n"
end

function M.yaml(obj, opts)
  local y = require "ksh.yaml"
  return y.encode(M.prepare(obj, opts))
end

--- watch_output(format, opts) -> show(ev) -> string|nil: an event of a watch
-- as `kubectl get -w -o json|yaml` prints it; opts.events (with
-- --output-watch-events), opts.show_managed_fields.
-- * An event prints as json.Marshal does: one line, the event's fields in
--   struct order, the object's keys sorted; managedFields are kept (kubectl
--   drops them only from an object or a list it prints bare).
-- * An initial list of several pages prints one List per page (kubectl gets
--   the pages as objects and prints each): its first item's event returns the
--   page, the others nil.
-- * YAML documents are separated by "---" (none before the first).
function M.watch_output(format, opts)
  opts = opts or {}
  local docs = 0
  return function(ev)
    local obj = ev.object
    if ev.page then
      if not ev.page_first then return nil end
      obj = {}
      for k, v in pairs(ev.page) do obj[k] = v end
      obj.inconsistent = nil -- (pages' own mark, not the server's)
    end
    if not opts.events then obj = M.prepare(obj, opts) end
    if format == "json" then
      if not opts.events then return json.encode(obj, { indent = 4, sort_keys = true }) .. "\n" end
      return '{"type":' .. json.encode(ev.type) .. ',"object":' .. json.encode(obj, { sort_keys = true }) .. "}\n"
    end
    local y = require "ksh.yaml"
    local s = (docs > 0 and "---\n" or "") .. y.encode(opts.events and { type = ev.type, object = obj } or obj)
    docs = docs + 1
    return s
  end
end

--- name(obj, entry) -> "kind[.group]/name" (kubectl -o name)
function M.name(obj, entry)
  local kind = (obj.kind ~= nil and obj.kind ~= util.null and obj.kind) or entry.kind
  local group = entry and entry.group
  if not group then
    local api = obj.apiVersion or ""
    group = api:match("^(.*)/") or ""
  end
  local k = tostring(kind):lower()
  if group ~= "" then k = k .. "." .. group end
  local m = type(obj.metadata) == "table" and obj.metadata or {}
  return k .. "/" .. tostring(m.name)
end

local function cell_text(v)
  if v == nil or v == util.null then return "" end
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v == math.floor(v) and math.abs(v) < 1e15 then return ("%d"):format(v) end
    return ("%.14g"):format(v)
  end
  if t == "boolean" then return tostring(v) end
  if t == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = cell_text(x) end
    if #parts > 0 or json.isarray(v) then return "[" .. table.concat(parts, " ") .. "]" end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = k .. ":" .. cell_text(v[k]) end
    return "map[" .. table.concat(parts, " ") .. "]"
  end
  return tostring(v)
end
M.cell_text = cell_text

--- format_labels(labels) -> "a=b,c=d" (sorted) or "<none>"
function M.format_labels(labels)
  if type(labels) ~= "table" then return "<none>" end
  local keys = {}
  for k in pairs(labels) do keys[#keys + 1] = k end
  if #keys == 0 then return "<none>" end
  table.sort(keys)
  for i, k in ipairs(keys) do keys[i] = k .. "=" .. tostring(labels[k]) end
  return table.concat(keys, ",")
end

local Table = {}
Table.__index = Table

function M.table(opts)
  return setmetatable({ opts = opts or {}, header = nil, rows = {}, widths = {} }, Table)
end

local function row_meta(row)
  local o = row.object
  if type(o) == "table" and type(o.metadata) == "table" then return o.metadata end
  return {}
end

--- add(t [, event [, context]]): take the rows of a server Table (or of a watch event's Table)
function Table:add(tbl, event, context)
  local o = self.opts
  if not self.cols and type(tbl.columnDefinitions) == "table" and #tbl.columnDefinitions > 0 then
    self.cols = {}
    local header = {}
    if o.context then header[#header + 1] = "CONTEXT" end
    if o.event then header[#header + 1] = "EVENT" end
    if o.namespace then header[#header + 1] = "NAMESPACE" end
    for i, c in ipairs(tbl.columnDefinitions) do
      local show = o.wide or (c.priority or 0) == 0
      self.cols[i] = show
      if show then header[#header + 1] = tostring(c.name):upper() end
    end
    for _, l in ipairs(o.labels or {}) do header[#header + 1] = (l:match("([^/]*)$")):upper() end
    if o.show_labels then header[#header + 1] = "LABELS" end
    self.header = header
  end
  for _, row in ipairs(type(tbl.rows) == "table" and tbl.rows or {}) do
    local out = {}
    local m = row_meta(row)
    if o.context then out[#out + 1] = context or "" end
    if o.event then out[#out + 1] = event or "ADDED" end
    if o.namespace then out[#out + 1] = cell_text(m.namespace) end
    local first = true
    for i, c in ipairs(row.cells or {}) do
      if self.cols and self.cols[i] then
        local s = cell_text(c)
        if first and o.kind_prefix then s = o.kind_prefix .. "/" .. s end
        first = false
        out[#out + 1] = s
      end
    end
    local labels = type(m.labels) == "table" and m.labels or {}
    for _, l in ipairs(o.labels or {}) do out[#out + 1] = cell_text(labels[l]) end
    if o.show_labels then out[#out + 1] = M.format_labels(m.labels) end
    self.rows[#self.rows + 1] = out
  end
end

-- widths: tabwriter with minwidth 6, padding 3; the last column unpadded
local function measure(widths, cells)
  for i = 1, #cells - 1 do
    local w = math.max(6, #cells[i] + 3)
    if w > (widths[i] or 0) then widths[i] = w end
  end
end

local function line(widths, cells)
  local parts = {}
  for i = 1, #cells - 1 do
    parts[i] = cells[i] .. (" "):rep((widths[i] or 0) - #cells[i])
  end
  parts[#cells] = cells[#cells]
  return table.concat(parts) .. "\n"
end

--- render() -> the text of the rows added since the last render (with the
-- header the first time); widths are remembered across calls, as kubectl's
-- tabwriter remembers them during a watch
function Table:render()
  local show_header = self.header and not self.opts.no_headers and not self.header_done
  if #self.rows == 0 then return "" end
  if show_header then measure(self.widths, self.header) end
  for _, r in ipairs(self.rows) do measure(self.widths, r) end
  local out = {}
  if show_header then
    out[#out + 1] = line(self.widths, self.header)
    self.header_done = true
  end
  for _, r in ipairs(self.rows) do out[#out + 1] = line(self.widths, r) end
  self.rows = {}
  return table.concat(out)
end

function Table:count() return #self.rows end

return M
