#!/usr/bin/env kscript
-- ksh.b64: the Lua binding over src/b64.c.
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local b64 = require "ksh.b64"

-- RFC 4648 section 10
for _, v in ipairs {
  { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
  { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
} do
  t.is(b64.encode(v[1]), v[2], "encode " .. ("%q"):format(v[1]))
  t.is(b64.decode(v[2]), v[1], "decode " .. v[2])
end

-- modes
local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local all = table.concat(bytes)
t.is(b64.encode("\251\255"), "+/8=", "std alphabet")
t.is(b64.encode("\251\255", "url"), "-_8=", "url alphabet keeps padding")
t.is(b64.encode("\251\255", "rawurl"), "-_8", "rawurl: no padding")
t.is(b64.encode("\251\255", "rawstd"), "+/8", "rawstd: no padding")
for _, mode in ipairs { "std", "url", "rawstd", "rawurl" } do
  t.is(b64.decode(b64.encode(all, mode), mode), all, "all 256 byte values round trip (" .. mode .. ")")
end
t.is(b64.decode("-_8", "url"), "\251\255", "url decode without padding")
t.is(b64.decode("Zm9v\nYmFy\r\n"), "foobar", "line breaks are skipped")
t.is(b64.decode("a\0b", "std"), nil, "NUL in the input is an error")
t.is(#b64.encode(("\0"):rep(1000)), 1336, "binary-safe: NUL bytes are encoded")

-- errors: nil, err with kind "parse", offset (0-based) and a message
-- naming the 1-based byte; tostring(err) is the message
local last_offset
local function err(s, mode)
  local v, e = b64.decode(s, mode)
  t.is(v, nil, "rejected: " .. ("%q"):format(s))
  if type(e) ~= "table" then return e end
  last_offset = e.offset
  t.ok(e.kind == "parse" and tostring(e) == e.message and math.type(e.offset) == "integer"
    and e.message:match("at byte " .. (e.offset + 1) .. "$"), "  err {kind = parse, offset, message}")
  return e.message
end
t.like(err("Zm9v YmFy"), "invalid character ' ' at byte 5$", "space named with its byte")
t.is(last_offset, 4, "  err.offset is 0-based")
t.like(err("Zm9v\1"), "invalid character \\x01 at byte 5$", "control byte shown in hex")
t.like(err("+/8=", "url"), "invalid character '%+' at byte 1$", "url mode rejects '+'")
t.like(err("-_8="), "invalid character '%-' at byte 1$", "std mode rejects '-'")
t.like(err("Zm9vY"), "incomplete group at byte 5$", "lone last character")
t.like(err("Zg="), "ends inside the padding at byte 3$", "padding cut short")
t.like(err("Zg==Zg=="), "invalid character 'Z' after the padding at byte 5$", "data after the padding")
t.like(err("Zg=x"), "invalid character 'x' after the padding at byte 4$", "garbage inside the padding")
t.like(err("Zm8=="), "invalid character '=' at byte 5$", "too much padding")

-- misuse raises
t.raises(function() b64.encode("x", "hex") end, "invalid option 'hex'", "unknown mode raises")
t.raises(function() b64.decode({}) end, "string expected", "non-string raises")
t.raises(function() b64.encode() end, "string expected", "missing argument raises")

-- the key dump's load: many small values in one go
local enc = {}
for i = 1, 100000 do enc[i] = b64.encode("/registry/pods/default/web-" .. i) end
local okc = 0
for i = 1, 100000 do
  if b64.decode(enc[i]) == "/registry/pods/default/web-" .. i then okc = okc + 1 end
end
t.is(okc, 100000, "100000 values decode")

t.done()
