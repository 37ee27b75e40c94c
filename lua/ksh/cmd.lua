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
    if seen[name] or name:sub(1, 2) == "__" then return end -- __complete: hidden
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

--- distance(a, b) -> edit distance (insert, delete, substitute, swap two
-- neighbours), for "did you mean".
function M.distance(a, b)
  local d, la, lb = {}, #a, #b
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[la][lb]
end

--- suggest(word) -> the closest command name, or nil when none is close.
function M.suggest(word)
  local best, bd
  for _, c in ipairs(M.list()) do
    local dist = M.distance(word, c.name)
    if dist <= 2 and dist < #word and (not bd or dist < bd) then best, bd = c.name, dist end
  end
  return best
end

--- unknown(name) -> the one-line message for a name that is no command.
function M.unknown(name)
  local s = M.suggest(name)
  return ("unknown command '%s' (%s)"):format(name,
    s and ("did you mean '%s'?"):format(s) or "'help' lists the commands")
end

local function not_found(name)
  local s = M.suggest(name)
  return ("no such command or script: %s%s"):format(name, s and (" (did you mean '%s'?)"):format(s) or "")
end

local function prefix()
  local ksh = package.loaded.ksh
  return (ksh and ksh.interactive) and "" or "kscript: "
end

local function is_error_table(e)
  local mt = getmetatable(e)
  return type(mt) == "table" and mt.__tostring ~= nil or type(e.message) == "string"
end

--- message(err, name) -> line, internal: the one line a user sees for an
-- error raised by command `name`.  An error table prints as tostring(err);
-- a string raised by the command itself loses its Lua position (it is the
-- command's message, not a place in the user's code); a string with a
-- position in the library (lua/...:N:) or a value that is neither is an
-- internal error, flagged as a bug.
function M.message(err, name)
  local lead = name .. ": "
  if type(err) == "table" and is_error_table(err) then
    local s = type(getmetatable(err)) == "table" and getmetatable(err).__tostring and tostring(err) or err.message
    if s:sub(1, #lead) == lead then s = s:sub(#lead + 1) end
    return lead .. s, false
  elseif type(err) == "string" or type(err) == "number" then
    local s = tostring(err)
    if s:match("^lua/[%w_/%.%-]+:%d+: ") or s:match("^%[C%]: ") then
      return lead .. s .. " (an internal error: this is a bug in kscript)", true
    end
    s = s:gsub("^scripts/[%w_%-%.]+%.lua:%d+: ", "")
    if s:sub(1, #lead) == lead then s = s:sub(#lead + 1) end
    return lead .. s, false
  end
  return ("%s(error object is a %s value) (an internal error: this is a bug in kscript)"):format(lead, type(err)), true
end

local function wants_help(argv)
  for _, a in ipairs(argv) do
    if a == "--" then return false end
    if a == "--help" or a == "-h" then return true end
  end
  return false
end

--- run(name, ...) -> status: run a command in the current task, with `arg`
-- set as the runner sets it.  The status is what the command returned
-- (a number; nil is 0), 2 after a usage error, 1 after any other error; an
-- error prints one line on stderr (`kscript: NAME: message`; with -v the
-- traceback too) and never ends the process.  `--help` or `-h` prints the
-- command's usage (its header comment).  An interruption (Ctrl-C, --timeout,
-- cancel) goes through.
function M.run(name, ...)
  local ksh = require "ksh"
  local argv = table.pack(...)
  name = name:gsub("%.lua$", "")
  local ok, f, where = pcall(M.find, name)
  if not ok or not f then
    local msg = ok and where or tostring(f)
    if ok and valid(name) then msg = ksh.interactive and M.unknown(name) or not_found(name) end
    io.stderr:write(prefix(), msg, "\n")
    if not ksh.interactive then io.stderr:write("kscript: try 'kscript help' for the list of commands\n") end
    return 2
  end
  if wants_help(argv) then
    local text = M.usage(name)
    io.stdout:write(text and text ~= "" and text or ("usage: " .. name .. " (no usage text)"), "\n")
    return 0
  end
  local saved = rawget(_G, "arg")
  arg = table.move(argv, 1, argv.n, 1, {})
  arg[0] = name
  local tb
  local r = table.pack(xpcall(f, function(e)
    if ksh.verbose and not ksh.is_interrupt(e) then tb = debug.traceback(nil, 2) end
    return e
  end, ...))
  arg = saved
  if r[1] then
    local st = r[2]
    return math.type(st) == "integer" and st or (type(st) == "number" and math.floor(st)) or 0
  end
  local e = r[2]
  if type(e) == "table" and (e.kind == "interrupted" or e.kind == "cancelled") then error(e, 0) end
  if type(e) == "table" and e.kind == "exit" then return math.tointeger(e.code) or 0 end
  io.stderr:write(prefix(), (M.message(e, name)), "\n")
  if tb then io.stderr:write(tb, "\n") end
  io.stderr:flush()
  return type(e) == "table" and e.kind == "usage" and 2 or 1
end

-- Argument completers registered by commands: fn(words, text) -> candidates.
M.completers = {}
function M.complete_with(name, fn) M.completers[name] = fn end

return M
