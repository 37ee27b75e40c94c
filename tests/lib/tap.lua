-- tap: TAP output for the Lua tests (run by the kscript binary itself).
--   local t = require "tap"
--   t.ok(cond, "name"); t.is(got, want, "name"); t.like(s, pattern, "name")
--   t.done()   -- prints the plan, exits non-zero on failure
local M = { n = 0, failed = 0 }

local function show(v)
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

function M.ok(cond, name, diag)
  M.n = M.n + 1
  io.write(cond and "" or "not ", "ok ", M.n, " - ", name or "", "\n")
  if not cond then
    M.failed = M.failed + 1
    local info = debug.getinfo(3, "Sl") or debug.getinfo(2, "Sl")
    io.write("#   failed at ", info.short_src, ":", info.currentline, "\n")
    if diag then io.write("#   ", (tostring(diag):gsub("\n", "\n#   ")), "\n") end
  end
  io.flush()
  return cond
end

function M.is(got, want, name)
  return M.ok(got == want, name, "got:  " .. show(got) .. "\nwant: " .. show(want))
end

function M.like(got, pat, name)
  return M.ok(type(got) == "string" and got:match(pat) ~= nil, name,
    "got:  " .. show(got) .. "\nwant match: " .. pat)
end

--- deep equality of plain tables
function M.same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not M.same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

function M.is_deeply(got, want, name)
  local pp = require "ksh.pp"
  return M.ok(M.same(got, want), name, "got:  " .. pp.format(got) .. "\nwant: " .. pp.format(want))
end

--- raises(fn, pattern, name): fn() must raise an error whose text matches
function M.raises(fn, pat, name)
  local ok, err = pcall(fn)
  return M.ok(not ok and tostring(err):match(pat) ~= nil, name, "got: " .. tostring(ok) .. " " .. tostring(err))
end

function M.diag(...) io.write("# ", table.concat({ ... }, " "), "\n") end

function M.done()
  io.write("1..", M.n, "\n")
  io.flush()
  os.exit(M.failed == 0 and 0 or 1)
end

return M
