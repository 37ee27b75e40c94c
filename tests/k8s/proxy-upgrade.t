#!/usr/bin/env bash
# Upgrade requests through `kscript proxy`, side by side with `kubectl proxy`
# started in this test, against the real API server: a WebSocket watch of
# ConfigMaps (kube-apiserver serves watches over WebSocket) delivers the
# ConfigMap created after it started, through both proxies, with the same
# handshake; the base64.binary.k8s.io subprotocol; the default exec rejection
# of an upgrade (403 Forbidden\n as kubectl's); an answer other than 101 is
# forwarded (the API server's 403 without Origin); an unreachable API server
# is a 500; a client that closes its socket ends the API server's watch; a
# plain request on the same proxy still works; 20 concurrent WebSocket
# watches; no file descriptor left behind.
# The client is a small stdlib Python one: handshake by hand, frames decoded.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  $KC delete configmap kscript-upgrade-1 kscript-upgrade-2 --ignore-not-found >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
$KC delete configmap kscript-upgrade-1 kscript-upgrade-2 --ignore-not-found >/dev/null 2>&1

# start NAME CMD...: run a proxy, wait for "Starting to serve on ADDR:PORT", set port_NAME
start() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  eval "pid_$name=$!"
  local p
  p=$(serving_port "$tmp/$name.out")
  eval "port_$name=$p"
  if [ -n "$p" ]; then ok "$name: $(head -1 "$tmp/$name.out" | sed 's/[0-9]*$/PORT/')"
  else nok "$name started" "$(cat "$tmp/$name.out" "$tmp/$name.err")"; fi
}

cat >"$tmp/ws.py" <<'EOF'
# ws.py MODE PORT PATH [ARGS]: a minimal WebSocket client (RFC 6455) for the test
#   watch PORT PATH NAME [PROTO]  handshake, print the 101's header names, then
#                                 read events until NAME was ADDED (30 s bound)
#   many N PORT PATH NAME         N watch clients in threads: prints how many saw it
#   hold PORT PATH                handshake, print "open", read until killed
#   status PORT PATH [NOORIGIN]   handshake only: the status line and body of the answer
#   drop PORT PATH                send an upgrade request, close 0.5 s later unanswered
import base64, hashlib, json, os, socket, struct, sys, threading, time

def handshake(port, path, proto=None, origin=True):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n" % (path, port, key))
    if origin: req += "Origin: http://127.0.0.1\r\n"
    if proto: req += "Sec-WebSocket-Protocol: %s\r\n" % proto
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d: break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    return s, status, lines, hdrs, rest, hdrs.get("sec-websocket-accept") == accept

class Frames:
    def __init__(self, s, rest): self.s, self.buf = s, rest
    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d: raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def next(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7f
        if n == 126: n = struct.unpack(">H", self.need(2))[0]
        elif n == 127: n = struct.unpack(">Q", self.need(8))[0]
        mask = self.need(4) if b1 & 0x80 else None
        data = self.need(n)
        if mask: data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return b0 & 0x0f, data

def watch(port, path, name, proto=None, out=print):
    s, status, lines, hdrs, rest, acc = handshake(port, path, proto)
    out("status %d accept %s headers %s protocol %s" % (status, "ok" if acc else "bad",
        ",".join(sorted(h for h in hdrs if h != "date")), hdrs.get("sec-websocket-protocol", "-")))
    if status != 101: return False
    f = Frames(s, rest)
    deadline = time.time() + 30
    try:
        while time.time() < deadline:
            op, data = f.next()
            if op == 8: break
            # (a watch sends JSON frames whatever the subprotocol: base64 is for streams)
            ev = json.loads(data)
            if ev["object"]["metadata"]["name"] == name:
                out("event %s %s opcode %d" % (ev["type"], name, op))
                return ev["type"] == "ADDED"
    except (EOFError, socket.timeout, OSError) as e:
        out("ended: %r" % e)
    finally:
        s.close()
    return False

mode, args = sys.argv[1], sys.argv[2:]
if mode == "watch":
    sys.exit(0 if watch(*args) else 1)
elif mode == "many":
    n, port, path, name = int(args[0]), args[1], args[2], args[3]
    res = []
    def one():
        try: res.append(watch(port, path, name, out=lambda *_: None))
        except Exception: res.append(False)
    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts: t.start()
    print("started", flush=True)
    for t in ts: t.join()
    print(sum(res))
elif mode == "hold":
    s, status, lines, hdrs, rest, acc = handshake(args[0], args[1])
    print("open" if status == 101 else "status %d" % status, flush=True)
    s.settimeout(None)
    while s.recv(65536): pass
elif mode == "drop":
    s = socket.create_connection(("127.0.0.1", int(args[0])))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % args[1]).encode())
    time.sleep(0.5)
    s.close()
