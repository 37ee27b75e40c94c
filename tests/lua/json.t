#!/usr/bin/env kscript
-- json: the project's codec. Expected texts were derived from Go's
-- encoding/json source (encode.go appendString, floatEncoder, indent.go)
-- and checked once against go1.26 json.Marshal / json.MarshalIndent.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local json = require "json"

-- Errors are nil, err: err.kind "parse", err.offset the 0-based byte offset,
-- named in err.message ("... at offset N") which tostring(err) gives.  The
-- tests below compare messages; parse_err checks the shape on the way.
local shape_checked = 0
local function parse_err(e)
  if type(e) ~= "table" then return "not an error table: " .. tostring(e) end
  local off = e.message and e.message:match("at offset (%d+)$")
  if e.kind ~= "parse" or tostring(e) ~= e.message or math.type(e.offset) ~= "integer"
    or tostring(e.offset) ~= off then
    return "bad error shape: " .. tostring(e.kind) .. " " .. tostring(e.offset) .. " " .. tostring(e.message)
  end
  shape_checked = shape_checked + 1
  return e.message
end
local function decode(...)
  local v, e = json.decode(...)
  if v == nil and e ~= nil then return nil, parse_err(e) end
  return v, e
end
local function decode_at(...)
  local v, e, pos = json.decode_at(...)
  if v == nil and e ~= nil then return nil, parse_err(e), pos end
  return v, e
end

local function rt(text, name) -- decode then encode gives the same text back
  local v, err = decode(text)
  t.is(v ~= nil and json.encode(v) or err, text, name or ("round trip " .. text))
end

-- scalars and types ---------------------------------------------------------
t.is(math.type(decode("3")), "integer", "3 decodes as an integer")
t.is(decode("3"), 3, "3 is 3")
t.is(math.type(decode("3.0")), "float", "3.0 decodes as a float")
t.is(json.encode(3.0), "3", "float 3.0 encodes as 3 (like Go)")
t.is(json.encode(decode("3.0")), "3", "3.0 re-encodes as 3")
t.is(decode("true"), true, "true")
t.is(decode("false"), false, "false")
t.is(decode("null"), json.null, "null decodes to json.null")
t.is(type(json.null), "userdata", "json.null is a light userdata")
t.ok(json.null == require("cjson").null, "json.null equals cjson.null")
t.is(json.encode(json.null), "null", "json.null encodes as null")
t.is(json.encode(nil), "null", "nil encodes as null")
t.is(json.encode(true) .. json.encode(false), "truefalse", "booleans")
t.is(decode('"abc"'), "abc", "string")
t.is(decode(' \t\r\n 12 \n'), 12, "whitespace around a value")
rt('"a/b"', "slash is not escaped")
t.is(decode([["a\/b"]]), "a/b", "\\/ decodes to /")

