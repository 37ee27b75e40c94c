#!/usr/bin/env bash
# The HTTP core against real local servers: Python's http.server (plain, TLS,
# client-certificate TLS) and nginx (HTTP/2 over TLS and h2c).  The checks
# themselves are in http.lua, run by the kscript binary under test.
set -eu
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
KSCRIPT=${KSCRIPT:-$top/kscript}
d=$(mktemp -d "${TMPDIR:-/tmp}/kscript-http.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$d/nginx.pid" ] && kill "$(cat "$d/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$d"
}
trap cleanup EXIT
. "$top/tests/lib/certs.sh"
mkcerts "$d/pki"

start_py() { # name args...
  local name=$1; shift
  python3 "$top/tests/lib/httpd.py" "$d/$name.port" "$@" 2>"$d/$name.log" &
  pids+=($!)
}
start_py plain
start_py tls --tls "$d/pki/server.crt" "$d/pki/server.key"
start_py mtls --tls "$d/pki/server.crt" "$d/pki/server.key" --client-ca "$d/pki/ca.crt"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
H2C=$(freeport); H2=$(freeport)
mkdir -p "$d/www"; chmod 755 "$d" "$d/www"
python3 - "$d/www/big.txt" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    line = b'{"k":"' + b"v" * 1000 + b'"}\n'
    f.write(line * (24 * 1024))
import os; os.chmod(sys.argv[1], 0o644)
PY
cat > "$d/nginx.conf" <<NGX
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $d/tmp-body;
  proxy_temp_path $d/tmp-proxy;
  fastcgi_temp_path $d/tmp-fcgi;
  uwsgi_temp_path $d/tmp-uwsgi;
  scgi_temp_path $d/tmp-scgi;
  http2_max_concurrent_streams 128;
  server {
    listen 127.0.0.1:$H2C http2;
    location = /conn { return 200 "\$connection\n"; }
    location / { root $d/www; }
  }
  server {
    listen 127.0.0.1:$H2 ssl http2;
    ssl_certificate $d/pki/server.crt;
    ssl_certificate_key $d/pki/server.key;
    location = /conn { return 200 "\$connection\n"; }
    location / { root $d/www; }
  }
}
NGX
if ! nginx -c "$d/nginx.conf" -p "$d" 2>"$d/nginx-start.log"; then
  # a missing or failing server is a failure, never a skip
  echo "not ok 1 - nginx starts (HTTP/2 and TLS peer)"
  sed 's/^/#   /' "$d/nginx-start.log"
  echo "1..1"
  exit 1
fi

for n in plain tls mtls; do
  for _ in $(seq 100); do [ -s "$d/$n.port" ] && break; sleep 0.05; done
  [ -s "$d/$n.port" ] || { echo "Bail out! $n server did not start: $(cat "$d/$n.log")"; exit 1; }
done
export T_PLAIN=$(cat "$d/plain.port") T_TLS=$(cat "$d/tls.port") T_MTLS=$(cat "$d/mtls.port")
export T_H2C=$H2C T_H2=$H2 T_PKI=$d/pki T_CLOSED=$(freeport)
"$KSCRIPT" "$top/tests/e2e/http.lua"
