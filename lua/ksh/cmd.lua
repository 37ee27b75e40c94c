-- ksh.cmd: finding and running commands.  `kscript NAME` runs NAME.lua from
-- $KSCRIPT_PATH, then ~/.config/kscript/scripts, then the scripts bundled in
-- the binary.  The current directory is never searched for a bare name.
local sys = require "ksh.sys"

local M = {}

--- The directories searched, in order.
function M.paths()
  local dirs = {}
  for d in (os.getenv("KSCRIPT_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  local cfg = os.getenv("XDG_CONFIG_HOME")
  if not cfg or cfg == "" then
    local home = os.getenv("HOME")
    cfg = home and home .. "/.config"
  end
  if cfg then dirs[#dirs + 1] = cfg .. "/kscript/scripts" end
  return dirs
end

local function valid(name)
  return type(name) == "string" and name:match("^[%w_][%w_%-%.]*$") ~= nil
end

--- find(name) -> chunk, where  |  nil, message
function M.find(name)
  name = name:gsub("%.lua$", "")
  if not valid(name) then return nil, ("'%s' is not a command name"):format(name) end
  for _, d in ipairs(M.paths()) do
    local path = d .. "/" .. name .. ".lua"
    if sys.stat(path) == "file" then
      local f, err = loadfile(path, "t")
      if not f then error(err, 0) end
      return f, path
    end
  end
  local rel = "scripts/" .. name .. ".lua"
  local src = sys.bundle_source(rel)
  if src then
    local text = src:gsub("^#![^\n]*", "")
    local f, err = load(text, "@" .. rel, "t")
    if not f then error(err, 0) end
    return f, rel
  end
  return nil, ("no such command or script: %s"):format(name)
end

local function header_of(src)
  local lines = {}
  for line in src:gmatch("[^\n]*") do
    if line:match("^#!") then
    elseif line:match("^%-%-") then
      lines[#lines + 1] = (line:gsub("^%-%-%s?", ""))
    else
      break
    end
  end
  return lines
end

local function source_of(name)
  for _, d in ipairs(M.paths()) do
    local f = io.open(d .. "/" .. name .. ".lua")
    if f then
      local s = f:read("a")
      f:close()
      return s, d
    end
  end
  return sys.bundle_source("scripts/" .. name .. ".lua"), "bundled"
end

--- list() -> { {name=, summary=, where=}, ... } sorted by name; a user's
-- script hides a bundled one of the same name.
function M.list()
  local seen, out = {}, {}
  local function add(name, where, src)
    if seen[name] then return end
    seen[name] = true
    local h = header_of(src or "")
    local summary = (h[1] or ""):gsub("^" .. name:gsub("%-", "%%-") .. "%s*:%s*", "")
    out[#out + 1] = { name = name, summary = summary, where = where }
  end
  for _, d in ipairs(M.paths()) do
    local p = io.popen("ls -1 '" .. d:gsub("'", "'\\''") .. "' 2>/dev/null")
    if p then
      for f in p:lines() do
        local n = f:match("^([%w_][%w_%-%.]*)%.lua$")
        if n then
          local fh = io.open(d .. "/" .. f)
          if fh then
            add(n, d, fh:read("a"))
            fh:close()
          end
        end
      end
      p:close()
    end
  end
  for _, p in ipairs(sys.bundled("scripts/")) do
    local n = p:match("^scripts/(.+)%.lua$")
    add(n, "bundled", sys.bundle_source(p))
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- exists(name) -> boolean (cheap: used for every line typed at the prompt)
function M.exists(name)
  if not valid(name) then return false end
  if sys.bundle_source("scripts/" .. name .. ".lua") then return true end
  for _, d in ipairs(M.paths()) do
    if sys.stat(d .. "/" .. name .. ".lua") == "file" then return true end
  end
  return false
end

--- usage(name) -> the header comment of a command, as text
function M.usage(name)
  local src = source_of(name)
  if not src then return nil end
  return table.concat(header_of(src), "\n")
end

--- run(name, ...) -> results: run a command in the current task, with `arg`
-- set as the runner sets it.
function M.run(name, ...)
  local f, err = M.find(name)
  if not f then require("ksh").usage(err) end
  local saved = rawget(_G, "arg")
  arg = table.pack(...)
  arg[0] = name
  arg.n = nil
  local r = table.pack(pcall(f, ...))
  arg = saved
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- Argument completers registered by commands: fn(words, text) -> candidates.
M.completers = {}
function M.complete_with(name, fn) M.completers[name] = fn end

return M
