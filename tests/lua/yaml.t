#!/usr/bin/env kscript
-- ksh.yaml: decode/encode over libyaml, resolving scalars like go-yaml v2.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local yaml = require "ksh.yaml"
local json = require "json"
local b64 = require "ksh.b64"

local null = json.null

-- Errors are nil, err: err.kind "parse", err.line and err.column (1-based),
-- named in err.message ("... at line L column C") which tostring(err)
-- gives.  The tests below compare messages; parse_err checks the shape.
local shape_checked = 0
local function parse_err(e)
  if type(e) ~= "table" then return "not an error table: " .. tostring(e) end
  local l, c = tostring(e.message):match("at line (%d+) column (%d+)")
  if e.kind ~= "parse" or tostring(e) ~= e.message or math.type(e.line) ~= "integer"
    or math.type(e.column) ~= "integer" or tostring(e.line) ~= l or tostring(e.column) ~= c then
    return "bad error shape: " .. tostring(e.kind) .. " " .. tostring(e.line) .. " " .. tostring(e.message)
  end
  shape_checked = shape_checked + 1
  return e.message
end
local yaml_lib = yaml
yaml = setmetatable({
  decode = function(...)
    local v, e = yaml_lib.decode(...)
    if v == nil and e ~= nil then return nil, parse_err(e) end
    return v
  end,
  decode_all = function(...)
    local v, e = yaml_lib.decode_all(...)
    if v == nil and e ~= nil then return nil, parse_err(e) end
    return v
  end,
}, { __index = yaml_lib })

-- a kubeconfig as `kubectl config view --raw` writes it: sorted keys, two
-- spaces, list items level with their key
local kubeconfig = [[
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=
    server: https://10.0.0.1:6443
  name: prod
- cluster:
    insecure-skip-tls-verify: true
    proxy-url: socks5://localhost:1080
    server: https://127.0.0.1:6443
  name: dev
contexts:
- context:
    cluster: prod
    namespace: kube-system
    user: admin
  name: prod-admin
- context:
    cluster: dev
    user: eks-user
  name: dev
current-context: prod-admin
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: Y2xpZW50LWNlcnQ=
    client-key-data: Y2xpZW50LWtleQ==
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      args:
      - --region
      - us-west-2
      - eks
      - get-token
      - --cluster-name
      - prod
      command: aws
      env:
      - name: AWS_PROFILE
        value: prod
      - name: DEBUG
        value: "0"
      interactiveMode: Never
      provideClusterInfo: false
- name: token-user
  user:
    token: abc.def
]]