elif mode == "status":
    s, status, lines, hdrs, rest, acc = handshake(args[0], args[1], origin=len(args) < 3)
    s.settimeout(5)
    body = rest
    try:
        n = int(hdrs.get("content-length", "-1"))
        while n < 0 or len(body) < n:
            d = s.recv(65536)
            if not d: break
            body += d
    except socket.timeout: pass
    print("%d %s %r" % (status, hdrs.get("content-type", "-"), body))
EOF
ws() { python3 "$tmp/ws.py" "$@"; }
WS="python3 $tmp/ws.py" # in the background: $! is python itself

start ks "$KS" proxy --port=0
start kc $KC proxy --port=0
ks=$port_ks kc=$port_kc

# ------------------------------------------------- a WebSocket watch through both
rv=$($KC get --raw '/api/v1/namespaces/default/configmaps?limit=1' | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
path="/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$rv"
$WS watch "$ks" "$path" kscript-upgrade-1 >"$tmp/w.ks" 2>&1 & pids+=($!); wks=$!
$WS watch "$kc" "$path" kscript-upgrade-1 >"$tmp/w.kc" 2>&1 & pids+=($!); wkc=$!
$WS watch "$ks" "$path" kscript-upgrade-1 base64.binary.k8s.io >"$tmp/w.ks64" 2>&1 & pids+=($!); wks64=$!
$WS watch "$kc" "$path" kscript-upgrade-1 base64.binary.k8s.io >"$tmp/w.kc64" 2>&1 & pids+=($!); wkc64=$!
all_open() { for w in ks kc ks64 kc64; do grep -qs '^status' "$tmp/w.$w" || return 1; done; }
wait_for 20 all_open
$KC create configmap kscript-upgrade-1 --from-literal=a=1 >/dev/null
for w in ks kc ks64 kc64; do
  p=w$w; wait "${!p}"; rc=$?
  if [ $rc = 0 ]; then ok "$w: the WebSocket watch delivers the ConfigMap created after it started"
  else nok "$w: the WebSocket watch delivers the ConfigMap created after it started" "$(cat "$tmp/w.$w")"; fi
done
grep -q '^status 101 accept ok ' "$tmp/w.ks" && ok "kscript proxy: 101 with a valid Sec-WebSocket-Accept" || nok "kscript proxy: 101" "$(cat "$tmp/w.ks")"
is "the same handshake and event through both proxies" "$(cat "$tmp/w.ks")" "$(cat "$tmp/w.kc")"
is "the same with base64.binary.k8s.io" "$(cat "$tmp/w.ks64")" "$(cat "$tmp/w.kc64")"
grep -q 'protocol base64.binary.k8s.io' "$tmp/w.ks64" && ok "the subprotocol is negotiated through the tunnel" || nok "subprotocol" "$(cat "$tmp/w.ks64")"

# ------------------------------------------------ rejections and other answers
pod=backend-pod
a=$(ws status "$ks" "/api/v1/namespaces/default/pods/$pod/exec?command=ls&stdout=true")
b=$(ws status "$kc" "/api/v1/namespaces/default/pods/$pod/exec?command=ls&stdout=true")
is "an upgrade to pods/NAME/exec is refused as kubectl proxy does" "$a" "$b"
is "... 403 Forbidden\\n" "$a" "403 text/plain; charset=utf-8 b'Forbidden\\n'"
a=$(ws status "$ks" "/api/v1/namespaces/default/pods/$pod/attach" ); b=$(ws status "$kc" "/api/v1/namespaces/default/pods/$pod/attach")
is "an upgrade to pods/NAME/attach is refused as kubectl proxy does" "$a" "$b"
a=$(ws status "$ks" "$path" noorigin); b=$(ws status "$kc" "$path" noorigin)
is "a non-101 answer (no Origin: the API server's 403) is forwarded as kubectl proxy does" "${a%% *}" "${b%% *}"
is "... as a normal response" "${a%% *}" 403
# a plain request on the same proxy
is "a plain request on the same proxy still works" "$(curl -s "http://127.0.0.1:$ks/version")" "$(curl -s "http://127.0.0.1:$kc/version")"

# an API server that cannot be reached: 500 with the error (kubectl proxy's too)
start ksbad "$KS" proxy --port=0 -s https://127.0.0.1:1 --insecure-skip-tls-verify
start kcbad $KC proxy --port=0 -s https://127.0.0.1:1 --insecure-skip-tls-verify
a=$(ws status "$port_ksbad" "$path"); b=$(ws status "$port_kcbad" "$path")
is "an unreachable upstream: the same status as kubectl proxy's" "${a%% *}" "${b%% *}"
case "$a" in "500 "*"GET https://127.0.0.1:1/api/v1/namespaces/default/configmaps?watch=true"*connect*) ok "... 500 with the error text" ;; *) nok "... 500 with the error text" "$a" ;; esac

