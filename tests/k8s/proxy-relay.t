#!/usr/bin/env bash
# The proxy's C fast path (src/core/relay.c) against the real API server,
# side by side with `kubectl proxy`: a large list (8 ConfigMaps of 700 KB)
# comes back chunked and byte for byte as kubectl proxy gives it; a slow
# client reading it pauses the upstream transfer (backpressure: the bytes
# waiting for it stay bounded while the whole body still arrives intact); a
# client that goes away mid-body ends the request; keep-alive after a
# chunked answer; lists keep one upstream HTTP/1.1 connection between
# answers, and a client gone mid-list closes it; a watch through a proxy with a log hook ends upstream when
# its client goes away; the fast path in lua_server.c takes the plain
# requests of a proxy without Lua hooks and only those; an unreachable API
# server is a 500 with the error.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"

NS=kscript-proxy-relay-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$NS" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

start() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  local p
  p=$(serving_port "$tmp/$name.out")
  eval "port_$name=$p"
  if [ -n "$p" ]; then ok "$name started"; else nok "$name started" "$(cat "$tmp/$name.out" "$tmp/$name.err")"; fi
}

$KC create ns "$NS" >/dev/null || nok "namespace $NS"
python3 -c 'import random,string; r=random.Random(7); print("".join(r.choice(string.ascii_letters) for _ in range(700000)))' >"$tmp/big.txt"
for i in 1 2 3 4 5 6 7 8; do
  $KC -n "$NS" create configmap "big-$i" --from-file=data="$tmp/big.txt" >/dev/null || nok "configmap big-$i"
done

cat >"$tmp/filter.lua" <<'EOF'
function log(req, res)
  io.stderr:write(("AUDIT %s %s %d %d %s %s\n"):format(req.headers["x-tag"] or "-", req.method, res.status, res.bytes,
    tostring(res.peak), tostring(res.pauses)))
end
EOF
start ks "$KS" proxy --port=0 --filter "$tmp/filter.lua"
start kc $KC proxy --port=0
path=/api/v1/namespaces/$NS/configmaps

# fetch PORT: the body (list resourceVersion masked) to $tmp/body.PORT, prints "status transfer-encoding"
fetch() {
  curl -s -D "$tmp/h.$1" -o "$tmp/raw.$1" "http://127.0.0.1:$1$path" -H "X-Tag: fast" -A curl/7.88.1
  sed -E '0,/"resourceVersion": ?"[0-9]+"/s//"resourceVersion":"RV"/' "$tmp/raw.$1" >"$tmp/body.$1"
  echo "$(head -1 "$tmp/h.$1" | tr -d '\r' | cut -d' ' -f2) $(tr -d '\r' <"$tmp/h.$1" | awk -F': ' 'tolower($1) == "transfer-encoding" {print $2}')"
}
a=$(fetch "$port_ks"); b=$(fetch "$port_kc")
is "a large list: status and framing as kubectl proxy's (chunked)" "$a" "$b"
is "a large list is chunked" "$a" "200 chunked"
size=$(wc -c <"$tmp/body.$port_ks")
[ "$size" -gt 5000000 ] && ok "the list is large ($size bytes)" || nok "the list is large" "$size bytes"
cmp -s "$tmp/body.$port_ks" "$tmp/body.$port_kc" && ok "the same body as kubectl proxy's" || nok "the same body as kubectl proxy's" "$(wc -c "$tmp"/body.*)"

# a slow client: small receive buffer, 64 KiB every 20 ms; the body is dechunked
# and compared, the proxy's log tells how far it got ahead of the client
cat >"$tmp/slow.py" <<'EOF'
import socket, sys, time, re
port, path, tag, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", port))
s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\nX-Tag: {tag}\r\nConnection: close\r\n\r\n".encode())
data = b""
while True:
    time.sleep(0.02)
    b = s.recv(65536)
    if not b: break
    data += b
    if limit and len(data) >= limit: s.close(); sys.exit(0)
head, _, body = data.partition(b"\r\n\r\n")
out = b""
while body:  # dechunk
    line, _, rest = body.partition(b"\r\n")
    n = int(line, 16)
    if n == 0: break
    out += rest[:n]; body = rest[n + 2:]
