#!/usr/bin/env bash
# Request bodies through `kscript proxy`, side by side with `kubectl proxy`
# against the real API server: a large body streams upstream as it arrives
# (the proxy's peak RSS grows far less than the body; a 20 MB POST gets the
# API server's own 413, a 2.5 MB ConfigMap its 422, status and body as
# kubectl proxy's), Content-Length and chunked, a slow client sending its
# body in pieces with pauses (the created object holds exactly what was
# sent); `-v` logs one line per relayed request (method, URL, status,
# duration) and never the token; with an exec plugin whose first token is
# refused, a 401 gets fresh credentials: a normal request answers as
# kubectl proxy's (401, then 200), an upgrade (WebSocket watch) is retried
# at once and gets its 101.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"

NS=kscript-proxy-upload-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete ns "$NS" --wait=false >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

start() { # NAME cmd...: started in the background, its port in $port_NAME, its pid in $pid_NAME
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=($pid)
  local p
  p=$(serving_port "$tmp/$name.out")
  eval "port_$name=$p pid_$name=$pid"
  if [ -n "$p" ]; then ok "$name started"; else nok "$name started" "$(cat "$tmp/$name.out" "$tmp/$name.err")"; fi
}

$KC create ns "$NS" >/dev/null || nok "namespace $NS"
path=/api/v1/namespaces/$NS/configmaps

# cm.py NAME SIZE: a ConfigMap of SIZE random letters (data.d)
cm() {
  python3 -c 'import json,random,string,sys
r = random.Random(sys.argv[1]); n = int(sys.argv[2])
d = "".join(r.choice(string.ascii_letters) for _ in range(n))
json.dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": sys.argv[1]}, "data": {"d": d}}, sys.stdout)' "$1" "$2"
}

