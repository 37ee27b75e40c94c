-- ksh.args: the command-line parser shared by commands.
--
--   local args = require "ksh.args"
--   local o, rest = args.parse(arg, {
--     { "n", "namespace", value = true },          -- -n NS, -nNS, -n=NS, --namespace NS, --namespace=NS
--     { "A", "all-namespaces" },                   -- boolean: -A, --all-namespaces, --all-namespaces=false
--     { "L", "label-columns", value = true, list = true },  -- repeated: -L a -L b (and -L a,b with split = ",")
--     { nil, "chunk-size", value = true, number = true, default = 500 },
--   })
--   o.namespace, o.all_namespaces, o.label_columns, o.chunk_size; rest = positional words
--
-- Short boolean flags combine (-Aw).  "--" ends the flags.  An unknown flag,
-- a missing value or a bad number raises ksh.usage(...) (exit status 2).
local M = {}

local function usage(fmt, ...)
  local ksh = package.loaded.ksh or require "ksh"
  ksh.usage(fmt, ...)
end

local function key_of(spec) return (spec[2] or spec[1]):gsub("%-", "_") end

local function set(out, spec, v, shown)
  local k = key_of(spec)
  if spec.number then
    local n = math.tointeger(tonumber(v))
    if not n then usage("invalid value %q for %s: an integer is expected", v, shown) end
    v = n
  end
  if spec.list then
    local t = out[k]
    if type(t) ~= "table" then t = {}; out[k] = t end
    if spec.split then
      for part in tostring(v):gmatch("[^" .. spec.split .. "]+") do t[#t + 1] = part end
    else
      t[#t + 1] = v
    end
  else
    out[k] = v
  end
end

local function boolean(v, shown)
  if v == nil or v == "true" or v == "1" then return true end
  if v == "false" or v == "0" then return false end
  usage("invalid value %q for %s: true or false is expected", v, shown)
end

--- parse(argv, specs) -> options, positional
-- argv: an array (arg) of words; specs: { {short, long, value=, list=, number=, default=}, ... }
function M.parse(argv, specs)
  local short, long, out, rest = {}, {}, {}, {}
  for _, s in ipairs(specs) do
    if s[1] then short[s[1]] = s end
    if s[2] then long[s[2]] = s end
    if s.default ~= nil then out[key_of(s)] = s.default end
  end
  local i, n = 1, #argv
  while i <= n do
    local w = argv[i]
    if w == "--" then
      for j = i + 1, n do rest[#rest + 1] = argv[j] end
      break
    elseif w:sub(1, 2) == "--" and #w > 2 then
      local name, v = w:match("^%-%-([^=]+)=(.*)$")
      name = name or w:sub(3)
      local s = long[name]
      if not s then usage("unknown flag --%s", name) end
      if s.value then
        if not v then
          i = i + 1
          v = argv[i]
          if v == nil then usage("flag --%s needs a value", name) end
        end
        set(out, s, v, "--" .. name)
      else
        out[key_of(s)] = boolean(v, "--" .. name)
      end
    elseif w:sub(1, 1) == "-" and #w > 1 and not w:match("^%-%d") then
      local j = 2
      while j <= #w do
        local c = w:sub(j, j)
        local s = short[c]
        if not s then usage("unknown flag -%s", c) end
        if s.value then
          local v = w:sub(j + 1)
          if v:sub(1, 1) == "=" then v = v:sub(2) end
          if v == "" then
            i = i + 1
            v = argv[i]
            if v == nil then usage("flag -%s needs a value", c) end
          end
          set(out, s, v, "-" .. c)
          break
        elseif w:sub(j + 1, j + 1) == "=" then
          out[key_of(s)] = boolean(w:sub(j + 2), "-" .. c)
          break
        else
          out[key_of(s)] = true
        end
        j = j + 1
      end
    else
      rest[#rest + 1] = w
    end
    i = i + 1
  end
  return out, rest
end

return M
