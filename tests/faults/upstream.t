#!/usr/bin/env bash
# Faults of the peer kscript talks to (small fake TCP servers here ARE the
# fault; the gRPC one relays a real etcd):
#  - a slow-loris upstream: an "API server" that accepts and answers one
#    byte a second (status line and headers never finished), and one that
#    accepts and says nothing: a request fails with kind timeout at its
#    request_timeout (kubectl --request-timeout likewise fails), never later;
#  - half a gRPC frame, then a stall: a relay in front of the shared etcd
#    forwards its HTTP/2 frames until the first DATA frame, of which it
#    sends half, then nothing (connection kept open): the etcd client fails
#    with kind timeout at its configured timeout, never hangs, never returns
#    a partial answer; `kscript get` through it exits non-zero, as etcdctl
#    does with its --command-timeout;
#  - a stream reset before its answer over a working TLS connection: a relay
#    in front of the API server (TLS both ways, HTTP/2) turns the first
#    response's HEADERS into RST_STREAM(INTERNAL_ERROR): the request fails
#    with kind closed (the stream was dropped), not tls; kubectl fails too.
# (A hung exec credential plugin: tests/k8s/kubeconfig.t, kind auth at
# EXEC_TIMEOUT, the plugin and its child killed.)
# Needs `eval "$(tests/env/up)"` (or the shared env); FAILS without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_TEST_ETCD
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# --- the fake upstreams: loris (a byte a second) and mute (nothing)
cat > "$tmp/fake.py" <<'PY'
import socket, sys, threading, time
mode, portfile = sys.argv[1], sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
open(portfile + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
def serve(c):
    try:
        c.recv(65536)
        if mode == "loris":
            for b in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 100000:
                c.send(bytes([b])); time.sleep(1)
        else:
            time.sleep(3600)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$tmp/fake.py" loris "$tmp/loris.port" & pids+=($!)
python3 "$tmp/fake.py" mute "$tmp/mute.port" & pids+=($!)
wait_for 20 test -s "$tmp/loris.port" -a -s "$tmp/mute.port" || nok "the fake upstreams start"
for m in loris mute; do
  port=$(cat "$tmp/$m.port")
  s=$(date +%s%N)
  out=$("$KS" -e "local k = assert(k8s.connect{server = 'http://127.0.0.1:$port', request_timeout = 2})
    local r, err = k:get('/version'); print(r and 'answered' or err.kind)" 2>&1)
  ms=$(ms_since "$s")
  is "$m upstream: the request fails with kind timeout" "$out" timeout
  [ "$ms" -ge 1500 ] && [ "$ms" -lt 6000 ] && ok "$m upstream: at its request_timeout of 2 s ($ms ms)" \
    || nok "$m upstream: at its request_timeout of 2 s" "$ms ms"
  s=$(date +%s%N)
  printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:%s"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' "$port" >"$tmp/$m.kc"
  KUBECONFIG=$tmp/$m.kc timeout 60 "$KS" get pods --request-timeout 2s >/dev/null 2>"$tmp/err"; rc=$?
  ms=$(ms_since "$s")
  [ $rc = 1 ] && [ "$ms" -lt 15000 ] && grep -qi "timeout\|timed out\|too slow" "$tmp/err" \
    && ok "$m upstream: kscript get exits 1 in $ms ms, saying it timed out ($(head -c 120 "$tmp/err"))" \
    || nok "$m upstream: kscript get fails at --request-timeout, saying it timed out" "rc $rc after $ms ms: $(cat "$tmp/err")"
  KUBECONFIG=$tmp/$m.kc timeout 60 "$KC" --request-timeout 2s get pods >/dev/null 2>&1; kc=$?
  [ $kc != 0 ] && [ $kc != 124 ]; status "$m upstream: kubectl fails at --request-timeout too (exit $kc)" $?
done

# --- the relay for the next two faults: HTTP/2 frames from the server pass
# whole except where MODE says
#   half:  (h2c, to etcd) the first DATA frame with a payload goes half
#          through, then nothing more, both connections kept open;
#   reset: (TLS both ways, ALPN h2, to the API server) the first response
#          HEADERS becomes RST_STREAM(INTERNAL_ERROR), that stream's later
#          frames are dropped
cat > "$tmp/relay.py" <<'PY'
import socket, ssl, sys, threading, os
mode, up, portfile = sys.argv[1:4]
up_host, up_port = up.rsplit(":", 1)
if mode == "reset":
    cert, key, ca = sys.argv[4:7]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(cert, key); sctx.set_alpn_protocols(["h2"])
    cctx = ssl.create_default_context(cafile=ca); cctx.set_alpn_protocols(["h2"])
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(portfile + ".tmp", "w").write(str(s.getsockname()[1])); os.rename(portfile + ".tmp", portfile)
def c2s(c, u):
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            u.sendall(d)
    except OSError: pass
def s2c(c, u):
    buf, reset = b"", set()
    try:
        while True:
            d = u.recv(65536)
            if not d: break
            buf += d
            while len(buf) >= 9:
                ln = int.from_bytes(buf[0:3], "big"); typ = buf[3]
                sid = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                if len(buf) < 9 + ln: break
                frame, buf = buf[:9 + ln], buf[9 + ln:]
                if mode == "half" and typ == 0 and ln > 1:
                    c.sendall(frame[:9 + ln // 2])
                    open(portfile + ".cut", "w").write("%d\n" % ln)
                    threading.Event().wait()   # stall forever
                if mode == "reset" and sid and typ == 1 and not reset:
                    reset.add(sid)
                    c.sendall((4).to_bytes(3, "big") + bytes([3, 0]) + sid.to_bytes(4, "big") + (2).to_bytes(4, "big"))
                    open(portfile + ".reset", "w").write("%d\n" % sid)
                    continue
                if sid in reset: continue
                c.sendall(frame)
    except OSError: pass
while True:
    c, _ = s.accept()
    try:
        if mode == "reset": c = sctx.wrap_socket(c, server_side=True)
        u = socket.create_connection((up_host, int(up_port)))
        if mode == "reset": u = cctx.wrap_socket(u, server_hostname=up_host)
    except (OSError, ssl.SSLError):
        c.close(); continue
    threading.Thread(target=c2s, args=(c, u), daemon=True).start()
    threading.Thread(target=s2c, args=(c, u), daemon=True).start()
PY

# --- half a gRPC frame, then a stall
ep=${KSCRIPT_TEST_ETCD#http://}
python3 "$tmp/relay.py" half "$ep" "$tmp/relay.port" & pids+=($!)
wait_for 20 test -s "$tmp/relay.port" || nok "the relay starts"
rport=$(cat "$tmp/relay.port")
s=$(date +%s%N)
out=$(timeout 60 "$KS" -e "local e = require('etcd').connect{endpoints = 'http://127.0.0.1:$rport', timeout = 3}
  local r, err = e:get('/registry/namespaces/', {prefix = true, limit = 5})
  print(r and ('answered ' .. #r.kvs) or err.kind)" 2>&1); rc=$?
ms=$(ms_since "$s")
[ -s "$tmp/relay.port.cut" ] && ok "the relay cut a DATA frame of $(cat "$tmp/relay.port.cut") bytes in half" \
  || nok "the relay cut a DATA frame in half"
is "half a gRPC frame then a stall: kind timeout, not a partial answer" "$out" timeout
[ $rc = 0 ] && [ "$ms" -lt 10000 ] && ok "at the client's timeout of 3 s ($ms ms)" || nok "at the client's timeout of 3 s" "rc $rc, $ms ms"
rm -f "$tmp/relay.port.cut"
s=$(date +%s%N)
timeout 60 "$KS" etcd --endpoints "http://127.0.0.1:$rport" --command-timeout 3s get /registry/namespaces/ --prefix --keys-only >/dev/null 2>"$tmp/err"; rc=$?
ms=$(ms_since "$s")
# (the idle timeout is timed by kscript: curl's low-speed check, used before,
# averaged over several seconds and gave up 9 to 10 s after the stall)
[ $rc != 0 ] && [ $rc != 124 ] && [ "$ms" -lt 6000 ] && ok "kscript etcd get through it exits $rc in $ms ms ($(head -c 120 "$tmp/err"))" \
  || nok "kscript etcd get through it fails at --command-timeout" "rc $rc after $ms ms: $(cat "$tmp/err")"

# --- a stream reset before its answer, over TLS
pki=$(dirname "$KSCRIPT_TEST_CA")
python3 "$tmp/relay.py" reset "${KSCRIPT_TEST_APISERVER#https://}" "$tmp/reset.port" "$pki/apiserver.crt" "$pki/apiserver.key" "$KSCRIPT_TEST_CA" & pids+=($!)
wait_for 20 test -s "$tmp/reset.port" || nok "the resetting relay starts"
xport=$(cat "$tmp/reset.port")
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:%s", certificate-authority: "%s"}}]\nusers: [{name: u, user: {token: "%s"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n' \
  "$xport" "$KSCRIPT_TEST_CA" "$KSCRIPT_TEST_TOKEN" >"$tmp/reset.kc"
chmod 600 "$tmp/reset.kc"
out=$(timeout 60 "$KS" -e "local k = assert(k8s.connect{kubeconfig = '$tmp/reset.kc', request_timeout = 10})
  local r, err = k:get('/version'); print(r and 'answered' or (err.kind .. ': ' .. tostring(err)))" 2>&1)
[ -s "$tmp/reset.port.reset" ] && ok "the relay reset stream $(head -1 "$tmp/reset.port.reset") before its answer" \
  || nok "the relay reset a stream" "$out"
case $out in
  closed:*) ok "a stream reset before its answer over TLS: kind closed ($out)" ;;
  *) nok "a stream reset before its answer over TLS: kind closed, not tls" "$out" ;;
esac
rm -f "$tmp/reset.port.reset"
KUBECONFIG=$tmp/reset.kc timeout 60 "$KC" --request-timeout 10s get --raw /version >/dev/null 2>"$tmp/err"; kc=$?
[ $kc != 0 ] && [ $kc != 124 ]; status "kubectl through it fails too (exit $kc: $(head -c 120 "$tmp/err"))" $?
finish