-- integers and big numbers ---------------------------------------------------
rt("9223372036854775807", "int64 max")
rt("-9223372036854775808", "int64 min")
t.is(decode("9223372036854775807"), math.maxinteger, "int64 max is math.maxinteger")
t.is(decode("-9223372036854775808"), math.mininteger, "int64 min is math.mininteger")
t.is(decode("7587869023817563914"), 7587869023817563914, "etcd lease ID exact")
t.is(math.type(decode("7587869023817563914")), "integer", "etcd lease ID is an integer")
rt('{"ID":7587869023817563914,"TTL":60}', "lease response round trip")
local u = decode("18446744073709551615")
t.is(getmetatable(u), json.number_mt, "uint64 max decodes to a json.number")
t.is(tostring(u), "18446744073709551615", "json.number keeps the text")
t.is(json.encode(u), "18446744073709551615", "uint64 max re-encodes with the same digits")
rt("[9223372036854775808,-9223372036854775809]", "just beyond int64 both ways")
rt("1e400", "1e400 (beyond a double) kept as text")
rt("-1e400", "-1e400 kept as text")
rt("1e-400", "1e-400 (underflows to 0) kept as text")
rt("0.1", "0.1")
t.is(decode("0.1"), 0.1, "0.1 is the float 0.1")
rt("1.5e-7", "1.5e-7")
t.is(math.type(decode("1.5e-7")), "float", "1.5e-7 is a float")
rt("-0", "-0 keeps its sign")
t.is(json.encode(-0.0), "-0", "float -0.0 encodes as -0 (Go)")
t.is(json.encode(0.0), "0", "float 0.0 encodes as 0")
rt("1.0000000000000000001", "more digits than a double keeps: text kept")
t.is(getmetatable(decode("0.30000000000000004")), nil, "0.30000000000000004 is a plain float")
rt("0.30000000000000004", "0.30000000000000004")
rt("5e-324", "smallest subnormal")
rt("1.7976931348623157e+308", "largest double")
t.is(getmetatable(decode("123456789012345678901234567890")), json.number_mt, "30-digit integer is a json.number")
t.is(json.encode(decode("1E2")), "100", "1E2 is the float 100")
do
  local n = decode("18446744073709551616")
  t.is(n + 0, 18446744073709551616.0, "json.number + 0 is the nearest float")
  t.is(-n, -18446744073709551616.0, "unary minus")
  t.ok(n > 1, "json.number > 1")
  t.ok(n < 1e20 and n <= 1e20, "json.number < 1e20")
  t.ok(n == json.number("18446744073709551616"), "json.numbers with the same text are equal")
  t.ok(n ~= json.number("18446744073709551617"), "different text: not equal")
  t.is("n=" .. n, "n=18446744073709551616", "concatenation uses the text")
  t.is(json.encode({ json.number("12345678901234567890123"), json.number("-0.0e0") }),
    "[12345678901234567890123,-0.0e0]", "json.number(text) encodes verbatim")
  t.raises(function() json.number("1.") end, "not a JSON number", "json.number validates")
  t.raises(function() json.number("0x10") end, "not a JSON number", "json.number rejects hex")
end

-- floats formatted like Go (checked against go1.26 json.Marshal) -----------
local floats = {
  { 0.1, "0.1" }, { 1.5e-7, "1.5e-7" }, { 1e-6, "0.000001" }, { 1e-7, "1e-7" },
  { 0.000001234, "0.000001234" }, { 1e20, "100000000000000000000" }, { 1e21, "1e+21" },
  { 123456789.123, "123456789.123" }, { 5e-324, "5e-324" },
  { 1.7976931348623157e308, "1.7976931348623157e+308" }, { 2.0 ^ 63, "9223372036854776000" },
  { 0.1 + 0.2, "0.30000000000000004" }, { 1 / 3, "0.3333333333333333" }, { -2.5e-10, "-2.5e-10" },
  { 100.0, "100" }, { 1e300, "1e+300" }, { 123e-20, "1.23e-18" },
  { 9.999999999999999e20, "999999999999999900000" }, { 2.2250738585072014e-308, "2.2250738585072014e-308" },
  { 1e-10, "1e-10" }, { 12345678901234567890.0, "12345678901234567000" }, { -1.25, "-1.25" },
  { 1e15, "1000000000000000" }, { 1e17, "100000000000000000" }, { 4.35, "4.35" }, { 2e-7, "2e-7" },
  { 2.0 ^ -1074 * 3, "1.5e-323" }, { 2.0 ^ -1022, "2.2250738585072014e-308" },
}
for _, c in ipairs(floats) do t.is(json.encode(c[1]), c[2], "float " .. c[2]) end
t.raises(function() json.encode(0 / 0) end, "unsupported value: NaN", "NaN raises")
t.raises(function() json.encode({ x = math.huge }) end, "unsupported value: %+Inf", "+Inf raises")
t.raises(function() json.encode(-math.huge) end, "unsupported value: %-Inf", "-Inf raises")