out = re.sub(rb'"resourceVersion": ?"[0-9]+"', b'"resourceVersion":"RV"', out, count=1)
sys.stdout.buffer.write(out)
EOF
python3 "$tmp/slow.py" "$port_ks" "$path" slow 0 >"$tmp/slow.body"
cmp -s "$tmp/slow.body" "$tmp/body.$port_ks" && ok "a slow client gets the whole body intact" || nok "slow client body" "$(wc -c <"$tmp/slow.body") vs $size bytes"
line=
for _ in $(seq 50); do line=$(grep '^AUDIT slow ' "$tmp/ks.err"); [ -n "$line" ] && break; sleep 0.1; done
read -r _ _ _ st bytes peak pauses <<<"$line"
is "slow client: status 200" "$st" 200
[ "${pauses:-0}" -gt 0 ] 2>/dev/null && ok "slow client: the upstream transfer was paused ($pauses times)" || nok "slow client paused the upstream" "$line"
[ "${peak:-99999999}" -lt 1048576 ] 2>/dev/null && ok "slow client: at most $peak bytes waited for it (under 1 MiB of $bytes)" || nok "slow client: bounded output" "$line"

# a client that goes away after 200 KB: the request ends (cut off), the proxy serves on
python3 "$tmp/slow.py" "$port_ks" "$path" drop 200000 >/dev/null
line=
for _ in $(seq 100); do line=$(grep '^AUDIT drop ' "$tmp/ks.err"); [ -n "$line" ] && break; sleep 0.1; done
read -r _ _ _ st bytes _ <<<"$line"
[ -n "$line" ] && [ "$bytes" -lt "$size" ] && ok "a client gone mid-body ends the request ($bytes of $size bytes relayed)" || nok "client gone mid-body" "$line"
a=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_ks/version")
is "the proxy serves on" "$a" 200

# keep-alive after a chunked answer
nc=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "http://127.0.0.1:$port_ks$path" "http://127.0.0.1:$port_ks/version" | paste -sd' ')
is "keep-alive after a chunked answer: one connection" "$nc" "1 0"

