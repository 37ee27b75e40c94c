#!/usr/bin/env bash
# A client certificate goes out with the chain its PEM holds and nothing
# more, as Go's client sends it: OpenSSL would otherwise add the CA from the
# verify store, and the API server then verifies the longer chain on every
# request.  openssl s_server -msg shows each Certificate message the client
# sends; its certificate_list must hold the leaf alone (DER + 3 + 2 bytes).
# Checked for libcurl (ksh.http) and for the proxy's HTTP/2 upstream
# (h2up.c), which hands over to libcurl when the server offers no h2.
set -u
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KSCRIPT:-$top/kscript}
d=$(mktemp -d "${TMPDIR:-/tmp}/kscript-chain.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$d"
}
trap cleanup EXIT
n=0; fails=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails+1)); fi; }
is() { [ "$1" = "$2" ]; ok $? "$3"; [ "$1" = "$2" ] || printf '#   got:  %s\n#   want: %s\n' "$1" "$2"; }
. "$top/tests/lib/certs.sh"
mkcerts "$d/pki"
leaf=$(openssl x509 -in "$d/pki/client.crt" -outform der | wc -c)
want=$((leaf + 5))

# start_server: s_server on a free port, -msg to $d/ss.log; sets port
start_server() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  : >"$d/ss.log"
  openssl s_server -accept "127.0.0.1:$port" -cert "$d/pki/server.crt" -key "$d/pki/server.key" \
    -CAfile "$d/pki/ca.crt" -Verify 2 -msg -www >"$d/ss.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q ACCEPT "$d/ss.log" && return 0; sleep 0.1; done
  return 1
}
# the certificate_list length of each Certificate message the client sent
lists() {
  local h
  awk '/^<<< .*Handshake.*Certificate$/ { getline; print $6 $7 $8 }' "$d/ss.log" |
    while read -r h; do echo $((16#$h)); done
}

start_server; ok $? "openssl s_server starts"
out=$("$K" -e '
  local http = require "ksh.http"
  local r, err = http.request { url = "https://127.0.0.1:'"$port"'/", cacert = "'"$d/pki/ca.crt"'",
                                cert = "'"$d/pki/client.crt"'", key = "'"$d/pki/client.key"'" }
  print(r and r.status or err.message)' 2>&1)
is "$out" 200 "a request with a client certificate (files) is answered"
is "$(lists | tr '\n' ' ')" "$want " "libcurl sends the leaf alone, not the CA the store holds"

start_server; ok $? "openssl s_server starts again"
out=$("$K" -e '
  local http = require "ksh.http"
  local function readf(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
  local r, err = http.request { url = "https://127.0.0.1:'"$port"'/", cacert_pem = readf("'"$d/pki/ca.crt"'"),
                                cert_pem = readf("'"$d/pki/client.crt"'"), key_pem = readf("'"$d/pki/client.key"'") }
  print(r and r.status or err.message)' 2>&1)
is "$out" 200 "a request with a client certificate (PEM data) is answered"
is "$(lists | tr '\n' ' ')" "$want " "libcurl sends the leaf alone with in-memory PEM too"

start_server; ok $? "openssl s_server starts for the proxy"
cat >"$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: "$d/pki/ca.crt"}
users:
- name: u
  user: {client-certificate: "$d/pki/client.crt", client-key: "$d/pki/client.key"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
EOF
KUBECONFIG=$d/kubeconfig "$K" proxy --port=0 >"$d/proxy.out" 2>"$d/proxy.err" &
pids+=($!)
pport=
for _ in $(seq 100); do
  pport=$(sed -n 's/^Starting to serve on .*:\([0-9][0-9]*\)$/\1/p' "$d/proxy.out")
  [ -n "$pport" ] && break
  sleep 0.1
done
[ -n "$pport" ]; ok $? "kscript proxy starts"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$pport/")
is "$code" 200 "the proxy's request is answered (h2up's handshake, then libcurl's: no h2 there)"
got=$(lists | tr '\n' ' ')
is "$got" "$want $want " "both of the proxy's connections send the leaf alone"

echo "1..$n"
[ "$fails" = 0 ]