# up.py PORT METHOD PATH FILE MODE [PIECE PAUSE]: send FILE as the body,
# MODE cl (Content-Length) or chunked, PIECE bytes at a time with PAUSE
# seconds between; prints the status, the body (dechunked) on fd 3
cat >"$tmp/up.py" <<'EOF'
import os, socket, sys, time
port, method, path, fname, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
piece = int(sys.argv[6]) if len(sys.argv) > 6 else 1 << 20
pause = float(sys.argv[7]) if len(sys.argv) > 7 else 0
data = open(fname, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
head = "%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: up.py\r\nContent-Type: application/json\r\nConnection: close\r\n" % (method, path)
head += ("Content-Length: %d\r\n" % len(data)) if mode in ("cl", "cut") else "Transfer-Encoding: chunked\r\n"
s.sendall((head + "\r\n").encode())
if mode == "cut":  # half the body, then away
    s.sendall(data[:len(data) // 2]); s.close(); print("cut"); sys.exit(0)
try:
    for i in range(0, len(data), piece):
        p = data[i:i + piece]
        s.sendall(p if mode == "cl" else b"%x\r\n%s\r\n" % (len(p), p))
        if pause: time.sleep(pause)
    if mode != "cl": s.sendall(b"0\r\n\r\n")
except (BrokenPipeError, ConnectionResetError):
    pass  # answered (and closed) before the whole body went: read the answer
resp = b""
while True:
    try: b = s.recv(65536)
    except ConnectionResetError: break
    if not b: break
    resp += b
h, _, body = resp.partition(b"\r\n\r\n")
if b"transfer-encoding: chunked" in h.lower():
    out = b""
    while body:
        line, _, rest = body.partition(b"\r\n")
        n = int(line, 16)
        if n == 0: break
        out += rest[:n]; body = rest[n + 2:]
    body = out
print(h.split(b" ")[1].decode() if h else "none")
os.write(3, body)
EOF
up() { python3 "$tmp/up.py" "$@" 3>"$tmp/resp"; }

tok=$KSCRIPT_TEST_TOKEN
start ks "$KS" -v proxy --port=0 --token "$tok"
start kc $KC proxy --port=0

# peak RSS (VmHWM, kB) of a process
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
warm() { curl -s -o /dev/null "http://127.0.0.1:$1/api/v1/namespaces/$NS/configmaps"; }
warm "$port_ks"; warm "$port_kc"

# 1. a ConfigMap under the 1 MiB limit (900 KB): created through each proxy,
# Content-Length and chunked, and read back equal
cm ok-ks 900000 >"$tmp/ok-ks.json"
cm ok-kc 900000 >"$tmp/ok-kc.json"
cm ok-ch 900000 >"$tmp/ok-ch.json"
a=$(up "$port_ks" POST "$path" "$tmp/ok-ks.json" cl); b=$(up "$port_kc" POST "$path" "$tmp/ok-kc.json" cl)
is "900 KB ConfigMap (Content-Length): created as through kubectl proxy" "$a $b" "201 201"
a=$(up "$port_ks" POST "$path" "$tmp/ok-ch.json" chunked)
is "900 KB ConfigMap sent chunked: created" "$a" 201
for c in ok-ks ok-ch; do
  $KC -n "$NS" get cm "$c" -o jsonpath='{.data.d}' >"$tmp/got.$c"
  python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["data"]["d"])' "$tmp/$c.json" >"$tmp/want.$c"
  cmp -s "$tmp/got.$c" "$tmp/want.$c" && ok "$c: the stored data is what was sent ($(wc -c <"$tmp/got.$c") bytes)" || nok "$c: stored data" "$(wc -c "$tmp/got.$c" "$tmp/want.$c")"
done

# 2. a 2.5 MB ConfigMap: the API server's 422, POST and PUT, as kubectl proxy's
cm big 2500000 >"$tmp/big.json"
for m in POST PUT; do
  p=$path; [ $m = PUT ] && p=$path/ok-kc
  a=$(up "$port_ks" $m "$p" "$tmp/big.json" cl); cp "$tmp/resp" "$tmp/resp.ks"
  b=$(up "$port_kc" $m "$p" "$tmp/big.json" cl); cp "$tmp/resp" "$tmp/resp.kc"
  is "2.5 MB $m: status as kubectl proxy's ($b)" "$a" "$b"
  cmp -s "$tmp/resp.ks" "$tmp/resp.kc" && ok "2.5 MB $m: the same body as kubectl proxy's" || nok "2.5 MB $m body" "$(head -c 300 "$tmp/resp.ks")" "$(head -c 300 "$tmp/resp.kc")"
done

# a 200 KB merge patch replacing the data (PATCH streamed as an upload), as through kubectl proxy
python3 -c 'import json; json.dump({"data": {"d": "y" * 200000}}, open("'"$tmp"'/patch.json", "w"))'
patch() { curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Content-Type: application/merge-patch+json" --data-binary @"$tmp/patch.json" "http://127.0.0.1:$1$path/$2"; }
a=$(patch "$port_ks" ok-ks); b=$(patch "$port_kc" ok-kc)
is "200 KB PATCH: status as kubectl proxy's" "$a $b" "200 200"
a=$($KC -n "$NS" get cm ok-ks -o jsonpath='{.data.d}' | wc -c)
is "200 KB PATCH: applied whole" "$a" 200000

# 3. a 20 MB body: the API server's 413, as kubectl proxy's; the proxy's
# peak RSS grows by far less than the body (it streams)
cm huge 20000000 >"$tmp/huge.json"
h0=$(hwm "$pid_ks"); k0=$(hwm "$pid_kc")
a=$(up "$port_ks" POST "$path" "$tmp/huge.json" cl); cp "$tmp/resp" "$tmp/resp.ks"
b=$(up "$port_kc" POST "$path" "$tmp/huge.json" cl); cp "$tmp/resp" "$tmp/resp.kc"
a2=$(up "$port_ks" POST "$path" "$tmp/huge.json" chunked)
h1=$(hwm "$pid_ks"); k1=$(hwm "$pid_kc")
is "20 MB POST: status as kubectl proxy's ($b)" "$a" "$b"
is "20 MB POST chunked: status as kubectl proxy's" "$a2" "$b"
cmp -s "$tmp/resp.ks" "$tmp/resp.kc" && ok "20 MB POST: the same body as kubectl proxy's" || nok "20 MB POST body" "$(head -c 300 "$tmp/resp.ks")" "$(head -c 300 "$tmp/resp.kc")"
echo "# peak RSS: kscript proxy $h0 -> $h1 kB (+$((h1 - h0))), kubectl proxy $k0 -> $k1 kB (+$((k1 - k0))), body 20 MB"
[ $((h1 - h0)) -lt 8192 ] && ok "kscript proxy's peak RSS grew by $((h1 - h0)) kB for a 20 MB body (kubectl proxy: $((k1 - k0)) kB)" || nok "bounded RSS" "+$((h1 - h0)) kB"

# 4. a slow client: 900 KB in 32 KiB pieces, 20 ms apart, with and without a length
cm slow-cl 900000 >"$tmp/slow-cl.json"
cm slow-ch 900000 >"$tmp/slow-ch.json"
a=$(up "$port_ks" POST "$path" "$tmp/slow-cl.json" cl 32768 0.02)
b=$(up "$port_ks" POST "$path" "$tmp/slow-ch.json" chunked 32768 0.02)
is "slow uploads: created" "$a $b" "201 201"
for c in slow-cl slow-ch; do
  $KC -n "$NS" get cm "$c" -o jsonpath='{.data.d}' >"$tmp/got.$c"
  python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))["data"]["d"])' "$tmp/$c.json" >"$tmp/want.$c"
  cmp -s "$tmp/got.$c" "$tmp/want.$c" && ok "$c: arrived intact" || nok "$c: intact" "$(wc -c "$tmp/got.$c" "$tmp/want.$c")"
