-- k8s.printers: kubectl's output formats.
--   json(obj [, opts]) -> text   Go's MarshalIndent, 4 spaces, sorted keys, "\n"
--   yaml(obj [, opts]) -> text   through ksh.yaml (go-yaml v2 style)
--   as_list(items) -> {"apiVersion":"v1","items":[...],"kind":"List","metadata":{"resourceVersion":""}}
--   name(obj, entry) -> "deployment.apps/web"
--   Table: t = printers.table{wide =, namespace = true, labels = {...}, show_labels =, no_headers =, kind_prefix =,
--                             event =, context =}
--          t:add(server_table [, event [, context]])  -- a meta.k8s.io Table (rows, columnDefinitions);
--            with opts.context a leading CONTEXT column holding `context` (get --contexts)
--          t:pending() -> the text flushed so far (a list's chunks print as they arrive)
--          t:render() -> all the text added so far, flushed (end of a type, a watch event)
--          Alignment is kubectl 1.37's: its table printer (header, or a later
--          table's first row, padded to the table's widest cells; a flush
--          every 100 rows) into liggitt/tabwriter (minwidth 6, padding 3,
--          widths remembered across flushes, only growing): chunks of a
--          list align as kubectl's do (see Table:add)
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

-- a cell as kubectl's table printer writes it: strings as they are, other
-- values as Go's fmt.Sprint prints them (numbers in Go's format, lists
-- "[a b]", maps "map[k:v]")
local function cell_text(v)
  if v == nil or v == util.null then return "" end
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return require("k8s.jsonpath").go_float(v)
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

-- ---------------------------------------------------------------- tabwriter
-- kubectl's tabwriter (github.com/liggitt/tabwriter as cli-runtime sets it
-- up): minwidth 6, padding 3, spaces, RememberWidths. Lines are buffered
-- until a flush; a flush aligns the buffered lines in column blocks, each
-- column at least as wide as the widest it had in an earlier flush (widths
-- only grow); the last cell of a line is not padded; widths count runes; a
-- line of one cell flushes at once.
local MINWIDTH, PADDING = 6, 3

local function runes(s)
  return utf8.len(s) or #s
end

