#!/usr/bin/env kscript
-- ksh.re: Go (RE2) regular expressions over PCRE2, as kubectl proxy's filters
-- use them (tests/k8s/proxy.t compares the refusals with kubectl itself).
package.path = (os.getenv("KSCRIPT_TOP") or ".") .. "/tests/lib/?.lua;" .. package.path
local t = require "tap"
local re = require "ksh.re"

local function finds(p, s) return (assert(re.compile(p)):find(s)) ~= nil end

-- kubectl proxy's defaults, unanchored as Go's MatchString
t.ok(finds([[^/api/.*/pods/.*/exec]], "/api/v1/namespaces/d/pods/p/exec"), "default reject: exec")
t.ok(finds([[^/api/.*/pods/.*/exec]], "/api/v1/namespaces/d/pods/p/execute"), "unanchored at the end")
t.ok(not finds([[^/api/.*/pods/.*/exec]], "/apis/v1/pods/p/exec"), "anchored start")
t.ok(finds([[^\[::1\]$]], "[::1]"), "escaped brackets")
t.ok(finds([[^localhost$]], "localhost"), "host")
t.ok(not finds([[^localhost$]], "localhost\n"), "$ is the end of text only (no trailing newline)")
t.ok(finds("^$", ""), "^$ matches the empty method only")
t.ok(not finds("^$", "GET"), "^$ does not match GET")
t.ok(finds("(?i)^get$", "GET"), "flags")
t.ok(finds("^(?P<v>v[0-9]+)$", "v1"), "named group (?P<name>)")
t.ok(finds("^\\p{Greek}+$", "αβγ"), "UTF-8 and Unicode classes")
t.ok(finds("a", "\255a"), "invalid UTF-8 in the subject is not an error")
t.ok(finds("^a{2,1000}$", "aaa"), "a count of 1000")
t.ok(finds("[a\\]]+", "]a"), "a class with an escaped ]")
local s, e = assert(re.compile("b+")):find("abbbc")
t.ok(s == 2 and e == 4, "find returns the span")

-- what RE2 (and so kubectl) refuses
for _, p in ipairs { "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(a)\\1", "(?>a)", "a++", "a*+", "a?+",
                     "a{1001}", "a{1,1001}", "\\Z", "\\G", "\\K", "\\R", "(?R)", "(?1)", "(?(1)a|b)",
                     "(?P=n)", "(*UTF)a", "\\" } do
  local r, err = re.compile(p)
  t.ok(r == nil and type(err) == "string" and err:match("^error parsing regexp: "), "refused: " .. p, err)
end
-- a PCRE syntax error is an error too
local r, err = re.compile("(a")
t.ok(r == nil and err:match("^error parsing regexp: "), "unbalanced parenthesis", err)
-- found by tests/fuzz/re_fuzz.c: a repeat count of 20 digits overflowed (UB),
-- and a NUL byte after "(?" passed for a flag letter
for _, p in ipairs { "a{11111111111111111111111}", "a{2,99999999999999999999}" } do
  r, err = re.compile(p)
  t.ok(r == nil and err:match("invalid repeat count"), "a huge repeat count is refused: " .. p, err)
end
r, err = re.compile("(?\0)")
t.ok(r == nil and err:match("^error parsing regexp: "), "a NUL byte is not a flag", err)
t.done()