done
a=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_ks/version")
is "the proxy serves on" "$a" 200

# 5. -v: one line per relayed request; never the token
grep -q "^\* POST https://[^ ]*$path -> 201 ([0-9.]* ms, proxy)$" "$tmp/ks.err" && ok "-v logs a relayed request: $(grep -m1 ' -> 201 ' "$tmp/ks.err")" || nok "-v request line" "$(head -5 "$tmp/ks.err")"
grep -q "^\* POST https://[^ ]*$path -> 413 " "$tmp/ks.err" && ok "-v logs the 413 too" || nok "-v 413 line" "$(cat "$tmp/ks.err")"
grep -q "^\* GET https://[^ ]*/version -> 200 " "$tmp/ks.err" && ok "-v logs a GET" || nok "-v GET line" "$(cat "$tmp/ks.err")"
n_lines=$(grep -c ' (.* ms, proxy)$' "$tmp/ks.err")
is "-v: one line per relayed request (11)" "$n_lines" 11
[ ${#tok} -gt 8 ] && ! grep -qF "$tok" "$tmp/ks.err" && ! grep -qi "authorization" "$tmp/ks.err" && ok "-v: the token and the Authorization header never appear in the log" || nok "token in the log"

# 6. a large body to a path kubectl proxy rejects (exec): its 403, and the
# client still reads it though the proxy never takes the body
a=$(up "$port_ks" POST "/api/v1/namespaces/$NS/pods/x/exec" "$tmp/big.json" cl); cp "$tmp/resp" "$tmp/resp.ks"
b=$(up "$port_kc" POST "/api/v1/namespaces/$NS/pods/x/exec" "$tmp/big.json" cl); cp "$tmp/resp" "$tmp/resp.kc"
is "2.5 MB body to a rejected path: kubectl proxy's status ($b)" "$a" "$b"
cmp -s "$tmp/resp.ks" "$tmp/resp.kc" && ok "and its body ($(head -c 20 "$tmp/resp.ks"))" || nok "rejected path body" "$(head -c 100 "$tmp/resp.ks")"

# a client that goes away mid-body: the request ends (logged as 499), nothing
# is created, the proxy serves on
cm cut 900000 >"$tmp/cut.json"
up "$port_ks" POST "$path" "$tmp/cut.json" cut >/dev/null
wait_for 10 grep -q " -> 499 (.* ms, proxy, the client went away)$" "$tmp/ks.err"
status "a client gone mid-body: its request ends, logged as 499" $?
$KC -n "$NS" get cm cut >/dev/null 2>&1
is "nothing was created from half a body" "$?" 1
a=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_ks/version")
is "the proxy serves on" "$a" 200

# 7. an exec plugin whose first token is refused (as tests/k8s/connect.t's)
cat >"$tmp/plugin.sh" <<EOF
#!/bin/sh
n=\$(cat "\$1" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > "\$1"
if [ \$n -eq 1 ]; then tok=wrong; else tok=$KSCRIPT_TEST_EXEC_TOKEN; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\n' "\$tok"
EOF
chmod +x "$tmp/plugin.sh"
exec_cfg() { # NAME -> kubeconfig whose plugin counts its runs in $tmp/NAME.count
  cat >"$tmp/$1.yaml" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$KSCRIPT_TEST_APISERVER", certificate-authority: "$KSCRIPT_TEST_CA"}
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: "$tmp/plugin.sh", args: ["$tmp/$1.count"], interactiveMode: Never}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
EOF
  echo "$tmp/$1.yaml"
}
start ks_exec "$KS" proxy --port=0 --kubeconfig "$(exec_cfg ks)"
start kc_exec $KC proxy --port=0 --kubeconfig "$(exec_cfg kc)"
a=$(for i in 1 2; do curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$port_ks_exec/api"; done)
b=$(for i in 1 2; do curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$port_kc_exec/api"; done)
is "exec token refused: 401 then 200, as through kubectl proxy" "$a" "$b"
is "exec token refused: 401 then 200" "$a" "401 200 "
start ks_exec2 "$KS" proxy --port=0 --kubeconfig "$(exec_cfg ks2)"
cat >"$tmp/ws.py" <<'EOF'
import base64, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nOrigin: http://127.0.0.1\r\n\r\n" % (sys.argv[2], key)).encode())
data = b""
while b"\r\n\r\n" not in data:
    b = s.recv(4096)
    if not b: break
    data += b
print(data.split(b" ")[1].decode() if data else "none")
EOF
a=$(python3 "$tmp/ws.py" "$port_ks_exec2" "$path?watch=true")
is "an upgrade (WebSocket watch) refused with the first exec token is retried with fresh credentials: 101" "$a" 101
is "the plugin ran twice" "$(cat "$tmp/ks2.count")" 2
finish