local kc, err = yaml.decode(kubeconfig)
t.ok(kc, "kubeconfig decodes", err)
t.is(kc.apiVersion, "v1", "apiVersion")
t.is(kc["current-context"], "prod-admin", "current-context")
t.is(#kc.clusters, 2, "two clusters")
t.ok(json.isarray(kc.clusters), "clusters is marked as an array")
t.is(kc.clusters[1].cluster.server, "https://10.0.0.1:6443", "server URL stays a string")
t.like(b64.decode(kc.clusters[1].cluster["certificate-authority-data"]), "^%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-\n",
  "certificate-authority-data decodes to PEM")
t.is(kc.clusters[2].cluster["insecure-skip-tls-verify"], true, "boolean")
t.is(kc.contexts[1].context.namespace, "kube-system", "context namespace")
t.is(b64.decode(kc.users[1].user["client-key-data"]), "client-key", "client-key-data")
local exec = kc.users[2].user.exec
t.is(exec.apiVersion, "client.authentication.k8s.io/v1", "exec apiVersion")
t.is_deeply(exec.args, { "--region", "us-west-2", "eks", "get-token", "--cluster-name", "prod" }, "exec args")
t.is_deeply(exec.env, { { name = "AWS_PROFILE", value = "prod" }, { name = "DEBUG", value = "0" } }, "exec env list")
t.is(exec.env[2].value, "0", "quoted \"0\" stays a string")
t.is(exec.interactiveMode, "Never", "interactiveMode: Never is a string")
t.is(exec.provideClusterInfo, false, "provideClusterInfo: false")
t.is(kc.users[3].user.token, "abc.def", "token")
t.is(next(kc.preferences), nil, "preferences: {} is an empty table")
t.ok(not json.isarray(kc.preferences), "{} is not marked as an array")

-- encode writes it back byte for byte, and the round trip is lossless
t.is(yaml.encode(kc), kubeconfig, "kubeconfig re-encodes exactly as kubectl writes it")
t.is_deeply(yaml.decode(yaml.encode(kc)), kc, "kubeconfig round trip")
t.is(json.encode(yaml.decode(kubeconfig)), json.encode(kc), "JSON of the decoded kubeconfig is stable")

-- scalar resolution (go-yaml v2, as sigs.k8s.io/yaml reads manifests)
local scalars = {
  { "true", true }, { "True", true }, { "yes", true }, { "on", true }, { "y", true }, { "Y", true },
  { "false", false }, { "no", false }, { "off", false }, { "n", false }, { "OFF", false },
  { "null", null }, { "~", null }, { "", null }, { "NULL", null },
  { "12", 12, "integer" }, { "-12", -12, "integer" }, { "+7", 7, "integer" }, { "0", 0, "integer" },
  { "0x1F", 31, "integer" }, { "0o17", 15, "integer" }, { "0755", 493, "integer" }, { "0b101", 5, "integer" },
  { "1_000", 1000, "integer" }, { "9223372036854775807", math.maxinteger, "integer" },
  { "-9223372036854775808", math.mininteger, "integer" },
  { "1.5", 1.5, "float" }, { "1e3", 1000.0, "float" }, { "-2.5E-1", -0.25, "float" }, { ".5", 0.5, "float" },
  { "08", 8.0, "float" }, { "1.", 1.0, "float" },
  { ".inf", math.huge, "float" }, { "-.Inf", -math.huge, "float" },
  { "2001-12-14", "2001-12-14" }, { "2001-12-14T21:59:43.10Z", "2001-12-14T21:59:43.10Z" },
  { "1e400", "1e400" }, { "0x", "0x" }, { "1:20", "1:20" }, { "Yes please", "Yes please" },
  { "nan", "nan" }, { "Never", "Never" }, { "<<", "<<" }, { "-x", "-x" }, { "0.0.1", "0.0.1" },
  { "'true'", "true" }, { '"12"', "12" }, { "!!str 12", "12" }, { "!!str true", "true" },
  { "!!int 12", 12, "integer" }, { "!!float 3", 3.0, "float" }, { "!!bool yes", true },
  { "!!int \"0x10\"", 16, "integer" }, { "! 12", "12" }, { "!local 12", "12" },
  { "!!binary aGVsbG8=", "hello" }, { "|\n  12\n", "12\n" }, { ">-\n  a\n  b\n", "a b" },
}
for _, c in ipairs(scalars) do
  local doc = yaml.decode("v: " .. c[1])
  local v = doc and doc.v
  local name = ("%q -> %s"):format(c[1], tostring(c[2]))
  if c[3] then
    t.ok(v == c[2] and math.type(v) == c[3], name, "got " .. tostring(v) .. " (" .. tostring(math.type(v)) .. ")")
  else
    t.ok(v == c[2] and type(v) == type(c[2]), name, "got " .. tostring(v))
  end
end
t.is_deeply(yaml.decode("-"), { null }, "a lone - is a list of one null")
local nan = yaml.decode("v: .nan").v
t.ok(nan ~= nan, ".nan is NaN")
t.is(yaml.decode("v: 18446744073709551615").v, 2.0 ^ 64, "beyond int64: a float")
t.is_deeply(yaml.decode("1: a\ntrue: b\n~: c\n1.5: d\n0x10: e\nyes: f\n"),
  { ["1"] = "a", ["true"] = "f", null = "c", ["1.5"] = "d", ["16"] = "e" },
  "keys become strings as in sigs.k8s.io/yaml (yes: -> \"true\")")
local e1, e2 = yaml.decode("v: !!int abc")
t.is(e1, nil, "!!int on text fails")
t.is(e2, "yaml: cannot decode !!str `abc` as a !!int at line 1 column 4", "and says why and where")

-- sequences, nulls, empty collections
local d = yaml.decode("a: []\nb: {}\nc: [1, ~, 3]\nd:\ne: [[]]\n")
t.ok(json.isarray(d.a) and next(d.a) == nil, "[] is an empty array")
t.ok(not json.isarray(d.b) and next(d.b) == nil, "{} is an empty mapping")
t.is(d.c[2], null, "null inside a sequence is json.null")
t.is(#d.c, 3, "no hole in the sequence")
t.is(d.d, null, "empty value is null")
t.is(yaml.encode(d), 'a: []\nb: {}\nc:\n- 1\n- null\n- 3\nd: null\ne:\n- []\n', "they encode back")
t.is(json.encode(d), '{"a":[],"b":{},"c":[1,null,3],"d":null,"e":[[]]}', "and as JSON")

-- encoding: quoting of strings that would read back as something else
local quoting = {
  { "y", '"y"' }, { "n", '"n"' }, { "yes", '"yes"' }, { "off", '"off"' }, { "true", '"true"' }, { "False", '"False"' },
  { "null", '"null"' }, { "~", '"~"' }, { "", '""' }, { "0755", '"0755"' }, { "12", '"12"' }, { "1e3", '"1e3"' },
  { "1_000", '"1_000"' }, { "0x1F", '"0x1F"' }, { ".inf", '".inf"' }, { "2001-12-14", '"2001-12-14"' },
  { "2001-12-14 21:59:43", '"2001-12-14 21:59:43"' }, { "1:20", '"1:20"' }, { "<<", '"<<"' },
  { " a", "' a'" }, { "a ", "'a '" }, { "- a", "'- a'" }, { "-", "'-'" }, { ": x", "': x'" }, { ":x", ":x" }, { "-x", "-x" }, { "? x", "'? x'" }, { "{a}", "'{a}'" },
  { "[a]", "'[a]'" }, { "&a", "'&a'" }, { "*a", "'*a'" }, { "!a", "'!a'" }, { "|a", "'|a'" }, { ">a", "'>a'" },
  { "'a", "'''a'" }, { '"a', "'\"a'" }, { "%a", "'%a'" }, { "@a", "'@a'" }, { "`a", "'`a'" }, { "#a", "'#a'" },
  { "a: b", "'a: b'" }, { "a #b", "'a #b'" }, { "it's", "it's" }, { "a:b", "a:b" }, { "a#b", "a#b" },
  { "Never", "Never" }, { "2001-13-14", "2001-13-14" }, { "1.2.3", "1.2.3" }, { "0.0.0.0", "0.0.0.0" },
  { "tab\there", '"tab\\there"' }, { "nul\0byte", '"nul\\0byte"' }, { "héllo wörld", "héllo wörld" },
}
for _, c in ipairs(quoting) do
  local out = yaml.encode({ v = c[1] })
  t.is(out, "v: " .. c[2] .. "\n", ("encode %q"):format(c[1]))
  local back = yaml.decode(out)
  t.is(back and back.v, c[1], ("%q reads back as itself"):format(c[1]))
end
t.is(yaml.encode({ ["true"] = 1, ["1"] = 2, y = 3 }), '"1": 2\n"true": 1\n"y": 3\n', "keys are quoted too")

-- numbers, booleans, null, top-level scalars
t.is(yaml.encode({ i = 3, f = 1.5, big = 1e21, tiny = 1e-7, mil = 1e6, third = 1 / 3, neg = -0.5, whole = 3.0 }),
  "big: 1e+21\nf: 1.5\ni: 3\nmil: 1000000\nneg: -0.5\nthird: 0.3333333333333333\ntiny: 1e-07\nwhole: 3\n",
  "numbers print as kubectl prints them")
t.is(yaml.encode({ 1234567.5, 2 ^ 63, 1e20, 123456.0, -0.0, 1e-4, 5e-324 }),
  "- 1.2345675e+06\n- 9223372036854776000\n- 1e+20\n- 123456\n- 0\n- 0.0001\n- 5e-324\n",
  "integral floats below 2^64 as integers, others as Go's 'g'")
t.is(yaml.encode({ a = math.huge, b = -math.huge, c = 0 / 0 }), "a: .inf\nb: -.inf\nc: .nan\n", "special floats")
t.is(yaml.encode({ t = true, f = false, n = null }), 'f: false\n"n": null\nt: true\n', "booleans and null")
t.is(yaml.encode("x"), "x\n", "a top-level string")
t.is(yaml.encode(42), "42\n", "a top-level number")
t.is(yaml.encode(nil), "null\n", "nil is null")
t.is(yaml.encode({}), "{}\n", "empty table is {}")
t.is(yaml.encode(json.array()), "[]\n", "empty json.array is []")
t.is(yaml.encode({ "a", "b" }), "- a\n- b\n", "a list")
t.is(yaml.encode({ [1] = "a", [3] = "c" }), "1: a\n3: c\n", "a sparse table is a mapping")
t.is(yaml.encode({ a = { { 1, 2 }, { x = 1, y = { 3 } } } }), 'a:\n- - 1\n  - 2\n- x: 1\n  "y":\n  - 3\n',
  "nested lists and mappings")
t.is(yaml.encode({ a = 1 }, { indent = 4 }), "a: 1\n", "indent option accepted")
t.is(yaml.encode({ a = { b = { "x" } } }, { indent = 4 }), "a:\n    b:\n    - x\n", "indent 4")
local long = ("word "):rep(20) .. "end"
t.is(yaml.encode({ v = long }), "v: " .. ("word "):rep(15) .. "word\n  " .. ("word "):rep(4) .. "end\n",
  "long plain strings fold at 80 columns like go-yaml")
t.is(yaml.encode({ v = long }, { width = -1 }), "v: " .. long .. "\n", "width = -1 does not fold")
t.is(yaml.decode(yaml.encode({ v = long })).v, long, "a folded string reads back")

-- multi-line strings: literal blocks
t.is(yaml.encode({ v = "a\nb" }), "v: |-\n  a\n  b\n", "no trailing newline: |-")
t.is(yaml.encode({ v = "a\nb\n" }), "v: |\n  a\n  b\n", "trailing newline: |")
t.is(yaml.encode({ "a\nb\n" }), "- |\n  a\n  b\n", "literal in a list")
t.is(yaml.encode({ v = "a\n\n" }), "v: |+\n  a\n\n", "trailing blank lines: |+ and no \"...\" after it")
for _, s in ipairs { "a\nb", "a\nb\n", "a\n\n", "\n", " lead\nx", "trail \nx", "a\n  indented\nb" } do
  t.is(yaml.decode(yaml.encode({ v = s })).v, s, ("%q round trips"):format(s))
end

-- binary: invalid UTF-8 becomes !!binary, as go-yaml does
local bin = "\255\0\1binary\128"
t.is(yaml.encode({ v = bin }), "v: !!binary /wABYmluYXJ5gA==\n", "invalid UTF-8 is written as !!binary")
t.is(yaml.decode(yaml.encode({ v = bin })).v, bin, "and read back")
local bigbin = ("\255"):rep(100)
local benc = yaml.encode({ v = bigbin })
t.like(benc, "^v: !!binary |\n  ", "long binary is a literal block of base64 lines")
t.is(yaml.decode(benc).v, bigbin, "long binary round trip")

-- json.number keeps its digits
local jn = json.decode('{"num": 123456789012345678901234567890}')
t.is(yaml.encode(jn), "num: 123456789012345678901234567890\n", "json.number is written verbatim")

-- round trip of a nested value
local value = {
  metadata = { name = "web", labels = { app = "web", tier = "1" }, annotations = { ["a/b"] = "true" } },
  spec = { replicas = 3, ratio = 0.25, ports = { { port = 80, name = "http" }, { port = 443 } },
           args = { "--v=2", "", " x", "y", "null" }, empty = json.array(), none = {}, flag = false },
  data = { script = "#!/bin/sh\necho hi\n", blob = "\0\1\2" },
}
t.is_deeply(yaml.decode(yaml.encode(value)), value, "encode -> decode round trip")
t.is(json.encode(yaml.decode(yaml.encode(value))), json.encode(value), "round trip keeps [] and {} apart")

-- multi-document streams
local stream = "---\na: 1\n---\n- x\n...\n---\nb: 2\n"
local docs = yaml.decode_all(stream)
t.is(#docs, 3, "decode_all: three documents")
t.is_deeply(docs, { { a = 1 }, { "x" }, { b = 2 } }, "decode_all values")
t.is_deeply(yaml.decode(stream), { a = 1 }, "decode: the first document")
t.is_deeply(yaml.decode_all(""), {}, "decode_all of nothing is empty")
t.ok(json.isarray(yaml.decode_all("")), "decode_all returns an array")
t.is(yaml.decode(""), null, "decode of nothing is null")
t.is(yaml.decode("# only a comment\n"), null, "a comment only is null")
t.is_deeply(yaml.decode_all("---\n---\na: 1\n"), { null, { a = 1 } }, "an empty document is null")
t.is(yaml.encode_all({ { a = 1 }, { "x" }, "s" }), "a: 1\n---\n- x\n--- s\n", "encode_all")
t.is_deeply(yaml.decode_all(yaml.encode_all(docs)), docs, "encode_all -> decode_all")
local v2, e3 = yaml.decode_all("a: 1\n---\nb: [\n")
t.is(v2, nil, "an error in a later document fails decode_all")
t.like(e3, "at line 4 ", "and names its line")
t.is_deeply(yaml.decode("a: 1\n---\nb: [\n"), { a = 1 }, "decode stops after the first document")

-- anchors, aliases, merge keys
local a = yaml.decode([[
base: &base
  image: nginx
  ports: [80]
  env: &env {A: "1"}
web:
  <<: *base
  image: nginx:1.25
copy: *base
envs: [*env, *env]
multi:
  <<: [{x: 1, k: 1}, {x: 2, z: 2}]
  k: 3
scalar: &s hello
again: *s
]])
t.is(a.web.image, "nginx:1.25", "merge: own keys win")
t.is_deeply(a.web.ports, { 80 }, "merge: keys come from the anchor")
t.is_deeply(a.copy, a.base, "alias copies the anchored value")
t.ok(a.copy ~= a.base and a.copy.ports ~= a.base.ports, "aliases are copies, not shared tables")
t.ok(json.isarray(a.copy.ports), "a copied sequence is still an array")
t.is_deeply(a.envs, { { A = "1" }, { A = "1" } }, "alias in a flow sequence")
t.is_deeply(a.multi, { x = 1, k = 3, z = 2 }, "merge of a list: earlier maps win, own keys win")
t.is(a.again, "hello", "alias of a scalar")
t.is(a.web["<<"], nil, "no literal << key")
t.is(yaml.decode("'<<': 1")["<<"], 1, "quoted << is a plain key")
local e4, e5 = yaml.decode("a: *missing\n")
t.is(e4, nil, "unknown anchor fails")
t.is(e5, "yaml: unknown anchor 'missing' referenced at line 1 column 4", "unknown anchor message")
t.like(select(2, yaml.decode("a: &a [1, *a]\n")), "anchor 'a' value contains itself", "recursive alias fails")
t.like(select(2, yaml.decode("a: &a [1]\nb:\n  <<: *a\n")), "map merge requires map", "merge of a list of scalars fails")
t.like(select(2, yaml.decode("? [1]\n: x\n")), "invalid map key", "a sequence as a key fails")
t.like(select(2, yaml.decode_all("- &a 1\n---\n- *a\n")), "unknown anchor 'a' referenced at line 3",
  "anchors do not cross documents")

-- the billion laughs
local bomb = [[
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
]]
local t0 = os.clock()
local bv, berr = yaml.decode(bomb)
t.is(bv, nil, "alias bomb is refused")
t.like(berr, "^yaml: document contains excessive aliasing", "with a message")
t.ok(os.clock() - t0 < 2, "quickly")
local fine = yaml.decode("a: &a [1,2,3]\nb: [*a,*a,*a]\n")
t.is(#fine.b, 3, "ordinary aliasing is fine")

-- malformed input: nil, "yaml: <problem> at line L column C"
local bad = {
  { "a: 1\nb: [1, 2\nc: 3\n", "^yaml: did not find expected ',' or ']' at line 3 column %d+ %(while parsing a flow sequence at line 2 column 4%)$" },
  { "a: b: c\n", "^yaml: mapping values are not allowed in this context at line 1 column 5$" },
  { "a:\n  - b\n c: d\n", "^yaml: did not find expected key at line 3 column 2" },
  { "key: 'unterminated\n", "^yaml: found unexpected end of stream at line 2 column 1" },
  { "a: 1\n\tb: 2\n", "at line 2 column 1" },
  { "- a\nb: c\n", "^yaml: did not find expected '%-' indicator at line 2 column 1" },
  { "a: 1\na: [\n", "at line 3 column 1" },
  { "%YAML 9.9\n---\na\n", "^yaml: found incompatible YAML document at line 1 column 1" },
}
for _, c in ipairs(bad) do
  local v, e = yaml.decode(c[1])
  t.ok(v == nil and type(e) == "string" and e:match(c[2]), ("malformed %q"):format(c[1]), "got: " .. tostring(e))
end
-- a broken kubeconfig names the line of the mistake
local broken = kubeconfig:gsub("current%-context: prod%-admin\n", "current-context: prod-admin\n  oops: [\n")
local _, kerr = yaml.decode(broken)
local want_line = select(2, kubeconfig:sub(1, kubeconfig:find("current%-context")):gsub("\n", "")) + 2
t.like(kerr, "^yaml: .* at line " .. want_line .. " column ", "kubeconfig error names line " .. want_line)

-- garbage never crashes and always answers nil, err or a value
local _, ge = yaml.decode("a: \255\254\0\1")
t.like(ge, "^yaml: invalid .* at line 1 column 4", "invalid UTF-8 is an error with a position")
t.like(select(2, yaml.decode("a: b\0c")), "^yaml: control characters are not allowed", "NUL in the text")
t.like(select(2, yaml.decode(("["):rep(5000))), "nesting deeper than 1000 levels", "deep nesting is refused")
t.like(select(2, yaml.decode(("- "):rep(1500) .. "x")), "nesting deeper than 1000 levels", "deep block nesting")
t.ok(yaml.decode(("["):rep(900) .. ("]"):rep(900)), "900 levels are fine")
math.randomseed(42)
local alphabet = "ab:- \n\t[]{},&*!|>'\"%@`#?~0123456789.\255\0\r"
local crashes, answers = 0, 0
for _ = 1, 3000 do
  local n = math.random(0, 60)
  local buf = {}
  for j = 1, n do
    local k = math.random(1, #alphabet)
    buf[j] = alphabet:sub(k, k)
  end
  local ok, v, e = pcall(yaml.decode_all, table.concat(buf))
  if not ok then crashes = crashes + 1 end
  if (v ~= nil) ~= (e == nil) then answers = answers + 1 end
end
t.is(crashes, 0, "3000 random inputs: decode never raises")
t.is(answers, 0, "each answers a value or nil, err")
local rb = {}
for j = 1, 4096 do rb[j] = string.char(math.random(0, 255)) end
local rv, re = yaml.decode(table.concat(rb))
t.ok(rv == nil and type(re) == "string", "random binary returns an error", re)

-- misuse raises
t.raises(function() yaml.decode() end, "string expected", "decode(nil) raises")
t.raises(function() yaml.encode({ f = print }) end, "cannot encode a function", "encode a function raises")
t.raises(function() yaml.encode({ [{}] = 1 }) end, "a table cannot be a mapping key", "table key raises")
local cyc = {}
cyc.self = cyc
t.raises(function() yaml.encode(cyc) end, "nesting deeper than 1000", "a cycle raises")
t.raises(function() yaml.encode({}, { indent = 12 }) end, "indent must be 2..9", "bad indent raises")
t.raises(function() yaml.encode_all("x") end, "table expected", "encode_all wants a list")

-- errors inside encode do not leak the emitter: many failing calls in a row
for _ = 1, 200 do pcall(yaml.encode, { a = { b = print } }) end
collectgarbage()
t.is(yaml.encode({ a = 1 }), "a: 1\n", "encode works after 200 failed calls (ASan/valgrind see any leak)")
for _ = 1, 200 do yaml.decode("a: [1, {b: *x}]") end
collectgarbage()
t.is(yaml.decode("a: 1").a, 1, "decode works after 200 failed calls")

-- a Lua error raised while decoding (here by json.array) propagates as it
-- is, the parser is freed by the collector (valgrind and ASan check that)
do
  local real = package.loaded.json
  package.loaded.json = { null = real.null, array = function() error({ kind = "interrupted" }) end }
  local ok, e = pcall(yaml.decode, "a: [1, 2]\n")
  package.loaded.json = real
  t.ok(not ok and type(e) == "table" and e.kind == "interrupted", "an error object from Lua is raised, not returned")
  collectgarbage()
end

-- without a json module: null is nil and sequences are plain tables
do
  local loaded, preload = package.loaded.json, package.preload.json
  package.loaded.json, package.preload.json = nil, nil
  local v, e = yaml.decode("a: [1, 2]\nb: ~\nc: []\n")
  t.ok(v and getmetatable(v.a) == nil and v.a[2] == 2, "plain tables for sequences", e)
  t.ok(v and v.b == nil and rawget(v, "b") == nil, "null is nil")
  t.is(select("#", yaml.decode("~")), 1, "a null document is one nil")
  t.is(yaml.encode(v), "a:\n- 1\n- 2\nc: {}\n", "encode without json: [] cannot be told from {}")
  package.loaded.json, package.preload.json = loaded, preload
end
t.ok(json.isarray(yaml.decode("[1]")), "json is used again once it is back")

t.ok(shape_checked > 20, "every decode error had kind parse, line, column and message (" .. shape_checked .. " checked)")
t.done()