# a Lua filter sees req.upgrade and can refuse upgrades alone
start ksf "$KS" proxy --port=0 --on-request 'if req.upgrade then return 418, "no upgrades here" end'
is "--on-request sees req.upgrade: its answer" "$(ws status "$port_ksf" "$path")" "418 text/plain; charset=utf-8 b'no upgrades here\\n'"
is "... and a plain request through it still passes" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_ksf/version")" 200

# -------------------------------------- a client that closes: the watch ends upstream
watches() {
  curl -s "http://127.0.0.1:$kc/metrics" | awk '/^apiserver_longrunning_requests\{/ && /resource="configmaps"/ && /scope="namespace"/ && /verb="WATCH"/ {s += $2} END {print s + 0}'
}
count_is() { [ "$(watches)" -eq "$1" ]; }
base=$(watches)
$WS hold "$ks" "/api/v1/namespaces/default/configmaps?watch=true" >"$tmp/hold" 2>&1 & pids+=($!); hold=$!
wait_for 20 grep -qs open "$tmp/hold"
wait_for 20 count_is $((base + 1)) && ok "the WebSocket watch is open on the API server ($base + 1)" || nok "WebSocket watch counted" "base $base now $(watches)" "$(cat "$tmp/hold")"
kill "$hold" 2>/dev/null
wait_for 15 count_is "$base" && ok "the client closing its socket ends the upstream watch (back to $base)" || nok "client close ends the upstream watch" "base $base now $(watches)"

