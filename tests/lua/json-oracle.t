#!/usr/bin/env kscript
-- json.encode against Go's encoding/json on the same values: the oracle is
-- tests/go/jsonoracle (standard library only), built here with the Go that
-- the test servers need; a missing Go is a failure, not a skip.  For each
-- generated value: json.encode == json.Marshal, json.encode{indent = 2} ==
-- json.MarshalIndent(v, "", "  "), json.encode{escape_html = false} == an
-- Encoder with SetEscapeHTML(false), and json.decode reads Go's output.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local json = require "json"
local top = os.getenv("KSCRIPT_TOP") or "."
local COUNT = 3000

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

local go
if sh("command -v go") == 0 then
  go = "go"
elseif io.open("/usr/local/go/bin/go") then
  go = "/usr/local/go/bin/go"
end
t.ok(go ~= nil, "go is installed (the test servers need it too)")
if not go then t.done() end

local _, tmp = sh("mktemp -d")
tmp = tmp:gsub("%s+$", "")
local bin = tmp .. "/jsonoracle"
local code, out = sh(("cd %q/tests/go/jsonoracle && GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off %s build -o %q ."):format(
  top, go, bin))
t.ok(code == 0, "the oracle builds", out)
if code ~= 0 then os.execute("rm -rf " .. tmp); t.done() end

local function unhex(h) return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end)) end

-- the neutral transport form (see tests/go/jsonoracle/main.go)
local function parse(s)
  local pos = 1
  local function upto()
    local e = s:find(";", pos, true)
    local v = s:sub(pos, e - 1)
    pos = e + 1
    return v
  end
  local function val()
    local c = s:sub(pos, pos)
    pos = pos + 1
    if c == "n" then return json.null
    elseif c == "t" then return true
    elseif c == "f" then return false
    elseif c == "i" then return assert(math.tointeger(tonumber(upto())))
    elseif c == "d" then return (string.unpack(">d", unhex(upto())))
    elseif c == "s" then return unhex(upto())
    elseif c == "[" then
      local a = json.array()
      while s:sub(pos, pos) ~= "]" do a[#a + 1] = val() end
      pos = pos + 1
      return a
    elseif c == "{" then
      local o = {}
      while s:sub(pos, pos) ~= "}" do
        pos = pos + 1 -- the key's "s"
        local k = unhex(upto())
        o[k] = val()
      end
      pos = pos + 1
      return o
    end
    error("bad transport at " .. pos .. ": " .. s:sub(pos - 1, pos + 20))
  end
  local v = val()
  assert(pos == #s + 1, "trailing transport")
  return v
end

local p = io.popen(("%q -n %d"):format(bin, COUNT))
local n, bad = 0, { M = 0, I = 0, H = 0, R = 0 }
local shown = 0
local function check(kind, got, want, v)
  if got == want then return end
  bad[kind] = bad[kind] + 1
  if shown < 4 then
    shown = shown + 1
    t.diag(("%s mismatch for value %d:"):format(kind, n))
    t.diag("  go:      " .. ("%q"):format(want):sub(1, 400))
    t.diag("  kscript: " .. ("%q"):format(got):sub(1, 400))
  end
end
while true do
  local lv = p:read("l")
  if not lv then break end
  local lm, li, lh = p:read("l", "l", "l")
  n = n + 1
  local v = parse(lv:sub(3))
  local m, ind, h = unhex(lm:sub(3)), unhex(li:sub(3)), unhex(lh:sub(3))
  check("M", json.encode(v), m, v)
  check("I", json.encode(v, { indent = 2 }), ind, v)
  check("H", json.encode(v, { escape_html = false }), h, v)
  local d, derr = json.decode(m)
  check("R", d ~= nil and "decoded" or tostring(derr), "decoded", v)
end
local _, _, rc = p:close()
os.execute("rm -rf " .. tmp)
t.is(rc, 0, "the oracle ran")
t.is(n, COUNT, COUNT .. " values generated")
t.is(bad.M, 0, "json.encode == Go's json.Marshal, byte for byte")
t.is(bad.I, 0, "json.encode{indent = 2} == json.MarshalIndent(v, \"\", \"  \")")
t.is(bad.H, 0, "json.encode{escape_html = false} == Encoder.SetEscapeHTML(false)")
t.is(bad.R, 0, "json.decode reads every output of Go's json.Marshal")
t.done()
