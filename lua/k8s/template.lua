-- k8s.template: kubectl's template output formats for get and the write
-- commands: -o jsonpath=..., jsonpath-file=FILE, jsonpath-as-json=...,
-- custom-columns=SPEC, custom-columns-file=FILE; and kscript's -o lua=EXPR
-- (a Lua expression over obj, one line per object).
--
--   local p = template.printer("jsonpath={.items[*].metadata.name}", {no_headers = false})
--   -- nil when the format is none of these; nil, err for a bad template
--   p:render(objs, single) -> text | nil, err  (single: one named object, else a List of objs)
local jsonpath = require "k8s.jsonpath"
local util = require "k8s.util"

local json = util.json

local M = {}

local FORMATS = { ["jsonpath"] = true, ["jsonpath-file"] = true, ["jsonpath-as-json"] = true,
                  ["custom-columns"] = true, ["custom-columns-file"] = true, ["lua"] = true }

--- is_template(output) -> true for the formats handled here
function M.is_template(output)
  if type(output) ~= "string" then return false end
  local f = output:match("^([%a%-]+)=") or output
  return FORMATS[f] == true
end

local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

local P = {}
P.__index = P

--- printer(output [, opts]) -> printer | nil (not a template format) | nil, err
-- opts.no_headers, opts.allow_missing (default true)
function M.printer(output, opts)
  opts = opts or {}
  if not M.is_template(output) then return nil end
  local format, value = output:match("^([%a%-]+)=(.*)$")
  format = format or output
  value = value or ""
  if value == "" then
    if format:match("^custom") then
      return nil, "custom-columns format specified but no custom columns given"
    end
    return nil, "template format specified but no template given"
  end
  if format == "jsonpath-file" or format == "custom-columns-file" then
    local text, err = read(value)
    if not text then
      if format == "jsonpath-file" then return nil, ("error reading --template %s, %s"):format(value, tostring(err)) end
      return nil, ("error reading template %s, %s"):format(value, tostring(err))
    end
    value = text
  end
  local p = setmetatable({ format = format, opts = opts }, P)
  if format == "lua" then
    -- -o lua=EXPR: a Lua expression over obj, one line per object (kscript's
    -- stand-in for -o go-template); nil prints nothing, a table prints as JSON
    local env = setmetatable({}, { __index = function(_, key)
      if key == "obj" then return p.current end
      return _G[key]
    end })
    local fn, err = load("return " .. value, "=-o lua", "t", env)
    if not fn then return nil, ("error parsing -o lua expression %s: %s"):format(value, err) end
    p.fn, p.text = fn, value
    return p
  end
  if format:match("^jsonpath") then
    local t, err = jsonpath.parse(value)
    if not t then return nil, ("error parsing jsonpath %s, %s"):format(value, err) end
    p.t, p.text = t, value
  else
    local cols, err
    if format == "custom-columns" then cols, err = jsonpath.custom_columns(value)
    else cols, err = jsonpath.custom_columns_file(value) end
    if not cols then return nil, err end
    p.cols = cols
  end
  return p
end

local function as_list(objs)
  local arr = json.array {}
  for i, o in ipairs(objs) do arr[i] = o end
  return { apiVersion = "v1", kind = "List", items = arr, metadata = { resourceVersion = "" } }
end

-- tabwriter as kubectl sets it up: minwidth 6, padding 3, widths in runes
local function align(rows)
  local widths = {}
  for _, r in ipairs(rows) do
    for i = 1, #r - 1 do
      local w = math.max(6, (utf8.len(r[i]) or #r[i]) + 3)
      if w > (widths[i] or 0) then widths[i] = w end
    end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local parts = {}
    for i = 1, #r - 1 do parts[i] = r[i] .. (" "):rep(widths[i] - (utf8.len(r[i]) or #r[i])) end
    parts[#r] = r[#r]
    out[#out + 1] = table.concat(parts) .. "\n"
  end
  return table.concat(out)
end

--- render(objs, single) -> text | nil, err
function P:render(objs, single)
  if self.fn then
    local out = {}
    for _, obj in ipairs(objs) do
      self.current = obj
      local ok, v = pcall(self.fn)
      self.current = nil
      if not ok then return nil, ("error: -o lua=%s: %s"):format(self.text, tostring(v)) end
      if type(v) == "table" then out[#out + 1] = json.encode(v) .. "\n"
      elseif v ~= nil then out[#out + 1] = tostring(v) .. "\n" end
    end
    return table.concat(out)
  end
  if self.t then
    local obj = (single and #objs == 1) and objs[1] or as_list(objs)
    local text, err = jsonpath.execute(self.t, obj, { json = self.format == "jsonpath-as-json",
      allow_missing = self.opts.allow_missing })
    if not text then
      -- kubectl's words, the object dumped as Go's %#v
      return nil, ("error: error executing jsonpath %s: Error executing template: %s. Printing more information for debugging the template:\n\ttemplate was:\n\t\t%s\n\tobject given to jsonpath engine was:\n\t\t%s\n\n")
        :format(jsonpath.go_quote(self.text), err, self.text, jsonpath.gosyntax(obj))
    end
    return text
  end
  local rows = {}
  if not self.opts.no_headers then
    local h = {}
    for i, c in ipairs(self.cols) do h[i] = c.header end
    rows[1] = h
  end
  for _, obj in ipairs(objs) do
    local cells, err = jsonpath.cells(self.cols, obj)
    if not cells then return nil, err end
    rows[#rows + 1] = cells
  end
  if #objs == 0 and not single then
    -- kubectl prints the header of an empty list too
  end
  return align(rows)
end

return M
