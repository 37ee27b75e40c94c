#!/usr/bin/env bash
# Kubeconfig handling against its peer, the real kubectl, on the same files:
#  - `config view` (plain, --raw, -o json, --minify, --flatten), get-contexts
#    and current-context byte-compared over several kubeconfigs: merged
#    KUBECONFIG lists (with a missing file), embedded data vs files, tokens,
#    exec users, JSON, the environment's own kubeconfig, none at all;
#  - `config use-context` / `set-context` run by kscript on one copy and by
#    kubectl on another: what kubectl then reads back from both is the same;
#  - exec plugins as child processes on the event loop: two slow plugins and a
#    timer run concurrently, a hung plugin hits the timeout and is killed,
#    Ctrl-C kills a running plugin (process group included), the credential
#    never lands in a temp file or on stderr under -v.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
umask 077 # kubeconfigs with credentials are private, as kubectl writes them (kscript warns otherwise)
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" \
  KSCRIPT_TEST_APISERVER KSCRIPT_TEST_CA KSCRIPT_TEST_EXEC_TOKEN KSCRIPT_TEST_TOKEN
bgpid=
cleanup() { [ -n "$bgpid" ] && kill -9 "$bgpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ENVKC=$KUBECONFIG
srv=$KSCRIPT_TEST_APISERVER

# ------------------------------------------------------------ fixtures
mkdir -p "$tmp/a/sub" "$tmp/b" "$tmp/cwd"
b64() { printf '%s' "$1" | base64 -w0; }
cat > "$tmp/a/config" <<EOF
apiVersion: v1
kind: Config
# a comment kubectl drops
clusters:
- name: files
  cluster:
    server: $srv
    certificate-authority: sub/../ca.crt
    tls-server-name: kubernetes
- name: data
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: $(b64 "-----BEGIN CERTIFICATE-----
not really
-----END CERTIFICATE-----
")
    proxy-url: http://127.0.0.1:3128
    disable-compression: true
- name: insecure
  cluster: {server: "https://127.0.0.2", insecure-skip-tls-verify: true}
users:
- name: tok
  user: {token: planted-token-1234567890}
- name: certfiles
  user:
    client-certificate: ./client.crt
    client-key: /etc/kscript/client.key
- name: certdata
  user:
    client-certificate-data: $(b64 cert)
    client-key-data: $(b64 key)
- name: basic
  user: {username: bob, password: hunter2, as: alice, as-groups: [g1, g2], as-user-extra: {scopes: [a, b]}}
- name: execbeta
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./plugin.sh
      args: [--flag, "x y"]
      env: [{name: A, value: "1"}, {name: B, value: ""}]
      installHint: install the plugin
      provideClusterInfo: true
- name: execpath
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: kubelogin, interactiveMode: Never}
- name: provider
  user:
    auth-provider: {name: oidc, config: {idp-issuer-url: "https://issuer", client-id: kid}}
- name: tokfile
  user: {tokenFile: tok.txt}
contexts:
- name: one
  context: {cluster: files, user: tok, namespace: ns1}
- name: two
  context: {cluster: data, user: certdata}
- name: three
  context: {cluster: insecure, user: basic, namespace: "yes"}
- name: four
  context: {cluster: files, user: execbeta}
- name: five
  context: {cluster: data, user: execpath}
- name: six
  context: {cluster: files, user: provider}
- name: seven
  context: {cluster: files, user: tokfile}
- name: eight
  context: {cluster: files, user: certfiles}
current-context: one
preferences: {}
EOF
# a second file: a cluster and a context of the same names (the first file
# wins), its own current-context, a user of its own
cat > "$tmp/b/config" <<EOF
apiVersion: v1
kind: Config
current-context: b-ctx
clusters:
- name: files
  cluster: {server: "https://shadowed.invalid"}
- name: bonly
  cluster: {server: "https://127.0.0.3:6443", certificate-authority: ca.pem}
users:
- name: bu
  user: {token: second-file-token}
contexts:
- name: one
  context: {cluster: bonly, user: bu}
- name: b-ctx
  context: {cluster: bonly, user: bu, namespace: bns}
EOF
# JSON is YAML too
cat > "$tmp/b/json.config" <<EOF
{"apiVersion": "v1", "kind": "Config", "current-context": "j",
 "clusters": [{"name": "jc", "cluster": {"server": "https://127.0.0.4", "certificate-authority-data": "$(b64 ca)"}}],
 "users": [{"name": "ju", "user": {"token": "json-token"}}],
 "contexts": [{"name": "j", "context": {"cluster": "jc", "user": "ju"}}, {"name": "k", "context": {"cluster": "jc", "user": "ju", "namespace": "kns"}}]}
EOF
# extensions everywhere (kubectl keeps them in maps: sorted by name), exec
# args [] vs null, an unknown current-context
cat > "$tmp/b/ext.config" <<EOF
apiVersion: v1
kind: Config
preferences:
  colors: true
  extensions:
  - {name: zz, extension: {b: [x, y], a: 1}}
  - {name: aa, extension: "text"}
extensions:
- name: top
  extension: {kind: Foo, apiVersion: v1, spec: {z: 1}}
clusters:
- name: c
  cluster:
    server: https://1.2.3.4
    extensions: [{name: z-ext, extension: {audience: foo}}, {name: a-ext, extension: 12}]
users:
- name: u
  user:
    as-uid: "1234"
    auth-provider: {name: gcp}
    exec: {apiVersion: client.authentication.k8s.io/v1, command: foo, env: null, args: []}
- name: empty
  user: {}
- name: quoted
  user: {token: "yes", username: "0123"}
contexts:
- name: x
  context: {cluster: c, user: u, extensions: [{name: e1, extension: "str"}]}
- name: "has space"
  context: {cluster: nope, user: nope}
current-context: missing
EOF
# flatten reads the files the paths name
echo "the ca" > "$tmp/a/ca.crt"
cat > "$tmp/b/flat.config" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.5", certificate-authority: ../a/ca.crt}
users:
- name: u
  user: {client-certificate: ../a/ca.crt, token: flat-token}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
EOF

# same ENV... -- ARGS: kscript and kubectl, stdout and exit status
same() {
  local d=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  (cd "$tmp/cwd" && env "${envs[@]}" "$KS" "$@" >"$tmp/ks.out" 2>"$tmp/ks.err"; echo "exit $?" >>"$tmp/ks.out")
  (cd "$tmp/cwd" && env "${envs[@]}" "$KC" "$@" >"$tmp/kc.out" 2>"$tmp/kc.err"; echo "exit $?" >>"$tmp/kc.out")
  if cmp -s "$tmp/ks.out" "$tmp/kc.out"; then ok "$d"; else
    nok "$d" "$(diff "$tmp/ks.out" "$tmp/kc.out" | head -12)" "kscript stderr: $(head -c 300 "$tmp/ks.err")" \
      "kubectl stderr: $(head -c 300 "$tmp/kc.err")"
  fi
}

views=("config view" "config view --raw" "config view -o json" "config view --raw -o json"
       "config view --minify" "config view --minify --raw" "config get-contexts" "config get-contexts -o name"
       "config current-context")
for setup in "a:KUBECONFIG=$tmp/a/config" "a+b:KUBECONFIG=$tmp/a/config:$tmp/b/config" \
             "b+a:KUBECONFIG=$tmp/b/config:$tmp/a/config" \
             "missing+b+a:KUBECONFIG=$tmp/none.yaml:$tmp/b/config:$tmp/a/config" \
             "relative:KUBECONFIG=../b/config:../a/config" "json:KUBECONFIG=$tmp/b/json.config" \
             "extensions:KUBECONFIG=$tmp/b/ext.config" "ext+a:KUBECONFIG=$tmp/b/ext.config:$tmp/a/config" \
             "env:KUBECONFIG=$ENVKC"; do
  name=${setup%%:*}; e=${setup#*:}
  for v in "${views[@]}"; do
    # shellcheck disable=SC2086
    same "$name: $v" "$e" -- $v
  done
done
same "a: config view --minify --context two" "KUBECONFIG=$tmp/a/config" -- config view --minify --context two
same "a: config get-contexts two one" "KUBECONFIG=$tmp/a/config" -- config get-contexts two one
same "--kubeconfig FILE: config view" "KUBECONFIG=$tmp/b/config" -- config view --kubeconfig "$tmp/a/config"
same "--kubeconfig FILE: get-contexts" "KUBECONFIG=$tmp/b/config" -- config get-contexts --kubeconfig "$tmp/a/config"
same "flatten: config view --flatten" "KUBECONFIG=$tmp/b/flat.config" -- config view --flatten
same "no kubeconfig at all: config view" "KUBECONFIG=$tmp/none.yaml" -- config view
same "no kubeconfig at all: config view -o json" "KUBECONFIG=$tmp/none.yaml" -- config view -o json
same "current-context unset: exit status" "KUBECONFIG=$tmp/none.yaml" -- config current-context
printf 'apiVersion: v1\nclusters: [\n' > "$tmp/bad1.yaml"
printf 'apiVersion: v1\nkind: Config\nclusters: notalist\n' > "$tmp/bad2.yaml"
same "malformed YAML: config view fails" "KUBECONFIG=$tmp/bad1.yaml" -- config view
same "clusters not a list: config view fails" "KUBECONFIG=$tmp/bad2.yaml" -- config view
same "malformed second file of a list: config view fails" "KUBECONFIG=$tmp/a/config:$tmp/bad1.yaml" -- config view
# a list where a mapping belongs, or a mapping where a list belongs: kubectl
# refuses the file ("cannot unmarshal array into Go struct field
# NamedContext.contexts.context of type v1.Context"), not an empty context
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "%s"}}]\ncontexts:\n- name: x\n  context: [c]\ncurrent-context: x\n' "$srv" > "$tmp/bad3.yaml"
printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: []\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n' > "$tmp/bad4.yaml"
printf 'apiVersion: v1\nkind: Config\nusers: {}\n' > "$tmp/bad5.yaml"
for b in 3 4 5; do
  for v in "config view" "config get-contexts" "get ns"; do
    # shellcheck disable=SC2086
    same "a list for a mapping or back (bad$b.yaml): $v fails" "KUBECONFIG=$tmp/bad$b.yaml" -- $v
  done
  # the file is refused before any context is resolved, naming the entry
  if grep -Eq "^kscript: get: $tmp/bad$b.yaml: (contexts\[0\].context|clusters\[0\].cluster) must be a mapping, not a list\$|users must be a list\$" "$tmp/ks.err"; then
    ok "bad$b.yaml: get ns names the entry"
  else nok "bad$b.yaml: get ns names the entry" "kscript stderr: $(head -c 300 "$tmp/ks.err")"; fi
