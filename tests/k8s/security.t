#!/usr/bin/env bash
# Secrets stay secret and TLS stays verified, against the real API server:
#  - TLS: a wrong CA, a name the certificate does not carry, an expired
#    certificate: each fails with err.kind "tls" (kubectl fails too);
#    --insecure-skip-tls-verify works only when asked, with a warning;
#  - a planted token, client key and bearer header never appear in -v logs,
#    error messages or files left in TMPDIR;
#  - the process is not dumpable (no core dump, no ptrace by others):
#    run as nobody, its /proc files belong to root, a plain program's do not;
#  - a kubeconfig with credentials that others can read is warned about
#    (kscript's own warning: kubectl says nothing); 0600 is quiet.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" \
  KSCRIPT_TEST_APISERVER KSCRIPT_TEST_CA KSCRIPT_TEST_TOKEN KSCRIPT_TEST_ADMIN_CERT KSCRIPT_TEST_ADMIN_KEY
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
. "$top/tests/lib/certs.sh"
mkcerts "$tmp/c"
API=$KSCRIPT_TEST_APISERVER TOK=$KSCRIPT_TEST_TOKEN

mk_kc() { # FILE SERVER CA [TLS-SERVER-NAME]: a kubeconfig with the test token
  { echo "apiVersion: v1"; echo "kind: Config"; echo "clusters:"; echo "- name: c"
    echo "  cluster: {server: \"$2\", certificate-authority: \"$3\"${4:+, tls-server-name: $4}}"
    echo "users: [{name: u, user: {token: \"$TOK\"}}]"
    echo "contexts: [{name: c, context: {cluster: c, user: u}}]"; echo "current-context: c"; } > "$1"
  chmod 600 "$1"
}
kind_of() { # KUBECONFIG: the err.kind of a GET /version through it
  "$KS" -e "local k = assert(k8s.connect{kubeconfig = '$1'}); local v, err = k:get('/version'); print(v and 'ok' or err.kind); io.stderr:write(err and err.message or '', '\n')" 2>"$tmp/kerr"
}
mk_kc "$tmp/good" "$API" "$KSCRIPT_TEST_CA"
is "control: the right CA and name work" "$(kind_of "$tmp/good")" ok
mk_kc "$tmp/wrongca" "$API" "$tmp/c/other-ca.crt"
is "wrong CA: kind tls" "$(kind_of "$tmp/wrongca")" tls
KUBECONFIG=$tmp/wrongca "$KC" get --raw /version >/dev/null 2>&1
status "wrong CA: kubectl refuses too" $((! $?))
grep -q "$TOK" "$tmp/kerr" && nok "the TLS error does not show the token" || ok "the TLS error does not show the token"
mk_kc "$tmp/wrongname" "$API" "$KSCRIPT_TEST_CA" not-the-apiserver.example
is "a name not in the certificate: kind tls" "$(kind_of "$tmp/wrongname")" tls
KUBECONFIG=$tmp/wrongname "$KC" get --raw /version >/dev/null 2>&1
status "wrong name: kubectl refuses too" $((! $?))
python3 "$top/tests/lib/httpd.py" "$tmp/port" --tls "$tmp/c/expired.crt" "$tmp/c/expired.key" & srv=$!
wait_for 20 test -s "$tmp/port" || nok "the expired-certificate server starts"
EXP=https://127.0.0.1:$(cat "$tmp/port")
mk_kc "$tmp/expired" "$EXP" "$tmp/c/ca.crt"
is "an expired certificate: kind tls" "$(kind_of "$tmp/expired")" tls
grep -qi "expired" "$tmp/kerr" && ok "the message says expired: $(head -c 160 "$tmp/kerr")" || nok "the message says expired" "$(cat "$tmp/kerr")"
out=$("$KS" -e "local k = assert(k8s.connect{server = '$API', token = '$TOK', insecure_skip_tls_verify = true}); print(assert(k:get('/version')).major)" 2>"$tmp/err")
is "--insecure-skip-tls-verify when asked: it works" "$out" 1
grep -q "warning: TLS certificate verification is disabled" "$tmp/err" && ok "and warns" || nok "and warns" "$(cat "$tmp/err")"

# planted secrets: a token and a client key in a 0600 kubeconfig
key_b64=$(base64 -w0 "$KSCRIPT_TEST_ADMIN_KEY")
cert_b64=$(base64 -w0 "$KSCRIPT_TEST_ADMIN_CERT")
key_line=$(sed -n 2p "$KSCRIPT_TEST_ADMIN_KEY")
umask 077
cat > "$tmp/kc" <<K
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$API", certificate-authority: "$KSCRIPT_TEST_CA"}
users:
- name: tok
  user: {token: "$TOK"}
- name: cert
  user: {client-certificate-data: "$cert_b64", client-key-data: "$key_b64"}
contexts:
- name: tok
  context: {cluster: c, user: tok}
- name: cert
  context: {cluster: c, user: cert}
