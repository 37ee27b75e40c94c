-- k8s.docs: manifests as kubectl reads them: YAML with several documents
-- (split on "---" lines as apimachinery's YAMLReader does), or JSON (one or
-- more objects in a row), Lists flattened into their items, empty documents
-- skipped.  Errors name the file, the document and the line in the file.
--
--   local objs, err = docs.parse(text, "deploy.yaml")
--   objs[i] = object; objs.where[i] = {source =, doc = N, line = L}
--   docs.files(paths, recursive) -> {path, ...} | nil, err  (directories: *.json, *.yaml, *.yml)
local util = require "k8s.util"

local json = util.json

local M = {}

--- is_list(obj) -> true for a kind: List or *List with items
function M.is_list(obj)
  return type(obj) == "table" and type(obj.kind) == "string" and obj.kind:match("List$") ~= nil
    and type(obj.items) == "table"
end

local function flatten_into(out, where, obj, w)
  if M.is_list(obj) then
    local ikind = obj.kind ~= "List" and obj.kind:gsub("List$", "") or nil
    for _, it in ipairs(obj.items) do
      if type(it) == "table" and ikind then
        if it.kind == nil then it.kind = ikind end
        if it.apiVersion == nil then it.apiVersion = obj.apiVersion end
      end
      flatten_into(out, where, it, w)
    end
  else
    out[#out + 1] = obj
    where[#where + 1] = w
  end
end

--- flatten(objs) -> objs with every List replaced by its items
function M.flatten(objs)
  local out, where = {}, {}
  for i, o in ipairs(objs) do flatten_into(out, where, o, objs.where and objs.where[i] or {}) end
  out.where = where
  return out
end

local function perr(source, doc, msg)
  return util.error("parse", ("error parsing %s: %s"):format(source, msg), { source = source, doc = doc })
end

local function looks_json(text)
  return text:match("^[%s\239\187\191]*{") ~= nil
end

-- JSON: objects one after another (kubectl's JSON decoder reads a stream)
local function parse_json(text, source, out, where)
  local pos, n = 1, 0
  while true do
    local v, nextpos, errpos = json.decode_at(text, pos)
    if v == nil then
      if nextpos == nil and errpos == nil then break end   -- only whitespace left
      local line = select(2, text:sub(1, errpos or pos):gsub("\n", "")) + 1
      return nil, perr(source, n + 1, ("document %d, line %d: %s"):format(n + 1, line, tostring(nextpos)))
    end
    n = n + 1
    local line = select(2, text:sub(1, pos):gsub("\n", "")) + 1
    if type(v) ~= "table" then
      return nil, perr(source, n, ("document %d, line %d: not an object"):format(n, line))
    end
    flatten_into(out, where, v, { source = source, doc = n, line = line })
    pos = nextpos
  end
  return out
end

-- YAML: split on separator lines, decode each document
local function parse_yaml(text, source, out, where)
  local yaml = require "ksh.yaml"
  local docs, starts = {}, {}
  local buf, lineno, start = {}, 0, 1
  local function flush()
    if #buf > 0 then
      docs[#docs + 1] = table.concat(buf)
      starts[#starts + 1] = start
    end
    buf = {}
  end
  for line in text:gmatch("[^\n]*\n?") do
    if line == "" then break end
    lineno = lineno + 1
    if line:sub(1, 3) == "---" then
      local rest = line:sub(4):match("^%s*(.-)%s*$")
      if rest ~= "" and rest:sub(1, 1) ~= "#" then
        return nil, perr(source, #docs + 1, ("line %d: invalid YAML document separator: %s"):format(lineno, rest))
      end
      flush()
      start = lineno + 1
    else
      if #buf == 0 then start = lineno end
      buf[#buf + 1] = line
    end
  end
  flush()
  for i, d in ipairs(docs) do
    if d:match("%S") then
      local v, err = yaml.decode(d)
      if v == nil and err then
        local first = starts[i]
        local msg = tostring(err):gsub("line (%d+)", function(l) return "line " .. (tonumber(l) + first - 1) end)
        return nil, perr(source, i, ("document %d: %s"):format(i, msg))
      end
      if v ~= nil and v ~= util.null then
        if type(v) ~= "table" then
          return nil, perr(source, i, ("document %d, line %d: not an object: %s"):format(i, starts[i], tostring(v)))
        end
        flatten_into(out, where, v, { source = source, doc = i, line = starts[i] })
      end
    end
  end
  return out
end

--- parse(text, source) -> objects (objs.where[i] = {source, doc, line}) | nil, err
function M.parse(text, source)
  source = source or "<text>"
  local out, where = {}, {}
  out.where = where
  local ok, err
  if looks_json(text) then ok, err = parse_json(text, source, out, where)
  else ok, err = parse_yaml(text, source, out, where) end
  if not ok then return nil, err end
  return out
end

local sys = require "ksh.sys"

local function list_dir(dir)
  local p = io.popen("ls -1A '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  local names = {}
  if p then
    for f in p:lines() do names[#names + 1] = f end
    p:close()
  end
  table.sort(names)
  return names
end

--- files(paths, recursive) -> {{path =, text = nil}, ...} | nil, err: the
-- files named, directories expanded (their .json, .yaml, .yml files,
-- sorted; subdirectories with recursive), "-" for standard input
function M.files(paths, recursive)
  local out = {}
  local function walk(dir, top)
    for _, n in ipairs(list_dir(dir)) do
      local p = dir:gsub("/$", "") .. "/" .. n
      local kind = sys.stat(p)
      if kind == "dir" then
        if recursive then walk(p, false) end
      elseif kind == "file" and (n:match("%.json$") or n:match("%.yaml$") or n:match("%.yml$")) then
        out[#out + 1] = p
      end
    end
    return top
  end
  for _, p in ipairs(paths) do
    if p == "-" then
      out[#out + 1] = "-"
    else
      local kind = sys.stat(p)
      if kind == "dir" then
        walk(p, true)
      elseif kind then
        out[#out + 1] = p
      else
        return nil, util.error("notfound", ('the path "%s" does not exist'):format(p))
      end
    end
  end
  return out
end

--- read(path) -> text | nil, err ("-" reads standard input)
function M.read(path)
  if path == "-" then return io.stdin:read("a") or "" end
  local f, err = io.open(path, "rb")
  if not f then return nil, util.error("notfound", tostring(err)) end
  local s = f:read("a")
  f:close()
  return s
end

--- load(paths, recursive) -> objects (with .where) | nil, err
function M.load(paths, recursive)
  local files, err = M.files(paths, recursive)
  if not files then return nil, err end
  local all, where = {}, {}
  all.where = where
  for _, f in ipairs(files) do
    local text, rerr = M.read(f)
    if not text then return nil, rerr end
    local objs, perr_ = M.parse(text, f == "-" and "STDIN" or f)
    if not objs then return nil, perr_ end
    for i, o in ipairs(objs) do
      all[#all + 1] = o
      where[#where + 1] = objs.where[i]
    end
  end
  return all
end

return M