done

# ------------------------------------------------------------ use-context / set-context
# each change made by kscript on copy A and by kubectl on copy B; kubectl
# reads back both (every file of the list) and must see the same
change() {
  local d=$1 files=$2; shift 2
  rm -rf "$tmp/A" "$tmp/B"; mkdir -p "$tmp/A" "$tmp/B"
  local fa= fb= f
  for f in $files; do
    cp "$f" "$tmp/A/$(basename "$f")"; cp "$f" "$tmp/B/$(basename "$f")"
    fa="$fa${fa:+:}$tmp/A/$(basename "$f")"; fb="$fb${fb:+:}$tmp/B/$(basename "$f")"
  done
  KUBECONFIG=$fa "$KS" "$@" >"$tmp/ks.msg" 2>&1; echo "exit $?" >>"$tmp/ks.msg"
  KUBECONFIG=$fb "$KC" "$@" >"$tmp/kc.msg" 2>&1; echo "exit $?" >>"$tmp/kc.msg"
  if [ "$(tail -1 "$tmp/kc.msg")" = "exit 0" ]; then
    is "$d: kscript prints what kubectl prints" "$(cat "$tmp/ks.msg")" "$(cat "$tmp/kc.msg")"
  else
    is "$d: kscript fails as kubectl does" "$(tail -1 "$tmp/ks.msg")" "$(tail -1 "$tmp/kc.msg")"
  fi
  local ga gb
  for f in $files; do # each file alone, then the merged list
    ga=$(cd "$tmp/A" && "$KC" config view --raw --kubeconfig "$(basename "$f")" 2>&1)
    gb=$(cd "$tmp/B" && "$KC" config view --raw --kubeconfig "$(basename "$f")" 2>&1)
    is "$d: kubectl reads $(basename "$f") back the same" "$ga" "$gb"
  done
  ga=$(KUBECONFIG=$fa "$KC" config view --raw 2>&1 | sed "s#$tmp/A#X#g")
  gb=$(KUBECONFIG=$fb "$KC" config view --raw 2>&1 | sed "s#$tmp/B#X#g")
  is "$d: and the merged view is the same" "$ga" "$gb"
}
printf 'apiVersion: v1\nkind: Config\ncontexts:\n- name: "yes"\n  context: {cluster: c, user: u}\n- name: "a: b"\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: "https://x"}\nusers:\n- name: u\n  user: {}\n' > "$tmp/b/odd.config"
printf 'current-context: one\napiVersion: v1\nkind: Config\ncontexts:\n- name: one\n  context: {cluster: c, user: u}\n- name: two\n  context: {cluster: c, user: u}\n' > "$tmp/b/first-line.config"
change "use-context" "$tmp/a/config" config use-context three
change "use-context, already current" "$tmp/a/config" config use-context one
change "use-context, merged list" "$tmp/a/config $tmp/b/config" config use-context b-ctx
change "use-context, merged list, first file without one" "$tmp/b/odd.config $tmp/a/config" config use-context two
change "use-context, a name YAML would read as a boolean" "$tmp/b/odd.config" config use-context yes
change "use-context, a name with a colon" "$tmp/b/odd.config" config use-context "a: b"
change "use-context, current-context on the first line" "$tmp/b/first-line.config" config use-context two
change "use-context, JSON kubeconfig" "$tmp/b/json.config" config use-context k
change "use-context, unknown context" "$tmp/a/config" config use-context nope
change "set-context: a new context" "$tmp/a/config" config set-context fresh --cluster data --user tok --namespace n9
change "set-context: namespace of an existing one" "$tmp/a/config" config set-context two --namespace kube-system
change "set-context --current" "$tmp/a/config" config set-context --current --namespace other
change "set-context in the second file of a list" "$tmp/a/config $tmp/b/config" config set-context b-ctx --user tok
change "set-context, new, merged list" "$tmp/a/config $tmp/b/config" config set-context n2 --cluster bonly
change "set-context, JSON kubeconfig" "$tmp/b/json.config" config set-context j --namespace jj
# the rewritten file keeps its mode (credentials stay 0600)
cp "$tmp/a/config" "$tmp/mode.config"; chmod 600 "$tmp/mode.config"
KUBECONFIG=$tmp/mode.config "$KS" config use-context two >/dev/null
is "use-context keeps the file's mode 0600" "$(stat -c %a "$tmp/mode.config")" 600
KUBECONFIG=$tmp/mode.config "$KS" config set-context two --namespace x >/dev/null
is "set-context keeps the file's mode 0600" "$(stat -c %a "$tmp/mode.config")" 600
is "and leaves no temporary file beside it" "$(ls "$tmp" | grep -c 'mode.config.')" 0