current-context: tok
K
umask 022
mkdir -p "$tmp/t"
for ctx in tok cert; do
  TMPDIR=$tmp/t KUBECONFIG=$tmp/kc "$KS" -v get pods -A --context $ctx >"$tmp/out" 2>"$tmp/log"; rc=$?
  status "-v get pods as user $ctx works" $rc
  grep -q "GET .*/api/v1/pods" "$tmp/log" && ok "-v logs the request ($ctx)" || nok "-v logs the request ($ctx)" "$(head -c 300 "$tmp/log")"
  if grep -qF -e "$TOK" -e "$key_line" -e "${key_b64:0:40}" -e "Bearer" "$tmp/log" "$tmp/out"; then nok "no token, key or Bearer header in the -v log ($ctx)"; else ok "no token, key or Bearer header in the -v log ($ctx)"; fi
done
# a bearer header set by hand, a request that fails: the error message
TMPDIR=$tmp/t "$KS" -v -e "
  local h = require 'ksh.http'
  local r = h.request{url = '$API/api/v1/namespaces/nope/pods/x', cacert = '$KSCRIPT_TEST_CA', any_status = true,
                           headers = {Authorization = 'Bearer $TOK'}}
  print(r and r.status)
  local _, e2 = h.request{url = 'https://127.0.0.1:9/x', headers = {Authorization = 'Bearer $TOK'}}
  print(e2.kind, e2.message)
  local k = assert(k8s.connect{server = 'https://127.0.0.1:9', token = '$TOK'})
  local _, e3 = k:get('/version'); print(e3.kind, e3.message)
  assert(k8s.connect{kubeconfig = '$tmp/kc'}):get('pods', 'does-not-exist', {namespace = 'default'})
  local _, e4 = assert(k8s.connect{kubeconfig = '$tmp/kc'}):get('pods', 'does-not-exist', {namespace = 'default'})
  print(e4.kind, e4.message)" >"$tmp/out" 2>"$tmp/log"
grep -q "^404$" "$tmp/out" && ok "a hand-set bearer header authenticates (404, not 401)" || nok "a hand-set bearer header authenticates" "$(cat "$tmp/out")"
grep -q "^refused" "$tmp/out" && grep -q "^notfound" "$tmp/out" && ok "errors of the right kinds" || nok "errors of the right kinds" "$(cat "$tmp/out")"
if grep -qF -e "$TOK" -e "Bearer" "$tmp/out" "$tmp/log"; then nok "no token or Bearer header in error messages or -v logs" "$(grep -F -e "$TOK" -e Bearer "$tmp/out" "$tmp/log" | head -3)"; else ok "no token or Bearer header in error messages or -v logs"; fi
left=$(find "$tmp/t" -type f | head -5)
if [ -z "$left" ] || ! grep -rqF -e "$TOK" -e "$key_line" "$tmp/t"; then ok "no temp file holds a secret ($(find "$tmp/t" -type f | wc -l) files left)"; else nok "no temp file holds a secret" "$left"; fi

# not dumpable: as nobody, /proc/PID/* of kscript belongs to root; of sleep to nobody
setpriv --reuid=65534 --regid=65534 --clear-groups "$KS" -e 'ksh.sleep(10)' & kp=$!
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 10 & sp=$!
# wait until both run as nobody (setpriv has exec'd), then look
wait_for 10 grep -q '^Uid:.*65534' /proc/$sp/status
wait_for 10 grep -q '^Uid:.*65534' /proc/$kp/status
wait_for 10 grep -q 'kscript' /proc/$kp/cmdline
wait_for 10 bash -c "[ \"\$(stat -c %u /proc/$kp/environ)\" = 0 ]"
sleep_owner=$(stat -c %u /proc/$sp/environ 2>/dev/null)
ks_owner=$(stat -c %u /proc/$kp/environ 2>/dev/null)
kill $kp $sp 2>/dev/null; wait $kp $sp 2>/dev/null
is "a plain program run as nobody owns its /proc files (the check can tell)" "$sleep_owner" 65534
is "kscript run as nobody is not dumpable: its /proc files belong to root" "$ks_owner" 0

# a kubeconfig with credentials that others can read
cp "$tmp/kc" "$tmp/kc-open"; chmod 644 "$tmp/kc-open"
KUBECONFIG=$tmp/kc-open "$KS" get ns default -o name >/dev/null 2>"$tmp/err"
grep -q "warning: kubeconfig $tmp/kc-open holds credentials and is readable by others (mode 0644)" "$tmp/err" \
  && ok "a 0644 kubeconfig with a token is warned about" || nok "a 0644 kubeconfig with a token is warned about" "$(cat "$tmp/err")"
KUBECONFIG=$tmp/kc-open "$KC" get ns default -o name >/dev/null 2>"$tmp/kerr2"
is "kubectl says nothing about it (the warning is kscript's own)" "$(cat "$tmp/kerr2")" ""
KUBECONFIG=$tmp/kc "$KS" get ns default -o name >/dev/null 2>"$tmp/err"
is "a 0600 kubeconfig: no warning" "$(cat "$tmp/err")" ""
finish
