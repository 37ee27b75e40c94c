#!/usr/bin/env bash
# The k8s module's two error shapes against the real API server:
# - a failure of the world returns nil, err whose message names the request
#   once (a malformed server URL: "GET http//broken url/api: URL using
#   bad/illegal format ...", not the request twice);
# - misuse raises at the caller's line with luaL_argerror's words
#   ("script.lua:7: bad argument #1 to 'get' (string expected, got number)"),
#   for get, list, pages, watch, path, resource and connect, while the same
#   calls with good arguments still work.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
trap 'rm -rf "$tmp"' EXIT

# 1. a malformed server URL: the request is named once
out=$("$KS" -e 'local k = assert(k8s.connect{server = "http//broken url"})
local v, err = k:get("/api"); print(v, err.kind); print(err.message)' 2>&1)
is "k:get on a malformed server URL: nil, kind url, the request named once" "$out" "nil	url
GET http//broken url/api: URL using bad/illegal format or missing URL"
"$KS" get /api -s 'http//broken url' >"$tmp/a" 2>"$tmp/e"; rc=$?
[ $rc = 1 ] && [ "$(grep -o 'GET http//broken url/api' "$tmp/e" | wc -l)" = 1 ] &&
  grep -q 'URL using bad/illegal format' "$tmp/e" && [ "$(wc -l <"$tmp/e")" = 1 ]
status "get /api -s 'http//broken url': one line naming the request once, status 1" $?
out=$("$KS" -e 'local k = assert(k8s.connect{server = "https://127.0.0.1:1"})
local v, err = k:get("/api"); print(err.kind); print(err.message)' 2>&1)
is "a refused connection names the request once" "$(grep -o 'GET https://127.0.0.1:1/api' <<<"$out" | wc -l)/$(head -1 <<<"$out")" "1/refused"

# 2. misuse: each line of the script raises at its own line
cat >"$tmp/misuse.lua" <<'LUA'
local k = assert(k8s.connect())
local function try(f) local ok, e = pcall(f); print(ok and "no error" or e) end
try(function() k:get(123) end)
try(function() k:get("pods", 5) end)
try(function() k:get("pods", nil, "x") end)
try(function() k:get("/api", 5) end)
try(function() k:list() end)
try(function() k:list("pods", 5) end)
try(function() k:list("pods", {namespace = 5}) end)
try(function() k:list("pods", {limit = "x"}) end)
try(function() k:pages({}, 1) end)
try(function() k:watch(nil) end)
try(function() k:watch("pods", 5) end)
try(function() k:watch("pods", {}, 5) end)
try(function() k:path(1) end)
try(function() k:resource(nil) end)
try(function() k.get(123) end)
try(function() k8s.connect(5) end)
try(function() k8s.connect{namespace = 5} end)
try(function() k:raw_request{} end)
-- good arguments still work
local function print(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  io.write(table.concat(t, " "), "\n")
end
local p = assert(k:get("pods", "backend-pod", {namespace = "default"}))
print("get", p.metadata.name)
local l = assert(k:list("pods", {namespace = "default", labelSelector = ""}))
print("list", #l.items >= 1)
local n = 0
for page in k:pages("nodes", {limit = 1}) do n = n + #page.items end
print("pages", n)
local t = k:watch("namespaces", {timeout = 1}, function(ev) return false end)
print("watch", t:wait() == nil)
print("resource", k:resource("deploy").name, (k:path("deploy", "web", {namespace = "x"})))
local v, err = k:get("pods", "nope")
print("world", v, err.kind)
LUA
out=$(cd "$tmp" && "$KS" misuse.lua 2>&1)
is "misuse raises at the caller's line, good calls work" "$out" "misuse.lua:3: bad argument #1 to 'get' (string expected, got number)
misuse.lua:4: bad argument #2 to 'get' (string expected, got number)
misuse.lua:5: bad argument #3 to 'get' (table expected, got string)
misuse.lua:6: bad argument #2 to 'get' (table expected, got number)
misuse.lua:7: bad argument #1 to 'list' (string expected, got nil)
misuse.lua:8: bad argument #2 to 'list' (table expected, got number)
misuse.lua:9: bad argument #2 to 'list' (namespace: string expected, got number)
misuse.lua:10: bad argument #2 to 'list' (limit: number expected, got string)
misuse.lua:11: bad argument #2 to 'pages' (table expected, got number)
misuse.lua:12: bad argument #1 to 'watch' (string expected, got nil)
misuse.lua:13: bad argument #2 to 'watch' (table expected, got number)
misuse.lua:14: bad argument #3 to 'watch' (function expected, got number)
misuse.lua:15: bad argument #1 to 'path' (string expected, got number)
misuse.lua:16: bad argument #1 to 'resource' (string expected, got nil)
misuse.lua:17: calling 'get' on bad self (k8s.client expected, got number; use obj:get(...))
misuse.lua:18: bad argument #1 to 'connect' (string or table expected, got number)
misuse.lua:19: bad argument #1 to 'connect' (namespace: string expected, got number)
misuse.lua:20: bad argument #1 to 'raw_request' (path: string expected, got nil)
get backend-pod
list true
pages 3
watch true
resource deployments /apis/apps/v1/namespaces/x/deployments/web
world nil notfound"

# 3. uncaught misuse in a script: one line at the script's own position
printf 'local k = assert(k8s.connect())\n\nk:get(123)\n' >"$tmp/top.lua"
out=$(cd "$tmp" && "$KS" top.lua 2>&1); rc=$?
[ $rc = 1 ] && grep -q "top.lua:3: bad argument #1 to 'get' (string expected, got number)" <<<"$out" && ! grep -q 'lua/k8s' <<<"$out"
status "an uncaught misuse names the script's line, never lua/k8s*.lua" $?
finish