# ------------------------------------------------------------ exec plugins on the loop
cat > "$tmp/slow-plugin" <<EOF
#!/bin/sh
# args: SECONDS PIDFILE
echo \$\$ > "\$2"
sleep "\$1" & echo \$! >> "\$2"; wait
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\n' "$KSCRIPT_TEST_EXEC_TOKEN"
EOF
chmod +x "$tmp/slow-plugin"
execkc() { # name seconds -> a kubeconfig whose user runs the slow plugin
  cat > "$tmp/$1.kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$srv", certificate-authority: "$KSCRIPT_TEST_CA"}
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: $tmp/slow-plugin, args: ["$2", "$tmp/$1.pids"], interactiveMode: Never}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
EOF
  echo "$tmp/$1.kc"
}
gone() { # every pid in the file has ended: no such process, or a zombie
  # (a killed grandchild is reparented to pid 1, which in a container may
  # never reap it); waits up to 5 s for the kill to land
  local p st i
  [ -s "$1" ] || return 1
  for i in $(seq 100); do
    st=0
    for p in $(cat "$1"); do
      if [ -r "/proc/$p/stat" ] && ! awk '{exit !($3 == "Z" || $3 == "X")}' "/proc/$p/stat"; then st=1; fi
    done
    [ $st = 0 ] && return 0
    sleep 0.05
  done
  return 1
}