-- tw_line(tw, texts): one line of cells (a cell holding \t or \v is split
-- there, as the tabwriter splits what it is written)
local function tw_line(tw, texts)
  local cells = {}
  for i = 1, #texts do
    local c = texts[i]
    if c:find("[\t\v]") then
      for part in (c .. "\t"):gmatch("([^\t\v]*)[\t\v]") do cells[#cells + 1] = { part, runes(part) } end
    else
      cells[#cells + 1] = { c, runes(c) }
    end
  end
  tw.lines[#tw.lines + 1] = cells
  if #cells == 1 then tw:flush() end
end

-- the text of lines[line0..line1) with the column widths of the stack
local function write_lines(tw, out, line0, line1, widths)
  for i = line0, line1 - 1 do
    local line = tw.lines[i]
    for j, c in ipairs(line) do
      out[#out + 1] = c[1]
      local w = widths[j]
      if w and w > c[2] then out[#out + 1] = (" "):rep(w - c[2]) end
    end
    out[#out + 1] = "\n"
  end
end

-- tabwriter's format(): column blocks, widest cell + padding (min 6),
-- merged with the remembered widths
local function format(tw, out, line0, line1, widths)
  local column = #widths -- the 0-based index of the column being laid out
  local this = line0
  while this < line1 do
    local line = tw.lines[this]
    if column < #line - 1 then
      write_lines(tw, out, line0, this, widths)
      line0 = this
      local width = MINWIDTH
      while this < line1 do
        line = tw.lines[this]
        if column >= #line - 1 then break end
        local w = line[column + 1][2] + PADDING
        if w > width then width = w end
        this = this + 1
      end
      local mw = tw.widths
      for k = #mw + 1, #widths do mw[k] = widths[k] end
      local r = mw[column + 1]
      if r == nil then mw[column + 1] = width
      elseif r > width then width = r
      else mw[column + 1] = width end
      widths[#widths + 1] = width
      format(tw, out, line0, this, widths)
      widths[#widths] = nil
      line0 = this
    end
    this = this + 1
  end
  write_lines(tw, out, line0, line1, widths)
end

local TW = {}
TW.__index = TW

-- flush(): lay out the buffered lines, keep their text for take()
function TW:flush()
  if #self.lines == 0 then return end
  format(self, self.out, 1, #self.lines + 1, {})
  self.lines = {}
end

-- take() -> the text flushed so far (once)
function TW:take()
  local s = table.concat(self.out)
  self.out = {}
  return s
end

-- ---------------------------------------------------------------- tables
local Table = {}
Table.__index = Table

function M.table(opts)
  -- widths: the tabwriter's remembered column widths (1-based)
  return setmetatable({ opts = opts or {}, lines = {}, out = {}, widths = {} }, Table)
end

-- kubectl's cell writing: a value is cut at its first line break (\n, \r,
-- \f) and "..." added; ESC is shown as ^[
local function cell_out(s)
  if not s:find("[\f\n\r\27]") then return s end
  local cut = s:find("[\f\n\r]")
  if cut then return (s:sub(1, cut - 1):gsub("\27", "^[")) .. "..." end
  return (s:gsub("\27", "^["))
end

local function defs_key(defs)
  local parts = {}
  for i, c in ipairs(defs) do
    parts[i] = table.concat({ tostring(c.name), tostring(c.type), tostring(c.format), tostring(c.priority or 0),
                              tostring(c.description) }, "\0")
  end
  return table.concat(parts, "\1")
end

-- the columns of a new set of column definitions (decorated as kubectl's
-- decorateTable does: NAMESPACE first, then the label columns, LABELS)
function Table:columns(defs)
  local o = self.opts
  local cols = {} -- {header =, src = index in the row's cells | from = what fills it}
  if o.context then cols[#cols + 1] = { header = "CONTEXT", from = "context" } end
  if o.event then cols[#cols + 1] = { header = "EVENT", from = "event" } end
  if o.namespace then cols[#cols + 1] = { header = "NAMESPACE", from = "namespace" } end
  local name_col
  if o.kind_prefix then
    for i, c in ipairs(defs) do
      if c.format == "name" and c.type == "string" then name_col = i; break end
    end
  end
  for i, c in ipairs(defs) do
    if o.wide or (c.priority or 0) == 0 then
      cols[#cols + 1] = { header = tostring(c.name):upper(), src = i, name = i == name_col }
    end
  end
  for _, l in ipairs(o.labels or {}) do
    cols[#cols + 1] = { header = (l:match("([^/]*)$")):upper(), from = "label", label = l }
  end
  if o.show_labels then cols[#cols + 1] = { header = "LABELS", from = "labels" } end
  self.cols, self.ndefs = cols, #defs
end

--- add(t [, event [, context]]): print the rows of a server Table (or of a
-- watch event's Table) as kubectl's table printer prints them into its
-- tabwriter: the header before the first rows of a set of column
-- definitions, padded to the widest cell of each column so the first flush
-- sets the widths; a later table of the same columns has no header and its
-- first row padded instead; a flush every 100 rows of a table. Tables
-- added one after the other (the chunks of a list) thus align as kubectl's
-- do: each chunk at least as wide as the ones before, a chunk's rows up to
-- its last flush at the widths known then.
function Table:add(tbl, event, context)
  local o = self.opts
  local defs = tbl.columnDefinitions
  if type(defs) == "table" and #defs > 0 then
    local key = defs_key(defs)
    if key ~= self.defs then
      self.defs, self.printed_headers = key, false
      self:columns(defs)
    end
  end
  local cols = self.cols
  if not cols then return end
  local rows = type(tbl.rows) == "table" and tbl.rows or {}
  local no_headers = o.no_headers or self.printed_headers
  if #rows > 0 then self.printed_headers = true end
  -- the cells of each row (nil: no value), as decorateTable makes them
  local cells_of = {}
  for ri, row in ipairs(rows) do
    local obj = type(row) == "table" and row.object or nil
    local m = type(obj) == "table" and (type(obj.metadata) == "table" and obj.metadata or {}) or nil
    local labels = m and type(m.labels) == "table" and m.labels or {}
    local rc = type(row) == "table" and type(row.cells) == "table" and row.cells or {}
    local cells = {}
    for ci, c in ipairs(cols) do
      local v
      if c.src then
        v = rc[c.src]
        if v == util.null then v = nil end
        if v ~= nil then
          v = cell_text(v)
          if c.name then v = o.kind_prefix .. "/" .. v end
        end
      elseif c.from == "context" then v = context or ""
      elseif c.from == "event" then v = event or "ADDED"
      elseif c.from == "namespace" then v = m and cell_text(m.namespace) or nil
      elseif c.from == "label" then v = m and cell_text(labels[c.label]) or nil
      elseif c.from == "labels" then v = m and M.format_labels(m.labels) or nil
      end
      cells[ci] = v
    end
    cells_of[ri] = cells
  end
  local ncols = #cols
  -- the pre-scan: the widest cell of each column, in bytes
  local maxw = {}
  for ci = 1, ncols do
    local w = 0
    for _, cells in ipairs(cells_of) do
      local v = cells[ci]
      if v and #v > w then w = #v end
    end
    maxw[ci] = w
  end
  if not no_headers then
    if #rows == 0 then return end
    local h = {}
    for ci, c in ipairs(cols) do
      h[ci] = c.header
      if ci < ncols and maxw[ci] > #c.header then h[ci] = c.header .. (" "):rep(maxw[ci] - #c.header) end
    end
    tw_line(self, h)
  end
  for ri, cells in ipairs(cells_of) do
    local parts = {}
    for ci = 1, ncols do
      local v = cells[ci] or ""
      local s = cell_out(v)
      if no_headers and ri == 1 and ci < ncols and maxw[ci] > #v then s = s .. (" "):rep(maxw[ci] - #v) end
      parts[ci] = s
    end
    tw_line(self, parts)
    if ri % 100 == 0 then self:flush() end
  end
end

Table.flush = TW.flush
Table.take = TW.take

--- render() -> the text of everything added so far, flushed (a tabwriter
-- Flush: kubectl flushes at the end of each resource type and after each
-- watch event)
function Table:render()
  self:flush()
  return self:take()
end

--- pending() -> the text flushed so far without flushing (streaming a
-- list: the rows of the last, partial 100 wait for the next chunk, as in
-- kubectl)
Table.pending = TW.take

M.tabwriter = function() return setmetatable({ lines = {}, out = {}, widths = {} }, TW) end

return M
