-- k8s.jsonpath: kubectl's JSONPath dialect (k8s.io/client-go/util/jsonpath),
-- ported node for node so output matches kubectl's byte for byte.
--
--   local jp = require "k8s.jsonpath"
--   local t = assert(jp.parse("{range .items[*]}{.metadata.name}{\"\\n\"}{end}"))
--   jp.execute(t, obj [, {allow_missing = true, json = false}]) -> text | nil, err
--   jp.values(t, obj) -> flat list of results (for conditions and columns)
--   jp.text(v) -> v as kubectl prints one result (Go's fmt for scalars, compact JSON for maps/lists)
--   jp.relaxed(expr) -> "{.a.b}" from "a.b", ".a.b", "{a.b}" (custom-columns)
--   jp.custom_columns(spec) / jp.custom_columns_file(text) -> columns | nil, err
--
-- Objects are decoded JSON (json.null for null, arrays marked by json.array).
-- `.*` and `..` over maps walk keys in sorted order (kubectl: Go's random map order).
local json = require "json"

local M = {}

local null = json.null
local NOVALUE = setmetatable({}, { __name = "jsonpath.novalue", __tostring = function() return "<no value>" end })
M.NOVALUE = NOVALUE

-- ---------------------------------------------------------------- parser

local function is_alnum(c)
  if c == nil then return false end
  return c == "_" or c:match("^[%w]$") ~= nil or c:byte() >= 0x80
end
local function is_space(c) return c == " " or c == "\t" end
local function is_eol(c) return c == "\r" or c == "\n" end
local function is_terminator(c)
  if c == nil then return true end
  if is_space(c) or is_eol(c) then return true end
  return c == "." or c == "," or c == "[" or c == "]" or c == "$" or c == "@" or c == "{" or c == "}"
end

local P = {}
P.__index = P

local function new_parser(input)
  return setmetatable({ input = input, pos = 1, start = 1, width = 0 }, P)
end

-- next() -> the next character (a whole UTF-8 sequence) or nil at the end
function P:next()
  local s = self.input
  if self.pos > #s then self.width = 0; return nil end
  local b = s:byte(self.pos)
  local w = b < 0x80 and 1 or b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC0 and 2 or 1
  local c = s:sub(self.pos, self.pos + w - 1)
  self.width = #c
  self.pos = self.pos + #c
  return c
end
function P:backup() self.pos = self.pos - self.width end
function P:peek() local c = self:next(); self:backup(); return c end
function P:consume()
  local v = self.input:sub(self.start, self.pos - 1)
  self.start = self.pos
  return v
end
function P:has_prefix(p) return self.input:sub(self.pos, self.pos + #p - 1) == p end

local function fail(fmt, ...) error({ jsonpath = fmt:format(...) }, 0) end

local LIT = { __name = "jsonpath.literal" }   -- int, float, bool and uint8 values: never maps
local function lit(t, v) return setmetatable({ t = t, v = v }, LIT) end

local function new_list() return { t = "list", nodes = {} } end
local function append(list, n) list.nodes[#list.nodes + 1] = n end

local parse_action

function P:parse_text(cur)
  while true do
    if self:has_prefix("{") then
      if self.pos > self.start then append(cur, { t = "text", v = self:consume() }) end
      return self:parse_left_delim(cur)
    end
    if self:next() == nil then break end
  end
  if self.pos > self.start then append(cur, { t = "text", v = self:consume() }) end
end

function P:parse_left_delim(cur)
  self.pos = self.pos + 1
  self:consume()
  local n = new_list()
  append(cur, n)
  return self:parse_inside(n)
end

-- go's map iteration over {"}": ..., "[?(": ..., "..": ...} is random, but
-- the three prefixes never match at the same position
function P:parse_inside(cur)
  while true do
    if self:has_prefix("}") then return self:parse_right_delim(cur) end
    if self:has_prefix("[?(") then return self:parse_filter(cur) end
    if self:has_prefix("..") then return self:parse_recursive(cur) end
    local r = self:next()
    if r == nil or is_eol(r) then fail("unclosed action") end
    if r == " " then
      self:consume()
    elseif r == "@" or r == "$" then
      self:consume()
    elseif r == "[" then
      return self:parse_array(cur)
    elseif r == '"' or r == "'" then
      return self:parse_quote(cur, r)
    elseif r == "." then
      return self:parse_field(cur)
    elseif r == "+" or r == "-" or r:match("^%d$") then
      self:backup()
      return self:parse_number(cur)
    elseif is_alnum(r) then
      self:backup()
      return self:parse_identifier(cur)
    else
      local cp = utf8.codepoint(r, 1, 1, true) or r:byte()
      fail("unrecognized character in action: U+%04X '%s'", cp, r)
    end
  end
end

function P:parse_right_delim()
  self.pos = self.pos + 1
  self:consume()
  return self:parse_text(self.root)
end

function P:parse_identifier(cur)
  while true do
    local r = self:next()
    if is_terminator(r) then
      self:backup()
      break
    end
  end
  local v = self:consume()
  if v == "true" or v == "false" then append(cur, lit("bool", v == "true"))
  else append(cur, { t = "ident", v = v }) end
  return self:parse_inside(cur)
end

function P:parse_recursive(cur)
  local last = cur.nodes[#cur.nodes]
  if last and last.t == "rec" then fail("invalid multiple recursive descent") end
  self.pos = self.pos + 2
  self:consume()
  append(cur, { t = "rec" })
  if is_alnum(self:peek()) then return self:parse_field(cur) end
  return self:parse_inside(cur)
end

local function atoi(s)
  -- strconv.Atoi: optional sign, decimal digits, fits int64
  if not s:match("^[+-]?%d+$") then return nil end
  local n = math.tointeger(tonumber(s))
  return n
end

function P:parse_number(cur)
  local r = self:peek()
  if r == "+" or r == "-" then self:next() end
  while true do
    r = self:next()
    if r ~= "." and not (r and r:match("^%d$")) then
      self:backup()
      break
    end
  end
  local v = self:consume()
  local i = atoi(v)
  if i then append(cur, lit("int", i)); return self:parse_inside(cur) end
  local f = v:match("^[+-]?%d*%.?%d*$") and v:match("%d") and tonumber(v)
  if f then append(cur, lit("float", f + 0.0)); return self:parse_inside(cur) end
  fail("cannot parse number %s", v)
end

function P:parse_array(cur)
  while true do
    local r = self:next()
    if r == nil or r == "\n" then fail("unterminated array") end
    if r == "]" then break end
  end
  local text = self:consume()
  text = text:sub(2, -2)
  if text == "*" then text = ":" end
  -- union
  if text:find(",", 1, true) then
    local union = {}
    for part in (text .. ","):gmatch("([^,]*),") do
      local sub = parse_action("union", "[" .. part:match("^ *(.-) *$") .. "]")
      union[#union + 1] = sub
    end
    append(cur, { t = "union", lists = union })
    return self:parse_inside(cur)
  end
  -- dict key
  local key = text:match("^'([^']*)'$")
  if key then
    local sub = parse_action("arraydict", "." .. key)
    for _, n in ipairs(sub.nodes) do append(cur, n) end
    return self:parse_inside(cur)
  end
  -- slice: ^(-?[\d]*)(:-?[\d]*)?(:-?[\d]*)?$
  local a, rest = text:match("^(%-?%d*)(.*)$")
  local b, c = "", ""
  if rest ~= "" then
    b, rest = rest:match("^(:%-?%d*)(.*)$")
    if not b then fail("invalid array index %s", text) end
    if rest ~= "" then
      c, rest = rest:match("^(:%-?%d*)(.*)$")
      if not c or rest ~= "" then fail("invalid array index %s", text) end
    end
  end
  local vals = { a, b, c }
  local params = {}
  for i = 1, 3 do
    local v = vals[i]
    local p = { known = false, value = 0, derived = false }
    if v ~= "" then
      if i > 1 then v = v:sub(2) end
      if i > 1 and v == "" then
        p.known = false
      else
        local n = atoi(v)
        if not n then fail("array index %s is not a number", v) end
        p.known, p.value = true, n
      end
    elseif i == 2 then
      p.known, p.value, p.derived = true, params[1].value + 1, true
    end
    params[i] = p
  end
  append(cur, { t = "array", params = params })
  return self:parse_inside(cur)
end

function P:parse_filter(cur)
  self.pos = self.pos + 3
  self:consume()
  local begin, ended, pair = false, false, nil
  while true do
    local r = self:next()
    if r == nil or r == "\n" then fail("unterminated filter") end
    if r == '"' or r == "'" then
      if not begin then
        begin, pair = true, r
      elseif self.input:sub(self.pos - 2, self.pos - 2) ~= "\\" and r == pair then
        ended = true
      end
    elseif r == ")" then
      if begin == ended then break end
    end
  end
  if self:next() ~= "]" then fail("unclosed array expect ]") end
  local text = self:consume()
  text = text:sub(1, -3)
  -- ^([^!<>=]+)([!<>=]+)(.+?)$
  local left, op, right = text:match("^([^!<>=]+)([!<>=]+)(.+)$")
  if not left then
    local sub = parse_action("text", text)
    append(cur, { t = "filter", left = sub, right = new_list(), op = "exists" })
  else
    append(cur, { t = "filter", left = parse_action("left", left), right = parse_action("right", right), op = op })
  end
  return self:parse_inside(cur)
end

-- strconv.UnquoteChar-style unquoting of "..." or '...'
local function unquote(s)
  local q = s:sub(1, 1)
  if #s < 2 or q ~= s:sub(-1) then fail("unquote string %s error invalid syntax", s) end
  local body = s:sub(2, -2)
  if not body:find("\\", 1, true) and not body:find(q, 1, true) then return body end
  local out, i = {}, 1
  local simple = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v", ["\\"] = "\\" }
  while i <= #body do
    local c = body:sub(i, i)
    if c == q then fail("unquote string %s error invalid syntax", s) end
    if c ~= "\\" then
      out[#out + 1] = c
      i = i + 1
    else
      local e = body:sub(i + 1, i + 1)
      if simple[e] then out[#out + 1] = simple[e]; i = i + 2
      elseif e == q then out[#out + 1] = q; i = i + 2
      elseif e == "x" and body:sub(i + 2, i + 3):match("^%x%x$") then
        out[#out + 1] = string.char(tonumber(body:sub(i + 2, i + 3), 16)); i = i + 4
      elseif e == "u" and body:sub(i + 2, i + 5):match("^%x%x%x%x$") then
        out[#out + 1] = utf8.char(tonumber(body:sub(i + 2, i + 5), 16)); i = i + 6
      elseif e == "U" and body:sub(i + 2, i + 9):match("^%x%x%x%x%x%x%x%x$") then
        out[#out + 1] = utf8.char(tonumber(body:sub(i + 2, i + 9), 16)); i = i + 10
      elseif e:match("^[0-7]$") and body:sub(i + 1, i + 3):match("^[0-7][0-7][0-7]$") then
        local v = tonumber(body:sub(i + 1, i + 3), 8)
        if v > 255 then fail("unquote string %s error invalid syntax", s) end
        out[#out + 1] = string.char(v); i = i + 4
      else
        fail("unquote string %s error invalid syntax", s)
      end
    end
  end
  return table.concat(out)
end

function P:parse_quote(cur, q)
  while true do
    local r = self:next()
    if r == nil or r == "\n" then fail("unterminated quoted string") end
    if r == q and self.input:sub(self.pos - 2, self.pos - 2) ~= "\\" then break end
  end
  local v = self:consume()
  append(cur, { t = "text", v = unquote(v) })
  return self:parse_inside(cur)
end

function P:advance()
  local r = self:next()
  if r == "\\" then
    self:next()
  elseif is_terminator(r) then
    self:backup()
    return false
  end
  return true
end

function P:parse_field(cur)
  self:consume()
  while self:advance() do end
  local v = self:consume()
  if v == "*" then append(cur, { t = "wild" })
  else append(cur, { t = "field", v = (v:gsub("\\", "")) }) end
  return self:parse_inside(cur)
end

local function parse_root(text)
  local p = new_parser(text)
  p.root = new_list()
  p:parse_text(p.root)
  return p.root
end

-- parse_action(name, text) -> the list node of "{text}"
function parse_action(_, text)
  local root = parse_root("{" .. text .. "}")
  return root.nodes[1]
end

--- parse(template) -> compiled template | nil, message
function M.parse(text)
  if type(text) ~= "string" then error("bad argument #1 to 'parse' (string expected)", 2) end
  local ok, root = pcall(parse_root, text)
  if not ok then
    if type(root) == "table" and root.jsonpath then return nil, root.jsonpath end
    error(root, 0)
  end
  return { root = root, text = text }
end

--- compile(template) -> compiled (raises on a syntax error)
function M.compile(text)
  local t, err = M.parse(text)
  if not t then error(("error parsing jsonpath %s, %s"):format(text, err), 2) end
  return t
end

-- ---------------------------------------------------------------- values

local function is_map(v) return type(v) == "table" and v ~= null and v ~= NOVALUE and not json.isarray(v) and getmetatable(v) == nil end
local function is_array(v) return type(v) == "table" and json.isarray(v) end
M.is_map, M.is_array = is_map, is_array

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Go's type name of a value (for error messages)
local function go_type(v)
  if v == null then return "<nil>" end
  if is_array(v) then return "[]interface {}" end
  if is_map(v) then return "map[string]interface {}" end
  local t = type(v)
  if t == "string" then return "string" end
  if t == "boolean" then return "bool" end
  if t == "number" then return math.type(v) == "integer" and "int64" or "float64" end
  return t
end

-- Go's %v of a float64: strconv 'g' with the shortest digits, an exponent
-- when exp < -4 || exp >= 6 (1e+06, 1.5e-07)
local function go_float(f)
  if f ~= f then return "NaN" end
  if f == math.huge then return "+Inf" end
  if f == -math.huge then return "-Inf" end
  if f == 0 then return (1 / f < 0) and "-0" or "0" end
  local digits, exp
  for p = 0, 16 do
    local s = ("%." .. p .. "e"):format(f)
    if tonumber(s) == f then
      local m, e = s:match("^-?([%d%.]+)e([+-]%d+)$")
      digits = m:gsub("%.", "")
      exp = tonumber(e)
      break
    end
  end
  digits = digits:gsub("0+$", "")
  if digits == "" then digits = "0" end
  local neg = f < 0 and "-" or ""
  if exp < -4 or exp >= 6 then
    local m = digits:sub(1, 1) .. (#digits > 1 and "." .. digits:sub(2) or "")
    local es = exp < 0 and "-" or "+"
    local ea = math.abs(exp)
    return neg .. m .. "e" .. es .. (ea < 10 and "0" .. ea or tostring(ea))
  end
  if exp < 0 then
    return neg .. "0." .. ("0"):rep(-exp - 1) .. digits
  end
  if #digits <= exp + 1 then
    return neg .. digits .. ("0"):rep(exp + 1 - #digits)
  end
  return neg .. digits:sub(1, exp + 1) .. "." .. digits:sub(exp + 2)
end
M.go_float = go_float

-- Go's fmt.Sprint of a value (custom-columns cells): map[k:v], [a b], <nil>
local function go_sprint(v)
  if v == null then return "<nil>" end
  if v == NOVALUE then return "<no value>" end
  local t = type(v)
  if t == "string" then return v end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return go_float(v)
  end
  if is_array(v) then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = go_sprint(x) end
    return "[" .. table.concat(parts, " ") .. "]"
  end
  if type(v) == "table" then
    local parts = {}
    for i, k in ipairs(sorted_keys(v)) do parts[i] = tostring(k) .. ":" .. go_sprint(v[k]) end
    return "map[" .. table.concat(parts, " ") .. "]"
  end
  return tostring(v)
end
M.sprint = go_sprint

-- Go's strconv.Quote (printable UTF-8 kept, the rest escaped)
local function go_quote(str)
  local named = { [7] = "\\a", [8] = "\\b", [12] = "\\f", [10] = "\\n", [13] = "\\r", [9] = "\\t", [11] = "\\v" }
  local out, i = { '"' }, 1
  while i <= #str do
    local b = str:byte(i)
    if b == 34 then out[#out + 1] = '\\"'; i = i + 1
    elseif b == 92 then out[#out + 1] = "\\\\"; i = i + 1
    elseif b < 0x20 or b == 0x7f then out[#out + 1] = named[b] or ("\\x%02x"):format(b); i = i + 1
    elseif b < 0x80 then out[#out + 1] = string.char(b); i = i + 1
    else
      local w = b >= 0xF0 and 4 or b >= 0xE0 and 3 or b >= 0xC0 and 2 or 1
      local seq = str:sub(i, i + w - 1)
      if w > 1 and utf8.len(seq) == 1 then out[#out + 1] = seq; i = i + w
      else out[#out + 1] = ("\\x%02x"):format(b); i = i + 1 end
    end
  end
  out[#out + 1] = '"'
  return table.concat(out)
end
M.go_quote = go_quote

--- gosyntax(v) -> Go's %#v of the decoded JSON value (kubectl's error dumps)
function M.gosyntax(v)
  if v == null then return "interface {}(nil)" end
  local t = type(v)
  if t == "string" then return go_quote(v) end
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return go_float(v)
  end
  if is_array(v) then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = M.gosyntax(x) end
    return "[]interface {}{" .. table.concat(parts, ", ") .. "}"
  end
  if t == "table" then
    local parts = {}
    for i, k in ipairs(sorted_keys(v)) do parts[i] = go_quote(tostring(k)) .. ":" .. M.gosyntax(v[k]) end
    return "map[string]interface {}{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

-- ---------------------------------------------------------------- evaluation

local J = {}
J.__index = J

local function jfail(fmt, ...) error({ jsonpath = fmt:format(...) }, 0) end

function J:walk(input, node)
  local t = node.t
  if t == "list" then return self:eval_list(input, node)
  elseif t == "text" then return { node.v }
  elseif t == "field" then return self:eval_field(input, node)
  elseif t == "array" then return self:eval_array(input, node)
  elseif t == "filter" then return self:eval_filter(input, node)
  elseif t == "int" or t == "float" or t == "bool" then
    local out = {}
    for i = 1, #input do out[i] = node end   -- a literal (keeps Go's int/float/bool type)
    return out
  elseif t == "wild" then return self:eval_wildcard(input)
  elseif t == "rec" then return self:eval_recursive(input)
  elseif t == "union" then
    local out = {}
    for _, l in ipairs(node.lists) do
      for _, v in ipairs(self:eval_list(input, l)) do out[#out + 1] = v end
    end
    return out
  elseif t == "ident" then return self:eval_identifier(input, node)
  end
  jfail("unexpected Node %s", tostring(t))
end

function J:eval_list(input, node)
  local cur = input
  for _, n in ipairs(node.nodes) do cur = self:walk(cur, n) end
  return cur
end

function J:eval_identifier(input, node)
  if node.v == "range" then
    self.begin_range = self.begin_range + 1
    return input
  elseif node.v == "end" then
    if self.in_range > 0 then
      self.end_range = self.end_range + 1
    else
      jfail("not in range, nothing to end")
    end
    return {}
  end
  jfail("unrecognized identifier %s", node.v)
end

local function literal(v)
  if getmetatable(v) == LIT and v.t ~= "uint8" then return v.v end
  return v
end

function J:eval_field(input, node)
  local results = {}
  if #input == 0 then return results end
  for _, v in ipairs(input) do
    v = literal(v)
    if v ~= null and v ~= NOVALUE and is_map(v) then
      local r = v[node.v]
      if r ~= nil then results[#results + 1] = r end
    end
  end
  if #results == 0 then
    if self.allow_missing then return results end
    jfail("%s is not found", node.v)
  end
  return results
end

function J:eval_array(input, node)
  local result = {}
  for _, v in ipairs(input) do
    v = literal(v)
    if v ~= null then
      if not is_array(v) then jfail("%s is not array or slice", go_type(v)) end
      local p = node.params
      local p0 = { known = p[1].known, value = p[1].value }
      local p1 = { known = p[2].known, value = p[2].value, derived = p[2].derived }
      local p2 = p[3]
      local len = #v
      if not p0.known then p0.value = 0 end
      if p0.value < 0 then p0.value = p0.value + len end
      if not p1.known then p1.value = len end
      if p1.value < 0 or (p1.value == 0 and p1.derived) then p1.value = p1.value + len end
      if p1.value ~= p0.value then
        if p0.value >= len or p0.value < 0 then
          jfail("array index out of bounds: index %d, length %d", p0.value, len)
        end
        if p1.value > len or p1.value < 0 then
          jfail("array index out of bounds: index %d, length %d", p1.value - 1, len)
        end
        if p0.value > p1.value then
          jfail("starting index %d is greater than ending index %d", p0.value, p1.value)
        end
      else
        return result
      end
      local step = 1
      if p2.known then
        if p2.value <= 0 then jfail("step must be > 0") end
        step = p2.value
      end
      for i = p0.value + 1, p1.value, step do result[#result + 1] = v[i] end
    end
  end
  return result
end

local function children(v)
  local out = {}
  if is_array(v) then
    for i = 1, #v do out[i] = v[i] end
  elseif is_map(v) then
    for _, k in ipairs(sorted_keys(v)) do out[#out + 1] = v[k] end
  elseif type(v) == "string" then
    for i = 1, #v do out[i] = lit("uint8", v:byte(i)) end
  end
  return out
end

function J:eval_wildcard(input)
  local results = {}
  for _, v in ipairs(input) do
    v = literal(v)
    if v ~= null then
      for _, c in ipairs(children(v)) do results[#results + 1] = c end
    end
  end
  return results
end

function J:eval_recursive(input)
  local result = {}
  for _, v in ipairs(input) do
    v = literal(v)
    if v ~= null then
      local cs = children(v)
      if #cs > 0 then
        result[#result + 1] = v
        for _, x in ipairs(self:eval_recursive(cs)) do result[#result + 1] = x end
      end
    end
  end
  return result
end

-- Go's template comparison kinds
local function basic_kind(v)
  if getmetatable(v) == LIT then
    if v.t == "int" then return "int", v.v end
    if v.t == "float" then return "float", v.v end
    if v.t == "bool" then return "bool", v.v end
    if v.t == "uint8" then return "uint", v.v end
  end
  local t = type(v)
  if t == "boolean" then return "bool", v end
  if t == "string" then return "string", v end
  if t == "number" then return math.type(v) == "integer" and "int" or "float", v end
  return nil
end

local function compare(op, a, b)
  local k1, v1 = basic_kind(a)
  if not k1 then jfail("invalid type for comparison") end
  local k2, v2 = basic_kind(b)
  if not k2 then jfail("invalid type for comparison") end
  local mixed_int = (k1 == "int" and k2 == "uint") or (k1 == "uint" and k2 == "int")
  if k1 ~= k2 and not mixed_int then jfail("incompatible types for comparison") end
  local function eq() return v1 == v2 end
  local function lt()
    if k1 == "bool" then jfail("invalid type for comparison") end
    return v1 < v2
  end
  if op == "==" then return eq()
  elseif op == "!=" then return not eq()
  elseif op == "<" then return lt()
  elseif op == "<=" then return lt() or eq()
  elseif op == ">" then return not (lt() or eq())
  elseif op == ">=" then return not lt()
  end
  jfail("unrecognized filter operator %s", op)
end

function J:eval_filter(input, node)
  local results = {}
  for _, v in ipairs(input) do
    v = literal(v)
    if not is_array(v) then
      jfail("%s is not array or slice and cannot be filtered", v == null and "<nil>" or M.text(v))
    end
    for i = 1, #v do
      local item = { v[i] }
      local okl, lefts = pcall(self.eval_list, self, item, node.left)
      if node.op == "exists" then
        if okl and #lefts > 0 then results[#results + 1] = v[i] end
      else
        if not okl then error(lefts, 0) end
        if #lefts > 1 then jfail("can only compare one element at a time") end
        if #lefts == 1 then
          local rights = self:eval_list(item, node.right)
          if #rights > 1 then jfail("can only compare one element at a time") end
          if #rights == 1 then
            if compare(node.op, lefts[1], rights[1]) then results[#results + 1] = v[i] end
          end
        end
      end
    end
  end
  return results
end

function J:find_results(data, from)
  local nodes = self.nodes
  local cur = { data }
  local full = {}
  local i = from
  while i <= #nodes do
    local results = self:walk(cur, nodes[i])
    if self.end_range > 0 and self.end_range <= self.in_range then
      self.end_range = self.end_range - 1
      self.last_end = i
      break
    end
    if self.begin_range > 0 then
      self.begin_range = self.begin_range - 1
      self.in_range = self.in_range + 1
      if #results > 0 then
        for _, v in ipairs(results) do
          for _, r in ipairs(self:find_results(v, i + 1)) do full[#full + 1] = r end
        end
      else
        self:find_results(NOVALUE, i + 1)
      end
      self.in_range = self.in_range - 1
      for k = i + 1, #nodes do
        if k == self.last_end then i = k; break end
      end
    else
      full[#full + 1] = results
    end
    i = i + 1
  end
  return full
end

local function run(t, obj, opts)
  local j = setmetatable({ nodes = t.root.nodes, allow_missing = opts.allow_missing ~= false,
                           begin_range = 0, in_range = 0, end_range = 0 }, J)
  return j:find_results(obj, 1)
end

--- text(v) -> one result as kubectl prints it
function M.text(v)
  v = literal(v)
  if getmetatable(v) == LIT then return tostring(v.v) end
  if v == NOVALUE then return "<no value>" end
  if v == null then return "null" end
  if type(v) == "table" then return json.encode(v, { sort_keys = true }) end
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    return go_float(v)
  end
  return tostring(v)
end

local function plain(v)
  if getmetatable(v) == LIT then return v.v end
  return v
end

--- execute(t, obj [, opts]) -> text | nil, err: opts.allow_missing (default
-- true), opts.json (jsonpath-as-json: each group as an indented JSON array)
function M.execute(t, obj, opts)
  opts = opts or {}
  if type(t) == "string" then
    local err
    t, err = M.parse(t)
    if not t then return nil, err end
  end
  local ok, full = pcall(run, t, obj, opts)
  if not ok then
    if type(full) == "table" and full.jsonpath then return nil, full.jsonpath end
    error(full, 0)
  end
  local out = {}
  for _, results in ipairs(full) do
    if opts.json then
      local arr = json.array {}
      for i, r in ipairs(results) do arr[i] = plain(r) end
      out[#out + 1] = json.encode(arr, { indent = 4, sort_keys = true }) .. "\n"
    else
      for i, r in ipairs(results) do
        out[#out + 1] = M.text(r)
        if i ~= #results then out[#out + 1] = " " end
      end
    end
  end
  return table.concat(out)
end

--- values(t, obj) -> every result, flattened (missing keys allowed)
function M.values(t, obj)
  local ok, full = pcall(run, t, obj, {})
  if not ok then
    if type(full) == "table" and full.jsonpath then return nil, full.jsonpath end
    error(full, 0)
  end
  local out = {}
  for _, results in ipairs(full) do
    for _, r in ipairs(results) do out[#out + 1] = plain(r) end
  end
  return out, full
end

-- ---------------------------------------------------------------- custom columns

--- relaxed(expr) -> "{.a.b}" | nil, err (kubectl's RelaxedJSONPathExpression)
function M.relaxed(expr)
  if expr == "" then return expr end
  local inner = expr:match("^{%.?([^{}]+)}$")
  if not inner then
    inner = expr:match("^%.?([^{}]+)$")
  end
  if not inner then
    return nil, "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'"
  end
  return "{." .. inner .. "}"
end

local function columns_from(pairs_)
  local cols = {}
  for i, p in ipairs(pairs_) do
    local spec, err = M.relaxed(p[2])
    if not spec then return nil, err end
    local t, perr = M.parse(spec)
    if not t then return nil, perr end
    cols[i] = { header = p[1], spec = spec, t = t }
  end
  return cols
end

--- custom_columns("NAME:.metadata.name,...") -> columns | nil, err
function M.custom_columns(spec)
  if spec == "" then return nil, "custom-columns format specified but no custom columns given" end
  local ps = {}
  for part in (spec .. ","):gmatch("([^,]*),") do
    local h, e = part:match("^([^:]*):(.*)$")
    if not h then
      return nil, ("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>"):format(part)
    end
    ps[#ps + 1] = { h, e }
  end
  return columns_from(ps)
end

--- custom_columns_file(text) -> columns | nil, err (a line of headers, a line of specs)
function M.custom_columns_file(text)
  local lines = {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l:gsub("\r$", "") end
  if #lines < 1 or (lines[1] == "" and #lines == 1) then
    return nil, "invalid template, missing header line. Expected format is one line of space separated headers, one line of space separated column specs."
  end
  if lines[2] == nil or (lines[2] == "" and lines[3] == nil) then
    return nil, "invalid template, missing spec line. Expected format is one line of space separated headers, one line of space separated column specs."
  end
  local hs, ss = {}, {}
  for w in lines[1]:gmatch("%S+") do hs[#hs + 1] = w end
  for w in lines[2]:gmatch("%S+") do ss[#ss + 1] = w end
  if #hs ~= #ss then
    return nil, ("number of headers (%d) and field specifications (%d) don't match"):format(#hs, #ss)
  end
  local ps = {}
  for i = 1, #hs do ps[i] = { hs[i], ss[i] } end
  return columns_from(ps)
end

-- kubectl's printers.EscapeTerminal: control characters (but \t and \n) as Go's %q-ish escapes
local function escape_terminal(s)
  return (s:gsub("[%z\1-\8\11-\31\127]", function(c)
    local b = c:byte()
    return ({ [7] = "\\a", [8] = "\\b", [12] = "\\f", [13] = "\\r", [11] = "\\v" })[b] or ("\\x%02x"):format(b)
  end))
end

--- cells(columns, obj) -> {text, ...}: one row of a custom-columns table
function M.cells(cols, obj)
  local out = {}
  for i, c in ipairs(cols) do
    local ok, full = pcall(run, c.t, obj, { allow_missing = true })
    if not ok then
      if type(full) == "table" and full.jsonpath then return nil, full.jsonpath end
      error(full, 0)
    end
    local vals = {}
    if #full == 0 or #full[1] == 0 then vals[1] = "<none>" end
    for _, results in ipairs(full) do
      for _, r in ipairs(results) do vals[#vals + 1] = escape_terminal(go_sprint(plain(r))) end
    end
    out[i] = table.concat(vals, ",")
  end
  return out
end

return M
