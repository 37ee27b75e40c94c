-- ksh.pp: the prompt's printer.  Tables print indented, keys in a stable
-- order (array part first, then integers, then strings by byte), short
-- tables on one line, cycles marked; json.null prints as null.
local M = {}

local WIDTH = 80
local ident = "^[%a_][%w_]*$"
local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch "%a+" do keywords[w] = true end

local function is_null(v)
  local json = package.loaded.json
  return json ~= nil and v == json.null
end

local function scalar(v)
  local t = type(v)
  if t == "string" then
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  elseif is_null(v) then
    return "null"
  end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  return "<" .. tostring(v) .. ">"
end

local function keyorder(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function keystr(k)
  if type(k) == "string" and k:match(ident) and not keywords[k] then return k end
  return "[" .. scalar(k) .. "]"
end

local function fmt(v, indent, seen, depth)
  if type(v) ~= "table" or is_null(v) then return scalar(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring and mt.__name ~= "ksh.error" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if depth > 64 then return "{...}" end
  seen[v] = true
  local n = #v
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, keyorder)
  local parts = {}
  local inner = indent .. "  "
  for i = 1, n do parts[#parts + 1] = fmt(v[i], inner, seen, depth + 1) end
  for _, k in ipairs(keys) do
    parts[#parts + 1] = keystr(k) .. " = " .. fmt(v[k], inner, seen, depth + 1)
  end
  seen[v] = nil
  if #parts == 0 then
    local json = package.loaded.json
    if json and json.isarray and json.isarray(v) then return "{} --[[array]]" end
    return "{}"
  end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #one + #indent <= WIDTH and not one:find("\n", 1, true) then return one end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

--- format(value) -> string
function M.format(v) return fmt(v, "", {}, 0) end

--- pp(...) prints each value formatted.
function M.print(...)
  local n = select("#", ...)
  local out = {}
  for i = 1, n do out[i] = M.format((select(i, ...))) end
  print(table.concat(out, "\t"))
end

return setmetatable(M, { __call = function(_, ...) return M.print(...) end })
