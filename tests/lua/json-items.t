#!/usr/bin/env kscript
-- json.write_items and yaml.list_writer: a Kubernetes list's items written
-- from the response bytes, in C, must be byte for byte what the Lua path
-- writes (json.decode, then json.encode with 4-space indent and sorted keys,
-- or yaml.encode of kubectl's List; managedFields dropped, kind/apiVersion
-- filled), for awkward inputs too.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local json = require "json"
local sys = require "ksh.sys"

local tmp = os.tmpname()

-- the Lua path, as scripts/get.lua wrote it before the C path
local function lua_path(body, o)
  local list = assert(json.decode(body))
  local parts = {}
  for _, it in ipairs(type(list.items) == "table" and list.items or {}) do
    if type(it) == "table" and not json.isarray(it) then
      if not o.managed_fields and type(it.metadata) == "table" then it.metadata.managedFields = nil end
      if it.kind == nil and o.kind then it.kind = o.kind end
      if it.apiVersion == nil and o.api_version then it.apiVersion = o.api_version end
    end
    local s = json.encode(it, { indent = 4, sort_keys = true })
    parts[#parts + 1] = "        " .. s:gsub("\n", "\n        ")
  end
  local out = #parts > 0 and (o.lead or "") .. table.concat(parts, o.sep or ",\n") or ""
  local cont = type(list.metadata) == "table" and list.metadata.continue or nil
  if cont == "" then cont = nil end
  return out, #parts, cont, list.kind
end

local function c_path(body, o)
  local f = assert(io.open(tmp, "w"))
  local n, cont, kind = json.write_items(f, body, o)
  f:close()
  local g = assert(io.open(tmp))
  local s = g:read("a")
  g:close()
  return s, n, cont, kind
end

local yaml = require "ksh.yaml"
local printers = require "k8s.printers"

local function lua_yaml(bodies, o)
  local items = {}
  for _, body in ipairs(bodies) do
    local list = assert(json.decode(body))
    for _, it in ipairs(type(list.items) == "table" and list.items or {}) do
      if type(it) == "table" and not json.isarray(it) then
        if it.kind == nil and o.kind then it.kind = o.kind end
        if it.apiVersion == nil and o.api_version then it.apiVersion = o.api_version end
      end
      items[#items + 1] = it
    end
  end
  return printers.yaml(printers.as_list(items), { show_managed_fields = o.managed_fields })
end

local function c_yaml(bodies, o)
  local f = assert(io.open(tmp, "w"))
  local w = yaml.list_writer(f)
  for _, body in ipairs(bodies) do assert(w:items(body, o)) end
  w:finish()
  f:close()
  local g = assert(io.open(tmp))
  local s = g:read("a")
  g:close()
  return s
end

local function same(name, body, o)
  o = o or {}
  local a, an, ac, ak = lua_path(body, o)
  local b, bn, bc, bk = c_path(body, o)
  t.ok(a == b and an == bn and ac == bc and ak == bk, name,
    ("lua %s %s %s\n%s\nc   %s %s %s\n%s"):format(an, ac, ak, a, bn, bc, bk, b))
  local ya, yb = lua_yaml({ body }, o), c_yaml({ body }, o)
  t.ok(ya == yb, name .. " (yaml)", ("lua\n%s\nc\n%s"):format(ya, yb))
end

same("empty list", '{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[]}')
same("items null", '{"kind":"ConfigMapList","metadata":{},"items":null}')
same("one item, kind filled, lead", '{"kind":"ConfigMapList","items":[{"metadata":{"name":"a"},"data":{"b":"1","a":"2"}}]}',
  { kind = "ConfigMap", api_version = "v1", lead = "HEAD\n" })
same("kind kept when present", '{"items":[{"kind":"X","apiVersion":"v9","metadata":{"name":"a"}}]}',
  { kind = "ConfigMap", api_version = "v1" })
same("managedFields dropped", '{"items":[{"metadata":{"name":"a","managedFields":[{"manager":"m"}]},"spec":{"managedFields":1}}]}')
same("managedFields kept", '{"items":[{"metadata":{"name":"a","managedFields":[{"manager":"m","time":"t"}]}}]}',
  { managed_fields = true })
same("continue token", '{"metadata":{"continue":"eyJ2Ijoi\\u0026x"},"items":[{"a":1},{"b":2}]}', { sep = "|\n" })
same("numbers", [[{"items":[{"i":0,"n":-0,"big":18446744073709551615,"neg":-9223372036854775808,
  "f":1.50,"e":1e3,"e2":1E-7,"x":0.1,"long":1.0000000000000000001,"huge":1e400,"tiny":1e-400,"z":0.0,
  "arr":[1,2.5,-3e2,[],{}],"nested":{"a":[{"b":null,"c":true,"d":false}]}}]}]])
same("strings and escapes", [[{"items":[{"s":"<a href=\"x\">&amp;</a>","u":"\u00e9\u2028\u2029\ud83d\ude00",
  "lone":"\ud800x","ctl":"\u0001\b\f\n\r\t\/","utf":"héllo ☃ 😀","k\u00e9y":"v","ke\"y":"q","":"empty key"}]}]])
same("key order by bytes, duplicates: the last wins",
  '{"items":[{"b":1,"a":2,"B":3,"aa":4,"a":5,"_":6,"Z":7,"é":8,"a0":9,"a1":10,"a10":11,"a2":12,"x":13,"y":14}]}')
same("non-object items", '{"items":[1,"two",[3],null]}', { kind = "K" })
same("whitespace everywhere", ' { "items" : [ { "a" : [ 1 , 2 ] } , { } ] , "kind" : "L" } \n')

-- a big list: 2,000 items with the shape of ConfigMaps
local items = {}
for i = 1, 2000 do
  items[i] = ('{"metadata":{"name":"cm-%05d","namespace":"ns","uid":"u-%d","resourceVersion":"%d",' ..
    '"creationTimestamp":"2026-11-30T07:00:00Z","labels":{"app":"web-%d","bench":"1"},' ..
    '"managedFields":[{"manager":"kscript","operation":"Update","apiVersion":"v1","time":"2026-11-30T07:00:00Z",' ..
    '"fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:index":{}}}}]},' ..
    '"data":{"config.yaml":"key: value-%d\\nother: %s\\n","index":"%d"}}'):format(i, i, i, i % 7, i, ("x"):rep(200), i)
end
local big = '{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"99","continue":"abc"},"items":[' ..
  table.concat(items, ",") .. "]}"
same("2,000 ConfigMaps", big, { kind = "ConfigMap", api_version = "v1", lead = "[\n" })
local half = math.floor(#items / 2)
local page1 = '{"kind":"ConfigMapList","metadata":{"continue":"x"},"items":[' .. table.concat(items, ",", 1, half) .. "]}"
local page2 = '{"kind":"ConfigMapList","metadata":{},"items":[' .. table.concat(items, ",", half + 1) .. "]}"
local o2 = { kind = "ConfigMap", api_version = "v1" }
t.ok(c_yaml({ page1, page2 }, o2) == lua_yaml({ big }, o2), "yaml: two pages print as the whole list")
same("yaml scalars", [[{"items":[{"a":"true","b":"0755","c":"1e3","d":"","e":"null","f":"- x","g":" lead",
  "h":"multi\nline\n","i":"trail\n\n","j":"2001-12-14","k":"1:20","l":"<<","m":"a: b","n":"#c","o":"~",
  "long":"]] .. ("word "):rep(40) .. [[","num":[1,1.5,1e21,-0,1e400,0.1],"emptyo":{},"emptya":[],"nul":null,
  "a10":1,"a9":2,"A":3,"_x":4,"1":5,"01":6}]}]])

-- -o name: kind[.group]/name per item, as printers.name after the list's
-- kind and apiVersion are filled in
local function names_same(name, body, o)
  local list = assert(json.decode(body))
  local want = {}
  for _, it in ipairs(list.items) do
    if it.kind == nil then it.kind = o.kind end
    if it.apiVersion == nil then it.apiVersion = o.api_version end
    want[#want + 1] = printers.name(it, nil) .. "\n"
  end
  local f = assert(io.open(tmp, "w"))
  local n = json.write_items(f, body, { format = "name", kind = o.kind, api_version = o.api_version })
  f:close()
  local g = assert(io.open(tmp))
  local got = g:read("a")
  g:close()
  t.ok(got == table.concat(want) and n == #want, name, ("want\n%s\ngot\n%s"):format(table.concat(want), got))
end
names_same("-o name: core group", '{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b\\u00e9"}}]}',
  { kind = "ConfigMap", api_version = "v1" })
names_same("-o name: a group, an item's own kind and apiVersion",
  '{"items":[{"metadata":{"name":"web"}},{"kind":"ReplicaSet","apiVersion":"extensions/v1beta1","metadata":{"name":"x"}}]}',
  { kind = "Deployment", api_version = "apps/v1" })
names_same("-o name: 2,000 ConfigMaps", big, { kind = "ConfigMap", api_version = "v1" })

-- invalid JSON: nil, err (kind parse), never a crash
for _, bad in ipairs { '', '{', '{"items":[{"a":1}', '{"items":[{"a":"\1"}]}', '{"items":[{"a":"\xff"}]}',
  '[1]', '{"items":[1 2]}', '{"items":[{"a":01}]}', '{"items":[]} x' } do
  local f = assert(io.open(tmp, "w"))
  local n, err = json.write_items(f, bad, {})
  f:close()
  t.ok(n == nil and type(err) == "table" and err.kind == "parse", ("invalid %q: a parse error"):format(bad),
    tostring(err))
  f = assert(io.open(tmp, "w"))
  local yn, yerr = yaml.list_writer(f):items(bad)
  f:close()
  t.ok(yn == nil and type(yerr) == "table" and yerr.kind == "parse", ("yaml: invalid %q: a parse error"):format(bad),
    tostring(yerr))
end
t.raises(function() json.write_items("x", "{}", {}) end, "FILE%*", "the first argument must be a file")
os.remove(tmp)
t.done()