# ------------------------------------------------ 20 concurrent WebSocket watches
fds_before=$(ls /proc/$pid_ks/fd | wc -l)
rv=$($KC get --raw '/api/v1/namespaces/default/configmaps?limit=1' | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
$WS many 20 "$ks" "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$rv" kscript-upgrade-2 >"$tmp/many" 2>&1 & pids+=($!); many=$!
wait_for 20 grep -qs started "$tmp/many"
wait_for 30 count_is $((base + 20)) || nok "20 watches open upstream" "base $base now $(watches)"
$KC create configmap kscript-upgrade-2 --from-literal=a=1 >/dev/null
wait "$many"
is "20 concurrent WebSocket watches each see the event" "$(tail -1 "$tmp/many")" 20
wait_for 15 count_is "$base" && ok "... and all 20 end upstream when their clients close" || nok "20 watches ended" "base $base now $(watches)"

# no descriptor left behind: tunnels, refused and non-101 upgrades, plain requests
for _ in 1 2 3; do ws status "$ks" "$path" noorigin >/dev/null; ws status "$ks" "/api/v1/namespaces/default/pods/$pod/exec" >/dev/null; done
fds_settled() { [ "$(ls /proc/$pid_ks/fd | wc -l)" -le "$fds_before" ]; }
wait_for 10 fds_settled && ok "no file descriptor left behind ($fds_before open)" || nok "fd leak" "before $fds_before, now $(ls /proc/$pid_ks/fd | wc -l)" "$(ls -l /proc/$pid_ks/fd)"
kill -0 "$pid_ks" && ok "kscript proxy still running" || nok "kscript proxy still running" "$(cat "$tmp/ks.err")"
fds_bad=$(ls /proc/$pid_ksbad/fd | wc -l)
for _ in 1 2 3; do ws status "$port_ksbad" "$path" >/dev/null; done
is "a failed connect leaves no descriptor behind" "$(ls /proc/$pid_ksbad/fd | wc -l)" "$fds_bad"

# with the exec filter relaxed, kubectl exec goes through both proxies alike:
# over WebSocket (v5.channel.k8s.io: the API server answers 101 and reports
# the test kubelet's refusal on the error channel) and over SPDY (a POST
# upgrade; the refusal comes back as a non-101 answer)
start ksx "$KS" proxy --port=0 --reject-paths='^$'
start kcx $KC proxy --port=0 --reject-paths='^$'
for proto in websocket spdy; do
  wsenv=true; [ $proto = spdy ] && wsenv=false
  a=$(KUBECTL_REMOTE_COMMAND_WEBSOCKETS=$wsenv timeout 30 env -u KUBECONFIG $KC -s "http://127.0.0.1:$port_ksx" exec "$pod" -- echo hi 2>&1 | head -3)
  b=$(KUBECTL_REMOTE_COMMAND_WEBSOCKETS=$wsenv timeout 30 env -u KUBECONFIG $KC -s "http://127.0.0.1:$port_kcx" exec "$pod" -- echo hi 2>&1 | head -3)
  if [ "$a" = "$b" ] && [ -n "$a" ]; then ok "kubectl exec over $proto: the same through both proxies ($(head -1 <<<"$a" | cut -c1-60))"
  else nok "kubectl exec over $proto: the same through both proxies" "kscript: $a" "kubectl: $b"; fi
done

# what goes upstream, seen by an upstream in the same kscript process that
# answers with the request it got (ksh.server), behind k8s.proxy_server:
# the upgrade headers, the credentials, a repeated header one line each (Go
# reads X-Stream-Protocol-Version as a list: joined, exec over SPDY fails)
cat >"$tmp/hdr.lua" <<'EOF_LUA'
local server = require "ksh.server"
local loop = require "ksh.loop"
local http = require "ksh.http"
-- an upstream that answers every request with the header lines it got
local up = assert(server.listen{port = 0})
loop.spawn(function()
  while true do
    local q = up:accept()
    if not q then break end
    local m, target, hl = q:info()
    local lines = { m .. " " .. target }
    for i = 1, #hl, 2 do lines[#lines + 1] = hl[i] .. ": " .. hl[i + 1] end
    local body = table.concat(lines, "\n") .. "\n"
    q:respond(200, { "Content-Type: text/plain" }, #body)
    q:write(body)
    q:finish()
    q:close()
  end
end)
local k = assert(k8s.connect{server = "http://127.0.0.1:" .. up:port(), token = "T0K"})
local p = assert(k8s.proxy_server{client = k, port = 0})
p:start()
local base = "http://127.0.0.1:" .. p:port()
local r = assert(http.request{url = base .. "/api/v1/x?a=1", headers = {"Connection: Upgrade", "Upgrade: SPDY/3.1",
  "X-Stream-Protocol-Version: v5.channel.k8s.io", "X-Stream-Protocol-Version: v4.channel.k8s.io"}})
print(r.status)
io.write(r.body)
local r2 = assert(http.request{url = base .. "/api/v1/y", headers = {"X-Stream-Protocol-Version: a", "X-Stream-Protocol-Version: b"}})
print(r2.status)
io.write(r2.body)
p:close()
up:close()
EOF_LUA
"$KS" "$tmp/hdr.lua" >"$tmp/hdr.out" 2>&1
want=$'200\nGET /api/v1/x?a=1\nAuthorization: Bearer T0K\nX-Stream-Protocol-Version: v5.channel.k8s.io\nX-Stream-Protocol-Version: v4.channel.k8s.io\nConnection: Upgrade\nUpgrade: SPDY/3.1\n200\nGET /api/v1/y\nAuthorization: Bearer T0K\nX-Stream-Protocol-Version: a\nX-Stream-Protocol-Version: b'
is "k8s.proxy_server: an upgrade goes upstream with its headers, credentials, repeated headers one line each (a plain request too)" \
  "$(grep -E '^(200|GET|Authorization|X-Stream|Connection|Upgrade)' "$tmp/hdr.out")" "$want"

# a client that leaves while the upstream has not answered (a server that
# accepts TCP and never speaks TLS): the attempt is dropped, nothing leaks
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); print(s.getsockname()[1], flush=True); time.sleep(600)' >"$tmp/mute" & pids+=($!)
wait_for 10 grep -qs . "$tmp/mute"
start ksmute "$KS" proxy --port=0 -s "https://127.0.0.1:$(cat "$tmp/mute")" --insecure-skip-tls-verify
fds_mute=$(ls /proc/$pid_ksmute/fd | wc -l)
for _ in 1 2 3 4 5; do ws drop "$port_ksmute" "$path"; done
fds_mute_settled() { [ "$(ls /proc/$pid_ksmute/fd | wc -l)" -le "$fds_mute" ]; }
wait_for 10 fds_mute_settled && ok "clients leaving before the upstream answered leave no descriptor behind" || nok "fd leak on abandoned upgrades" "before $fds_mute, now $(ls /proc/$pid_ksmute/fd | wc -l)" "$(ls -l /proc/$pid_ksmute/fd)"
is "... and the proxy still answers" "$(ws status "$port_ks" "$path" noorigin | cut -d' ' -f1)" 403

# --keepalive: the TCP keep-alive period of an upgraded connection to the API
# server, as kubectl proxy sets it on its upgrade dialer (Go's net.Dialer: 0
# and unset mean 15 s, whatever kubectl's help says); read from the kernel
# (ss: the keep-alive timer of each proxy's sockets to the API server), both
# proxies in this run, each holding one WebSocket watch open
apiport=${KSCRIPT_TEST_APISERVER##*:}
# ka_min PID: the smallest keep-alive timer, in seconds, of PID's connections to the API server
ka_min() {
  ss -tnpoH state established "( dport = :$apiport )" 2>/dev/null |
    awk -v pid="pid=$1," 'index($0, pid) && match($0, /timer:\(keepalive,[^,]*/) {
      # ss writes 4868 ms as "4.868ms", 14 s as "14sec", 90 s as "1min30sec"
      f = substr($0, RSTART + 17, RLENGTH - 17); v = 0
      if (f ~ /^[0-9]+min/) { v = 60 * int(f + 0); sub(/^[0-9]+min/, "", f) }
      if (f ~ /^[0-9]+(\.|sec)/) { v += int(f + 0); sub(/^[0-9]+(\.|sec)/, "", f) }
      if (f ~ /^[0-9]+ms$/) v += (f + 0) / 1000
      if (m == "" || v < m) m = v } END { print m }'
}
ka_within() { local v; v=$(ka_min "$1"); [ -n "$v" ] && awk -v v="$v" -v b="$2" 'BEGIN { exit !(v > 0 && v <= b) }'; }
start kska "$KS" proxy --port=0 --keepalive=7s
start kcka $KC proxy --port=0 --keepalive=7s
for w in kska kcka ks kc; do
  eval "p=\$port_$w pp=\$pid_$w"
  $WS hold "$p" "/api/v1/namespaces/default/configmaps?watch=true" >"$tmp/ka.$w" 2>&1 & pids+=($!); eval "ka_$w=$!"
  wait_for 20 grep -qs open "$tmp/ka.$w"
done
for w in kska kcka; do
  eval "pp=\$pid_$w"
  wait_for 10 ka_within "$pp" 7 && ok "$w --keepalive=7s: the upgraded connection probes within 7 s (timer $(ka_min "$pp") s)" ||
    nok "$w --keepalive=7s: keep-alive timer within 7 s" "$(ss -tnpoH state established "( dport = :$apiport )")"
done
for w in ks kc; do
  eval "pp=\$pid_$w"
  wait_for 10 ka_within "$pp" 15 && ok "$w without --keepalive: within 15 s (timer $(ka_min "$pp") s)" ||
    nok "$w without --keepalive: keep-alive timer within 15 s" "$(ss -tnpoH state established "( dport = :$apiport )")"
done
for w in kska kcka ks kc; do eval "kill \$ka_$w" 2>/dev/null; done
# a bad duration: refused as kubectl refuses it
a=$("$KS" proxy --port=0 --keepalive=soon 2>&1); ra=$?
b=$($KC proxy --port=0 --keepalive=soon 2>&1); rb=$?
case "$a" in *'invalid argument "soon" for "--keepalive" flag'*) [ $ra -ne 0 ] && [ $rb -ne 0 ] && case "$b" in *'invalid argument "soon" for "--keepalive" flag'*) true ;; *) false ;; esac ;; *) false ;; esac &&
  ok "--keepalive=soon: refused by both ($ra, $rb)" || nok "--keepalive=soon refused" "kscript ($ra): $a" "kubectl ($rb): $b"

finish
