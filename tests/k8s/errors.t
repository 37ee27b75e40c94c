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

finish