# lists go upstream over HTTP/1.1 (libcurl): one connection is kept between
# answers and used again; a client gone mid-list closes it (the rest of that
# answer cannot be told from the next), and the next list opens another.
# Counted on the proxy's side with ss.
start ks2 "$KS" proxy --port=0
apiport=${KSCRIPT_TEST_APISERVER##*:}
upstream() { # established connections of proxy ks2 to the API server
  ss -tnpH state established "dport = :$apiport" | grep -c "pid=${pids[${#pids[@]}-1]},"
}
list() { # N: list $path through ks2 to $tmp/l.N (resourceVersion masked); prints the status
  curl -s -o "$tmp/raw.l" -w '%{http_code}\n' "http://127.0.0.1:$port_ks2$path" -A curl/7.88.1
  sed -E '0,/"resourceVersion": ?"[0-9]+"/s//"resourceVersion":"RV"/' "$tmp/raw.l" >"$tmp/l.$1"
}
for i in 1 2 3; do list "$i" >>"$tmp/codes"; done
is "three lists one after another: answered" "$(paste -sd' ' "$tmp/codes")" "200 200 200"
cmp -s "$tmp/l.1" "$tmp/l.3" && [ "$(wc -c <"$tmp/l.3")" -gt 5000000 ] && ok "the third list is whole" || nok "the third list is whole" "$(wc -c "$tmp"/l.*)"
is "three lists one after another: one upstream connection, kept" "$(upstream)" 1
python3 "$tmp/slow.py" "$port_ks2" "$path" drop 200000 >/dev/null
up=
for _ in $(seq 100); do up=$(upstream); [ "$up" = 0 ] && break; sleep 0.1; done
is "a client gone mid-list: its upstream connection is closed" "$up" 0
list 4 >/dev/null
cmp -s "$tmp/l.1" "$tmp/l.4" && ok "the next list comes whole on a new connection" || nok "the next list" "$(wc -c "$tmp"/l.*)"
is "and that connection is kept" "$(upstream)" 1

# a watch through the proxy with a log hook (the task waits for the relay):
# its client going away ends the API server's watch
watches() {
  curl -s "http://127.0.0.1:$port_kc/metrics" | awk '/^apiserver_longrunning_requests\{/ && /resource="configmaps"/ && /scope="namespace"/ && /verb="WATCH"/ {s += $2} END {print s + 0}'
}
base=$(watches)
curl -sN "http://127.0.0.1:$port_ks$path?watch=1" -H "X-Tag: watch" >"$tmp/watch" 2>/dev/null &
wpid=$!
pids+=($wpid)
for _ in $(seq 100); do grep -q '"name":"big-8"' "$tmp/watch" && break; sleep 0.1; done
grep -q '"type":"ADDED"' "$tmp/watch" && ok "a watch streams through" || nok "a watch streams through" "$(head -c 200 "$tmp/watch")"
up=0; for _ in $(seq 50); do [ "$(watches)" -gt "$base" ] && { up=1; break; }; sleep 0.1; done
kill "$wpid" 2>/dev/null
gone=0; for _ in $(seq 150); do [ "$(watches)" -le "$base" ] && { gone=1; break; }; sleep 0.1; done
[ "$up" = 1 ] && [ "$gone" = 1 ] && ok "client gone: the API server's watch ends (back to $base)" || nok "watch cancelled upstream" "up=$up gone=$gone base=$base now=$(watches)"
line=
for _ in $(seq 50); do line=$(grep '^AUDIT watch ' "$tmp/ks.err"); [ -n "$line" ] && break; sleep 0.1; done
[ -n "$line" ] && ok "the watch's log line comes when its client goes away: ${line#AUDIT }" || nok "watch log line" "$(cat "$tmp/ks.err")"

# the C fast path takes the plain requests of a proxy with no Lua hooks (and
# only those): a %-escaped path and a refused one go to Lua, and a proxy
# with a log hook sends everything through Lua
t0=$(date +%s)
out=$(timeout 60 "$KS" -e '
local http = require "ksh.http"
local k = assert(k8s.connect())
local function run(opts)
  opts.client, opts.port = k, 0
  local p = assert(k8s.proxy_server(opts))
  local t = p:start()
  local codes = {}
  for _, path in ipairs { "/version", "/api/v1/namespaces/default/pods/backend-pod",
                          "/api/v1/namespaces/default/pods/%62ackend-pod", "/api/v1/namespaces/default/pods/backend-pod/exec" } do
    local r, err = http.request { url = "http://127.0.0.1:" .. p:port() .. path }
    codes[#codes + 1] = r and r.status or (err and err.status) or 0
  end
  local n = p.srv:fast_served()
  p:close(); t:cancel()
  return table.concat(codes, " ") .. " fast=" .. n
end
print(run {})
print(run { log = function() end })' 2>&1)
is "fast path: the plain requests in C, the rest in Lua, the same answers" "$(sed -n 1p <<<"$out")" "200 200 200 403 fast=2"
is "a log hook: every request through Lua" "$(sed -n 2p <<<"$out")" "200 200 200 403 fast=0"
took=$(( $(date +%s) - t0 ))
[ "$took" -lt 20 ] && ok "the script ends with its work: ${took} s (an idle upstream connection does not hold it)" \
  || nok "the script ends with its work" "${took} s"

# an unreachable API server: 500 and the error text, as kubectl proxy (both fail to dial)
start ks_bad "$KS" proxy --port=0 --server=https://127.0.0.1:1 --insecure-skip-tls-verify
start kc_bad $KC proxy --port=0 --server=https://127.0.0.1:1 --insecure-skip-tls-verify
a=$(curl -s -o "$tmp/e1" -w '%{http_code} %{content_type}' "http://127.0.0.1:$port_ks_bad/version")
b=$(curl -s -o "$tmp/e2" -w '%{http_code} %{content_type}' "http://127.0.0.1:$port_kc_bad/version")
is "unreachable API server: status and type as kubectl proxy's" "$a" "$b"
grep -qi "refused" "$tmp/e1" && ok "the error text says why: $(head -c 120 "$tmp/e1")" || nok "error text" "$(cat "$tmp/e1")"
finish
