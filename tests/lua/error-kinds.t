#!/usr/bin/env kscript
-- Every error kind a module can return is in share/lua-api.md's table of
-- error kinds, and every row of that table is a kind some module returns.
-- The kinds are read from the sources (lua/, scripts/, src/lua/, src/core/):
--   Lua: the first argument of an error builder (util.error, loop.error,
--        ksh.error, M.error, a local err/kerr/kerror...), `kind = "..."`, and the
--        values of tables named *_kind or *KINDS (HTTP reasons and gRPC codes
--        -> kinds: reason_kind, code_kind, etcd's KINDS);
--   C:   the kind argument of host_push_error/set_error/http_fail/...,
--        `kind = "..."`, and what a function named *classify*/*kind* returns.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local top = os.getenv("KSCRIPT_TOP") or "."

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function files(dir, ext)
  local out = {}
  local p = io.popen(("find '%s/%s' -name '*.%s' -type f | sort"):format(top, dir, ext))
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local found = {} -- kind -> "file:line" of its first use
local function add(kind, file, ln)
  if not found[kind] then found[kind] = file:sub(#top + 2) .. ":" .. ln end
end

local function lua_kinds(file)
  local in_table = false
  local ln = 0
  for line in (read(file) .. "\n"):gmatch("(.-)\n") do
    ln = ln + 1
    local code = line:gsub("%-%-.*$", "")
    -- builders: x.error("kind", ...), err("kind", ...), kerr("kind", ...)
    for name, kind in code:gmatch("([%w_%.]+)%s*%(%s*\"([a-z][a-z_]*)\"") do
      local last = name:match("([%w_]+)$")
      -- any builder whose name ends in err/error (util.error, kerr, kerror),
      -- never Lua's own error("message")
      if (last == "error" and name:find(".", 1, true)) or (last ~= "error" and (last:match("err$") or last:match("error$"))) then
        add(kind, file, ln)
      end
    end
    for kind in code:gmatch("[%.%s{,]kind%s*=%s*\"([a-z][a-z_]*)\"") do add(kind, file, ln) end
    -- tables mapping reasons or codes to kinds
    local tname = code:match("^%s*local%s+([%w_]+)%s*=%s*{")
    if tname and (tname:match("_kind$") or tname:match("KINDS$")) then in_table = true end
    if in_table then
      for kind in code:gmatch("=%s*\"([a-z][a-z_]*)\"") do add(kind, file, ln) end
      if code:match("}%s*$") then in_table = false end
    end
  end
end

local function c_kinds(file)
  local fn = ""
  local ln = 0
  for line in (read(file) .. "\n"):gmatch("(.-)\n") do
    ln = ln + 1
    local code = line:gsub("/%*.-%*/", ""):gsub("//.*$", "")
    local header = code:match("^[%a][%w_ %*]-([%w_]+)%(.*%)%s*{%s*$")
    if header then fn = header end
    for name, kind in code:gmatch("([%w_]+)%s*%(%s*[%w_%->%.]*%s*,?%s*\"([a-z][a-z_]*)\"") do
      if name:find("error") or name:find("fail") then add(kind, file, ln) end
    end
    -- a kind chosen in the call's second argument: error_fail(L, e == EPIPE ? "pipe" : "io", ...)
    for name, a, b in code:gmatch("([%w_]+)%s*%(%s*[%w_%->%.]+%s*,[^,\"]*%?%s*\"([a-z][a-z_]*)\"%s*:%s*\"([a-z][a-z_]*)\"") do
      if name:find("error") or name:find("fail") then add(a, file, ln); add(b, file, ln) end
    end
    for kind in code:gmatch("kind%s*=%s*\"([a-z][a-z_]*)\"") do add(kind, file, ln) end
    if (fn:find("classify") or fn:find("kind")) and code:find("return", 1, true) then
      -- return "kind";  return cond ? "kind" : "kind";
      for kind in code:gmatch("[n%?:]%s+\"([a-z][a-z_]*)\"") do add(kind, file, ln) end
    end
  end
end

for _, dir in ipairs { "lua", "scripts" } do
  for _, f in ipairs(files(dir, "lua")) do lua_kinds(f) end
end
for _, dir in ipairs { "src/lua", "src/core" } do
  for _, f in ipairs(files(dir, "c")) do c_kinds(f) end
end

-- the table: the rows of "## Error kinds" in share/lua-api.md
local doc = read(top .. "/share/lua-api.md")
local section = doc:match("\n## Error kinds\n(.-)\n## ") or doc:match("\n## Error kinds\n(.*)$")
t.ok(section ~= nil, "share/lua-api.md has a section '## Error kinds'")
local listed = {}
for kind in (section or ""):gmatch("\n| `([a-z][a-z_]*)` |") do listed[kind] = true end

local kinds = {}
for k in pairs(found) do kinds[#kinds + 1] = k end
table.sort(kinds)
t.ok(#kinds >= 20, ("the sources return %d kinds (%s)"):format(#kinds, table.concat(kinds, " ")))
for _, k in ipairs(kinds) do
  t.ok(listed[k], ("kind %q (%s) is in the table"):format(k, found[k]))
end
local rows = {}
for k in pairs(listed) do rows[#rows + 1] = k end
table.sort(rows)
for _, k in ipairs(rows) do
  t.ok(found[k], ("the table's kind %q is returned somewhere"):format(k))
end
t.done()