A=$(execkc slow1 1) B=$(execkc slow2 1)
out=$("$KS" -e "
local k8s = require 'k8s'
local loop = require 'ksh.loop'
local ticks = {}
local timer = every(0.05, function() ticks[#ticks + 1] = loop.now() end)
local t0 = loop.now()
local function one(kc)
  local k = assert(k8s.connect { kubeconfig = kc })
  local r = assert(k:get('/api'))
  return r.kind, loop.now()
end
local a, b = spawn(one, '$A'), spawn(one, '$B')
local ka, ta = a:wait()
local kb, tb = b:wait()
timer:cancel()
local during = 0
for _, t in ipairs(ticks) do if t > t0 + 0.2 and t < math.min(ta, tb) - 0.2 then during = during + 1 end end
print(ka, kb, ('%.2f'):format(math.max(ta, tb) - t0), during)
" 2>&1)
set -- $out
is "two slow exec plugins: both credentials work" "$1 $2" "APIVersions APIVersions"
[ "${3%.*}" -lt 2 ] 2>/dev/null && r=0 || r=1
check "two 1 s plugins ran concurrently (${3:-?} s in all, not 2+)" [ $r = 0 ]
[ "${4:-0}" -ge 5 ] 2>/dev/null && r=0 || r=1
check "a timer fired while the plugins ran (${4:-?} ticks)" [ $r = 0 ]

H=$(execkc hang 300)
start=$(date +%s%N)
out=$("$KS" -e "
local kc = require 'k8s.kubeconfig'
kc.EXEC_TIMEOUT = 1
local k, err = require('k8s').connect { kubeconfig = '$H' }
if k then k, err = k:get('/api') end
print(err and err.kind, err and err.message)
" 2>&1)
el=$(( ($(date +%s%N) - start) / 1000000 ))
case "$out" in auth*"timed out after 1s"*) r=0 ;; *) r=1 ;; esac
check "a hung exec plugin hits the timeout: kind auth, 'timed out' ($out)" [ $r = 0 ]
check "promptly (${el} ms)" [ "$el" -lt 5000 ]
check "the hung plugin and its child are killed" gone "$tmp/hang.pids"

I=$(execkc int 300)
"$KS" -e "local k = require('k8s').connect { kubeconfig = '$I' }; print(k and k:get('/api'))" >"$tmp/int.out" 2>&1 &
bgpid=$!
for _ in $(seq 200); do [ "$(cat "$tmp/int.pids" 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.05; done
check "the plugin is running (pids recorded)" [ "$(cat "$tmp/int.pids" 2>/dev/null | wc -l)" = 2 ]
start=$(date +%s%N)
kill -INT $bgpid; wait $bgpid; rc=$?; bgpid=
el=$(( ($(date +%s%N) - start) / 1000000 ))
is "Ctrl-C while an exec plugin runs: exit 130" "$rc" 130
check "promptly (${el} ms)" [ "$el" -lt 3000 ]
check "the plugin and its child are gone afterwards" gone "$tmp/int.pids"

# the credential: not in a temp file, not on stdout/stderr under -v
before=$(ls /tmp)
mkdir -p "$tmp/home"
out=$(HOME=$tmp/home KUBECONFIG=$(execkc v 0) "$KS" -v get /api 2>&1)
case "$out" in *APIVersions*) r=0 ;; *) r=1 ;; esac
check "-v get /api with the exec user works" [ $r = 0 ]
case "$out" in *"$KSCRIPT_TEST_EXEC_TOKEN"*) r=1 ;; *) r=0 ;; esac
check "-v: the plugin's token appears nowhere in stdout or stderr" [ $r = 0 ]
case "$out" in *GET*"/api"*) r=0 ;; *) r=1 ;; esac
check "-v does log the request" [ $r = 0 ]
# (the old io.popen code kept the plugin's stderr in an os.tmpname() file,
# /tmp/lua_XXXXXX; look at every new regular file at the top of /tmp)
leak=
for f in $(comm -13 <(echo "$before") <(ls /tmp)); do
  [ -f "/tmp/$f" ] && grep -qs -- "$KSCRIPT_TEST_EXEC_TOKEN" "/tmp/$f" && leak="$leak /tmp/$f"
done
is "no new file in /tmp holds the exec credential" "$leak" ""

finish
