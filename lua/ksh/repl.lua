-- ksh.repl: what a line typed at ksh> means, how results print, completion.
-- The C side (src/repl.c) owns readline and the loop; this file owns meaning.
local cmd = require "ksh.cmd"
local pp = require "ksh.pp"

local M = {}

--- split(line) -> words | nil, message: shell-like word splitting with
-- single quotes, double quotes (\" \\ inside) and backslash escapes.
function M.split(line)
  local words, cur, i, n = {}, nil, 1, #line
  while i <= n do
    local c = line:sub(i, i)
    if c:match("%s") then
      if cur then words[#words + 1] = cur; cur = nil end
    elseif c == "'" then
      local j = line:find("'", i + 1, true)
      if not j then return nil, "unterminated single quote" end
      cur = (cur or "") .. line:sub(i + 1, j - 1)
      i = j
    elseif c == '"' then
      local buf, j = {}, i + 1
      while true do
        if j > n then return nil, "unterminated double quote" end
        local d = line:sub(j, j)
        if d == '"' then break end
        if d == "\\" and j < n and line:sub(j + 1, j + 1):match('["\\$`]') then
          j = j + 1
          d = line:sub(j, j)
        end
        buf[#buf + 1] = d
        j = j + 1
      end
      cur = (cur or "") .. table.concat(buf)
      i = j
    elseif c == "\\" and i < n then
      cur = (cur or "") .. line:sub(i + 1, i + 1)
      i = i + 1
    else
      cur = (cur or "") .. c
    end
    i = i + 1
  end
  if cur then words[#words + 1] = cur end
  return words
end

local function command_fn(line)
  local words, err = M.split(line)
  if not words then return "error", "ksh: " .. err end
  if #words == 0 then return "empty" end
  return "run", function() cmd.run(table.unpack(words)) end
end

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch "%a+" do keywords[w] = true end

-- An unknown word where a command was meant: the first word is neither a
-- command nor a global (nor a keyword) and is followed by arguments (`gte
-- pods`, `nosuch --flag`, `gte /api`), or stands alone close to a command's
-- name (`gte`).  `a, b = 1, 2`, `x + 1`, `x == y` stay Lua.
local function unknown_command(word, rest)
  if not word or keywords[word] or word:find(".", 1, true) or _G[word] ~= nil then return nil end
  local nextword = rest:match("^([%w_]+)")
  local args = (nextword and not keywords[nextword]) or rest:match("^%-%-?%a") or rest:match("^/%a")
  if args or (rest == "" and cmd.suggest(word)) then return cmd.unknown(word) end
  return nil
end

-- An expression line as a chunk that prints its values.  `return f(x)` would
-- be a tail call, and a tail-called function has no caller line, so an
-- argument error raised by f (`bad argument #1 to 'get'`) would lose its
-- `stdin:1:`; the values pass through an identity function instead, which
-- keeps f's call inside the chunk.  `return x;` (valid, but not an argument
-- list) keeps the plain form.
local function load_expr(e)
  local plain, err = load("return " .. e, "=stdin", "t")
  if not plain then return nil, err end
  return load("return (function(...) return ... end)(" .. e .. "\n)", "=stdin", "t") or plain
end

--- prepare(text) -> "run", fn | "more" | "error", message | "empty"
function M.prepare(text)
  if text:match("^%s*$") then return "empty" end
  if text:sub(1, 1) == "!" then return command_fn(text:sub(2)) end
  if text:sub(1, 1) == "=" then
    local f, err = load_expr(text:sub(2))
    if f then return "run", f end
    if err:match("<eof>$") then return "more" end
    return "error", err
  end
  local word, rest = text:match("^%s*([%w_][%w_%-%.]*)%s*(.*)$")
  -- `exit` and `exit N` leave the prompt (unless exit is a Lua global)
  local code = word == "exit" and _G.exit == nil and (rest == "" and "0" or rest:match("^(%d+)%s*$"))
  if code then return "run", function() os.exit(tonumber(code)) end end
  -- `help = 5`, `get(x)`, `get.x`, `get:x()`, `get[1]` are Lua, whatever the name
  local luaish = rest and (rest:match("^=[^=]") or rest:match("^[%(%.:%[{\"']"))
  local is_cmd = word and not luaish and not word:find(".", 1, true) and cmd.exists(word)
  if is_cmd and rawget(_G, word) == nil then return command_fn(text) end
  local f = load_expr(text)
  local err
  if not f then f, err = load(text, "=stdin", "t") end
  if not luaish and not is_cmd then
    local msg = unknown_command(word, rest)
    if msg then return "error", msg end
  end
  if f then return "run", f end
  if is_cmd then return command_fn(text) end
  if err:match("<eof>$") then return "more" end
  return "error", err
end

-- Lines that carry a secret value stay out of the history file; a line
-- that merely names secrets (`get secrets -n app`) is kept.
local SECRET = {
  "%-%-token", "token%s*[=:]", "password", "passwd", "authorization%s*[:=]", "bearer%s+%S",
  "%-%-%-%-%-begin", "%-%-from%-literal", "client%-key%-data", "api[_%-]?key%s*[=:]",
  "secret%s*[=:]", "eyj[%w_%-]+%.[%w_%-]+", -- a JWT (service-account tokens)
}

--- history_ok(statement) -> false when the statement holds a secret value
function M.history_ok(stmt)
  local l = stmt:lower()
  for _, p in ipairs(SECRET) do
    if l:find(p) then return false end
  end
  return true
end

--- print_results(...): values of an expression, formatted.
function M.print_results(...)
  local n = select("#", ...)
  if n == 0 then return end
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    -- like lua -i: a top-level string prints as is
    out[i] = type(v) == "string" and v or pp.format(v)
  end
  print(table.concat(out, "\t"))
end

-- Hooks pulled from library modules (k8s._hooks): the context/namespace
-- shown in the prompt and argument completers.  Loaded for the first prompt,
-- so the context shows from the first line.
local hooks
local function lib_hooks()
  if hooks == nil then
    local ok, k8s = pcall(require, "k8s")
    hooks = ok and type(k8s) == "table" and k8s._hooks or false
  end
  return hooks or {}
end
M.context = nil
function M.prompt()
  if M.context == nil then M.context = lib_hooks().prompt_context or false end
  if M.context then
    local ok, s = pcall(M.context)
    if ok and s and s ~= "" then return "ksh:" .. s .. "> " end
  end
  return "ksh> "
end

--- start(): the prompt opens (commands now know they run at the prompt).
function M.start()
  require("ksh").interactive = true
  if os.getenv("KSH_NO_BANNER") then return end
  io.stderr:write("kscript ", "(Lua 5.4) ", "- 'help' lists commands and explains the prompt, Ctrl-D exits\n")
end

local function sorted_keys(t, prefix, out, seen)
  for k, v in pairs(t) do
    -- names starting with _ are internals: shown only when asked for
    if type(k) == "string" and k:sub(1, #prefix) == prefix and k:match("^[%a_][%w_]*$") and not seen[k]
      and (k:sub(1, 1) ~= "_" or prefix:sub(1, 1) == "_") then
      seen[k] = true
      out[#out + 1] = { k, v }
    end
  end
end

-- Fields of a value, including those reached through __index tables.
local function fields(v, prefix)
  local out, seen, guard = {}, {}, 0
  while v ~= nil and guard < 8 do
    guard = guard + 1
    if type(v) == "table" then sorted_keys(v, prefix, out, seen) end
    local mt = getmetatable(v)
    v = type(mt) == "table" and type(mt.__index) == "table" and mt.__index or nil
  end
  return out
end

--- complete(line, start, end, text) -> candidates
function M.complete(line, start, _, text)
  local before = line:sub(1, start)
  local first = line:match("^%s*(%S+)%s") -- a command word already typed
  if first and first:sub(1, 1) == "!" then first = first:sub(2) end
  if first and before:match("%s") and cmd.exists(first) and rawget(_G, first) == nil then
    local fn = cmd.completers[first]
    if not fn then
      pcall(cmd.find, first) -- loading a command may register its completer
      fn = cmd.completers[first] or (lib_hooks().complete or {})[first]
    end
    if fn then
      local words = M.split(line:sub(1, start)) or {}
      local ok, res = pcall(fn, words, text)
      return ok and res or {}
    end
    return {}
  end
  -- Lua: a.b.c<TAB> or obj:me<TAB>
  local path, sep, last = text:match("^(.-)([%.:])([%w_]*)$")
  local out = {}
  if path and path ~= "" then
    local v = _G
    for part in path:gmatch("[^%.:]+") do
      if type(v) ~= "table" and type(getmetatable(v)) ~= "table" then return {} end
      local ok, nv = pcall(function() return v[part] end)
      if not ok then return {} end
      v = nv
    end
    for _, kv in ipairs(fields(v, last)) do
      local k, val = kv[1], kv[2]
      if sep == ":" and type(val) ~= "function" then goto continue end
      out[#out + 1] = path .. sep .. k .. (type(val) == "function" and "(" or type(val) == "table" and "." or "")
      ::continue::
    end
  else
    for _, kv in ipairs(fields(_G, text)) do
      out[#out + 1] = kv[1] .. (type(kv[2]) == "table" and "." or "")
    end
    if start == 0 or before:match("^%s*!?$") then
      local lazy = { "k8s", "etcd", "json", "yaml", "base64", "http", "pp" }
      for _, k in ipairs(lazy) do
        if k:sub(1, #text) == text and rawget(_G, k) == nil then out[#out + 1] = k .. "." end
      end
      for _, c in ipairs(cmd.list()) do
        local bare = text:gsub("^!", "")
        if c.name:sub(1, #bare) == bare then out[#out + 1] = (text:sub(1, 1) == "!" and "!" or "") .. c.name end
      end
    end
  end
  table.sort(out)
  local uniq = {}
  for i, s in ipairs(out) do
    if s ~= out[i - 1] then uniq[#uniq + 1] = s end
  end
  return uniq
end

return M