-- arrays, objects, null -----------------------------------------------------
rt("[]", "[] stays []")
rt("{}", "{} stays {}")
rt('{"a":[],"b":{},"c":[[],{},[[]]],"d":[{}]}', "[] vs {} nested")
rt('[null,1,null]', "null in arrays")
rt('{"a":null,"b":[null]}', "null in objects")
local a = decode('[null,2,null]')
t.is(#a, 3, "nulls keep the array length")
t.is(a[3], json.null, "trailing null is json.null")
t.ok(json.isarray(decode("[]")), "decoded [] is marked as an array")
t.ok(not json.isarray(decode("{}")), "decoded {} is not an array")
t.is(getmetatable(decode("[1]")), json.array_mt, "decoded arrays carry json.array_mt")
t.is(getmetatable(decode('{"a":1}')), nil, "decoded objects are plain tables")
t.is(json.encode({}), "{}", "empty plain table encodes as {}")
t.is(json.encode(json.array()), "[]", "json.array() encodes as []")
t.is(json.encode(json.array({})), "[]", "json.array({}) encodes as []")
t.is(json.encode({ 1, 2, 3 }), "[1,2,3]", "sequence encodes as an array")
t.is(json.encode({ "a", { x = 1 } }), '[\"a\",{"x":1}]', "nested array and object")
t.is(json.encode({ [1] = "a", [10] = "b", [2] = "c", [-5] = "d" }), '{"-5":"d","1":"a","10":"b","2":"c"}',
  "integer keys that are not 1..n: an object with string keys, like Go's map[int]")
t.is(json.encode({ 1, 2, x = 3 }), '{"1":1,"2":2,"x":3}', "mixed table: an object")
do
  local arr = json.array({ 1, 2 })
  arr.note = "ignored"
  t.is(json.encode(arr), "[1,2]", "a marked array writes 1..#t only")
end
t.raises(function() json.array(setmetatable({}, {})) end, "already has a metatable",
  "json.array refuses a table with another metatable")
t.ok(not json.isarray({}), "plain table is not marked")
t.ok(not json.isarray("x"), "isarray of a string is false")

-- encode errors ----------------------------------------------------------------
t.raises(function() json.encode({ f = print }) end, "cannot encode a function value", "function raises")
t.raises(function() json.encode({ co = coroutine.create(print) }) end, "cannot encode a thread", "thread raises")
t.raises(function() json.encode({ [true] = 1 }) end, "table key of type boolean", "boolean key raises")
t.raises(function() json.encode({ [1.5] = 1 }) end, "table key of type number %(float%)", "float key raises")
t.raises(function() json.encode({ [1] = "a", ["1"] = "b", x = 1 }) end, 'duplicate key "1"',
  "integer 1 and string \"1\" in one table raise")
do
  local c = {}
  c.self = c
  t.raises(function() json.encode(c) end, "cycle", "a cycle raises a clear error")
  local l = { {} }
  l[1][1] = l
  t.raises(function() json.encode(l) end, "cycle", "a cycle through arrays raises")
  local deep = {}
  local cur = deep
  for _ = 1, 2000 do
    cur[1] = {}
    cur = cur[1]
  end
  t.raises(function() json.encode(deep) end, "nested deeper than 1000", "2000 levels raise, no crash")
end
t.raises(function() json.encode(1, { indnet = 2 }) end, "unknown encode option 'indnet'", "unknown option raises")
t.raises(function() json.encode() end, "bad argument #1", "encode needs an argument")

-- Go's string escaping (go1.26 encode.go appendString) ----------------------
do
  local all = {}
  for i = 0, 127 do all[#all + 1] = string.char(i) end
  all = table.concat(all)
  t.is(json.encode(all),
    [==["\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f !\"#$%\u0026'()*+,-./0123456789:;\u003c=\u003e?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~]==]
      .. "\127\"", "every ASCII byte, escape_html (Go's default)")
  t.is(json.encode(all, { escape_html = false }),
    [==["\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~]==]
      .. "\127\"", "every ASCII byte, escape_html = false")
  t.is(json.encode(all:rep(3)), json.encode(all):sub(1, -2) .. json.encode(all):sub(2, -2)
    .. json.encode(all):sub(2), "long string: same escaping across the fast path")
  local bad = "\xff\xfe a \xe2\x82 b \xed\xa0\x80 c \xf4\x90\x80\x80 d \xc0\xaf"
  t.is(json.encode(bad),
    [["\ufffd\ufffd a \ufffd\ufffd b \ufffd\ufffd\ufffd c \ufffd\ufffd\ufffd\ufffd d \ufffd\ufffd"]],
    "invalid UTF-8 bytes: one \\ufffd each")
  t.is(json.encode("\u{2028}\u{2029}\u{2027}\u{202a}"), '"\\u2028\\u2029\u{2027}\u{202a}"',
    "U+2028 and U+2029 escaped, neighbours not")
  t.is(json.encode("é😀\u{fffd}"), '"é😀\u{fffd}"', "valid UTF-8 passes through")
  t.is(json.encode("</script>&amp;"), [["\u003c/script\u003e\u0026amp;"]], "<>& escaped by default")
  t.is(json.encode("</script>&amp;", { escape_html = false }), [["</script>&amp;"]], "escape_html = false")
  t.is(json.encode({ ["<k>\n"] = 1 }), [[{"\u003ck\u003e\n":1}]], "keys are escaped too")
  t.is(json.encode("a\0b"), [["a\u0000b"]], "NUL byte")
  local long = ("x"):rep(37) .. "\xe2\x80\xa8" .. ("y"):rep(20) .. "\n"
  t.is(json.encode(long), '"' .. ("x"):rep(37) .. "\\u2028" .. ("y"):rep(20) .. '\\n"',
    "escape after a long plain run")
end

-- decoding strings ----------------------------------------------------------
t.is(decode([["\u00e9\ud83d\ude00\u0041"]]), "é😀A", "\\u escapes and a surrogate pair")
t.is(decode([["\ud800x"]]), "\u{fffd}x", "lone high surrogate -> U+FFFD (as Go)")
t.is(decode([["\udc00"]]), "\u{fffd}", "lone low surrogate -> U+FFFD")
t.is(decode([["\"\\\/\b\f\n\r\t"]]), "\"\\/\b\f\n\r\t", "short escapes")
t.is(decode([["a\u0000b"]]), "a\0b", "\\u0000 gives a NUL byte")
t.is(decode('"é😀"'), "é😀", "raw UTF-8")
t.is(decode('"' .. ("ab"):rep(100) .. '\\n"'), ("ab"):rep(100) .. "\n", "long string with an escape")
for _, c in ipairs({
  { '"\xff"', "json: invalid UTF-8 at offset 1" },
  { '"a\xc0\xaf"', "json: invalid UTF-8 at offset 2" },
  { '"\xed\xa0\x80"', "json: invalid UTF-8 at offset 1" },
  { '"\xe2\x82"', "json: invalid UTF-8 at offset 1" },
  { '"\xf4\x90\x80\x80"', "json: invalid UTF-8 at offset 1" },
  { '"a\nb"', "json: control character 0x0a in string at offset 2" },
  { '"\\x"', "json: invalid escape '\\x' at offset 1" },
  { '"\\u12g4"', "json: invalid \\u escape at offset 5" },
}) do
  local v, err = decode(c[1])
  t.ok(v == nil and err == c[2], "decode error: " .. c[2], err)
end

-- decode errors with offsets ---------------------------------------------------
for _, c in ipairs({
  { '{"metadata":x}', "json: unexpected character 'x' at offset 12" },
  { "", "json: unexpected end of input at offset 0" },
  { "   ", "json: unexpected end of input at offset 3" },
  { "[1,2", "json: unexpected end of input at offset 4" },
  { "[1,]", "json: unexpected character ']' at offset 3" },
  { "[1 2]", "json: unexpected character '2' at offset 3" },
  { '{"a" 1}', "json: unexpected character '1' at offset 5" },
  { "{1:2}", "json: unexpected character '1' at offset 1" },
  { "[1] x", "json: unexpected character 'x' after the value at offset 4" },
  { "{}{}", "json: unexpected character '{' after the value at offset 2" },
  { "01", "json: unexpected character '1' after the value at offset 1" },
  { "-", "json: unexpected end of input at offset 1" },
  { "1.", "json: unexpected end of input at offset 2" },
  { "1.e5", "json: unexpected character 'e' at offset 2" },
  { "tru", "json: unexpected end of input at offset 3" },
  { "nul1", "json: unexpected character '1' at offset 3" },
  { "\1", "json: unexpected byte 0x01 at offset 0" },
  { "[\0]", "json: unexpected byte 0x00 at offset 1" },
  { "'a'", "json: unexpected byte 0x27 at offset 0" },
  { "NaN", "json: unexpected character 'N' at offset 0" },
}) do
  local v, err = decode(c[1])
  t.ok(v == nil and err == c[2], ("decode %q: %s"):format(c[1], c[2]), err)
end
t.raises(function() decode(nil) end, "bad argument #1", "decode(nil) raises (misuse)")
t.raises(function() decode("1", { dpeth = 3 }) end, "unknown decode option", "unknown decode option raises")

-- every prefix of a document fails cleanly; corrupted bytes never crash
do
  local doc = '{"apiVersion":"v1","items":[{"metadata":{"name":"a\\u00e9\\n","labels":{}},'
    .. '"n":[1,-2.5e-3,true,false,null,18446744073709551615,"\xe2\x82\xac"]}],"kind":"List"}'
  local full = decode(doc)
  t.ok(full ~= nil, "sample document decodes")
  t.is(json.encode(decode(json.encode(full))), json.encode(full), "sample document: encode is stable")
  local fails = 0
  for i = 0, #doc - 1 do
    local v, err = decode(doc:sub(1, i))
    if v == nil and type(err) == "string" and err:match("^json: .* at offset %d+$") then fails = fails + 1 end
  end
  t.is(fails, #doc, "every proper prefix gives nil, err")
  local survived = 0
  for i = 1, #doc do
    for _, b in ipairs({ "\0", "\xff", '"', "}", "[", "\\", "-", "e" }) do
      local s = doc:sub(1, i - 1) .. b .. doc:sub(i + 1)
      local ok, v, err = pcall(decode, s)
      if ok and (v ~= nil or type(err) == "string") then survived = survived + 1 end
    end
  end
  t.is(survived, #doc * 8, "every single-byte corruption returns a value or nil, err")
end

-- nesting -----------------------------------------------------------------------
do
  local v, err = decode(("["):rep(100000))
  t.ok(v == nil and err == "json: nesting deeper than 1000 at offset 1000", "100000 '[' -> error, no crash", err)
  v, err = decode(("{\"a\":"):rep(5000))
  t.ok(v == nil and err:match("nesting deeper than 1000"), "5000 nested objects -> error", err)
  local ok1000 = decode(("["):rep(1000) .. ("]"):rep(1000))
  t.ok(ok1000 ~= nil, "1000 levels decode")
  t.is(json.encode(ok1000), ("["):rep(1000) .. ("]"):rep(1000), "... and encode back")
  v, err = decode(("["):rep(1001) .. ("]"):rep(1001))
  t.ok(v == nil and err:match("nesting deeper than 1000"), "1001 levels fail")
  v = decode(("["):rep(2000) .. ("]"):rep(2000), { depth = 5000 })
  t.ok(v ~= nil, "opts.depth raises the limit")
  v, err = decode("[[[1]]]", { depth = 2 })
  t.ok(v == nil and err == "json: nesting deeper than 2 at offset 2", "opts.depth lowers it", err)
end

-- duplicate keys: last wins --------------------------------------------------
t.is(decode('{"a":1,"a":2}').a, 2, "duplicate keys: last wins")

-- key order -------------------------------------------------------------------
t.is(json.encode({ b = 1, a = 2, ab = 3, B = 4, ["é"] = 5, [""] = 6, ["a\0"] = 7 }),
  [[{"":6,"B":4,"a":2,"a\u0000":7,"ab":3,"b":1,"é":5}]], "keys sorted by byte (Go)")
do
  local src = { z = 1, y = 2, x = { c = 1, b = 2, a = json.array() }, w = 4 }
  local unsorted = json.encode(src, { sort_keys = false })
  t.ok(t.same(decode(unsorted), decode(json.encode(src))), "sort_keys = false: same content")
  local text = '{"kind":"Status","apiVersion":"v1","metadata":{},"code":404,"details":{"name":"x","kind":"pods"}}'
  local o = decode(text, { order = true })
  t.is(json.encode(o), text, "opts.order: keys come back in document order")
  t.is(getmetatable(o).__jsonorder[1], "kind", "the order lives in the metatable's __jsonorder")
  o.reason = "NotFound"
  o.apiVersion = nil
  t.is(json.encode(o), '{"kind":"Status","metadata":{},"code":404,"details":{"name":"x","kind":"pods"},'
    .. '"reason":"NotFound"}', "removed keys skipped, new keys follow in byte order")
  local dup = decode('{"b":1,"a":2,"b":3}', { order = true })
  t.is(json.encode(dup), '{"b":3,"a":2}', "opts.order with a duplicate key: first place, last value")
  local mine = setmetatable({ c = 3, a = 1, b = 2 }, { __jsonorder = { "c", "b" } })
  t.is(json.encode(mine), '{"c":3,"b":2,"a":1}', "a hand-made __jsonorder")
end

-- indentation: json.MarshalIndent(v, "", "    ") byte for byte ---------------------
do
  local v = {
    apiVersion = "v1", items = json.array(), kind = "List",
    metadata = { resourceVersion = "", labels = {} },
    nested = { json.array(), {}, { 1, { 2, 3 } }, { a = json.null, b = true, c = false } },
    z = "<&>", B = 1.5,
  }
  local want4 = [[
{
    "B": 1.5,
    "apiVersion": "v1",
    "items": [],
    "kind": "List",
    "metadata": {
        "labels": {},
        "resourceVersion": ""
    },
    "nested": [
        [],
        {},
        [
            1,
            [
                2,
                3
            ]
        ],
        {
            "a": null,
            "b": true,
            "c": false
        }
    ],
    "z": "\u003c\u0026\u003e"
}]]
  t.is(json.encode(v, { indent = 4 }), want4, "indent = 4 matches MarshalIndent")
  t.is(json.encode(v, { indent = "    " }), want4, "indent = '    ' is the same")
  t.is(json.encode(v, { indent = "\t" }), (want4:gsub("    ", "\t")), "indent = tab")
  t.is(json.encode(v),
    [[{"B":1.5,"apiVersion":"v1","items":[],"kind":"List","metadata":{"labels":{},"resourceVersion":""},]]
    .. [==["nested":[[],{},[1,[2,3]],{"a":null,"b":true,"c":false}],"z":"\u003c\u0026\u003e"}]==],
    "compact matches Marshal")
  t.is(json.encode(v, { indent = 0 }), json.encode(v), "indent = 0 is compact")
  t.is(json.encode(decode(want4), { indent = 4 }), want4, "indented text round trips")
  t.is(json.encode({ 1 }, { indent = 2 }), "[\n  1\n]", "indent = 2")
  t.is(json.encode("x", { indent = 2 }), '"x"', "indented scalar")
end

-- decode_at: records in one buffer ------------------------------------------------
do
  local buf = '{"type":"ADDED","object":{"a":[]}}\n{"type":"DELETED","object":{}}\r\n  7 \n\n'
  local got, pos = {}, 1
  while true do
    local v, nxt = decode_at(buf, pos)
    if v == nil then
      t.is(nxt, nil, "decode_at: no error once only whitespace remains")
      break
    end
    got[#got + 1] = json.encode(v)
    pos = nxt
  end
  t.is(table.concat(got, "|"), '{"object":{"a":[]},"type":"ADDED"}|{"object":{},"type":"DELETED"}|7',
    "decode_at walks the records")
  local v, nxt = decode_at(buf, 1)
  t.is(nxt, 35, "next_pos is the byte after the value")
  t.is(buf:sub(nxt, nxt), "\n", "... here the newline")
  local part = '{"type":"ADDED"}\n{"type":"MODI'
  local r1, p1 = decode_at(part, 1)
  t.ok(r1 and r1.type == "ADDED", "first complete record")
  local r2, err, epos = decode_at(part, p1)
  t.ok(r2 == nil and err:match("unexpected end of input"), "partial record: nil, err", err)
  t.is(epos, #part + 1, "partial record: errpos is #s + 1 (wait for more data)")
  local r3, err3, epos3 = decode_at('{"a":1}\n{"b":x}\n', 9)
  t.ok(r3 == nil and err3 == "json: unexpected character 'x' at offset 13", "bad record: error with offset", err3)
  t.is(epos3, 14, "bad record: errpos = offset + 1")
  t.is(decode_at("[1]", 4), nil, "pos past the end: nil")
  t.is(select("#", json.decode_at("  \n", 1)), 1, "only whitespace: a single nil")
  t.raises(function() decode_at("[1]", 0) end, "position must be >= 1", "pos 0 raises")
  t.is(decode_at("[1][2]", 4)[1], 2, "decode_at ignores what follows the value")
end

-- bigger data --------------------------------------------------------------------
do
  local items = {}
  for i = 1, 10000 do items[i] = { name = "pod-" .. i, n = i, f = i / 4, tags = json.array(), ok = i % 2 == 0 } end
  local text = json.encode({ items = items })
  local back = decode(text)
  t.is(#back.items, 10000, "10000 items decode")
  t.is(json.encode(back), text, "10000 items round trip byte for byte")
end

t.ok(shape_checked > 40, "every decode error had kind parse, offset and message (" .. shape_checked .. " checked)")
t.done()
