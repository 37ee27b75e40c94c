#!/usr/bin/env bash
# Encryption at rest, against a real kube-apiserver: a SECOND apiserver (the
# env's binary, etcd and certificates, its own --etcd-prefix and port) runs
# with an EncryptionConfiguration of aesgcm, aescbc and secretbox keys.  Only
# a resource's first provider writes, so: secrets start with aesgcm first,
# configmaps with aescbc first; the file is then rewritten (automatic reload)
# to put secretbox, then aescbc, first for secrets, each reload waited for by
# writing probe secrets until the stored prefix changes (bounded).  Every
# value etcdctl reads back is decrypted by kscript with the same file and
# compared with the API server's own answer; a wrong key is a clear error
# (kind decrypt); no configuration reports the provider and key name (kind
# encrypted); a KMS value stays "encrypted".  The apiserver is stopped in
# the trap.  Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh" KSCRIPT_ENV_DIR KSCRIPT_TEST_ETCD
D=$KSCRIPT_ENV_DIR
PREFIX=/kscript-enc-$$
ETCDCTL=${XDG_CACHE_HOME:-$HOME/.cache}/kscript/etcd-${KSCRIPT_TEST_ETCD_VERSION:-v3.6.16}/etcdctl
[ -x "$ETCDCTL" ] || ETCDCTL=$(command -v etcdctl)
ectl() { "$ETCDCTL" --endpoints="$KSCRIPT_TEST_ETCD" "$@"; }
pid2=
cleanup() {
  if [ -n "$pid2" ]; then
    kill -TERM "$pid2" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid2" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid2" 2>/dev/null
  fi
  ectl del --prefix "$PREFIX/" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

k() { openssl rand -base64 32; }
GCM=$(k) CBC=$(k) SB=$(k)
config() { # FIRST-PROVIDER-FOR-SECRETS > file (every key present, so older values stay readable)
  local first=$1 p
  local -A block=(
    [aesgcm]="    - aesgcm:
        keys:
        - name: gcm1
          secret: $GCM"
    [aescbc]="    - aescbc:
        keys:
        - name: cbc1
          secret: $CBC"
    [secretbox]="    - secretbox:
        keys:
        - name: sb1
          secret: $SB")
  echo "apiVersion: apiserver.config.k8s.io/v1"
  echo "kind: EncryptionConfiguration"
  echo "resources:"
  echo "  - resources: [secrets]"
  echo "    providers:"
  echo "${block[$first]}"
  for p in aesgcm aescbc secretbox; do [ "$p" = "$first" ] || echo "${block[$p]}"; done
  echo "    - identity: {}"
  echo "  - resources: [configmaps]"
  echo "    providers:"
  echo "${block[aescbc]}"
  echo "    - identity: {}"
}
config aesgcm > "$tmp/enc.yaml"

# ---------------------------------------------------------------- the second apiserver
pid1=$(awk '$1 == "pid" && $3 == "kube-apiserver" { print $2 }' "$D/state" | tail -1)
mapfile -d '' args < "/proc/$pid1/cmdline" 2>/dev/null
if [ ${#args[@]} -eq 0 ]; then nok "the env's kube-apiserver (pid ${pid1:-?}) is running"; finish; fi
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
new=()
for a in "${args[@]}"; do
  case $a in
    --secure-port=*) new+=("--secure-port=$port") ;;
    --cert-dir=*) new+=("--cert-dir=$tmp/certs") ;;
    *) new+=("$a") ;;
  esac
done
new+=("--etcd-prefix=$PREFIX" "--encryption-provider-config=$tmp/enc.yaml"
      "--encryption-provider-config-automatic-reload=true")
mkdir -p "$tmp/certs"
setsid "${new[@]}" </dev/null >"$tmp/apiserver.log" 2>&1 &
pid2=$!
API=https://127.0.0.1:$port
readyz() { curl -sf --max-time 5 --cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY" "$API/readyz" >/dev/null; }
alive_readyz() { kill -0 "$pid2" 2>/dev/null || return 2; readyz; }
if wait_for 180 alive_readyz; then ok "a second kube-apiserver with --etcd-prefix=$PREFIX and an EncryptionConfiguration is ready"
else nok "the second kube-apiserver is ready" "$(tail -5 "$tmp/apiserver.log")"; finish; fi
KC2() { $KC --server="$API" "$@"; }
ns=enc-$$
KC2 create ns "$ns" >/dev/null

# raw value of KEY from etcd (etcdctl, the peer), into FILE
raw() { ectl get "$1" --print-value-only > "$2.nl" && head -c -1 "$2.nl" > "$2"; rm -f "$2.nl"; }
# kscript decrypts FILE (the value of etcd key KEY) with CONFIG into OUT; prints "ok" or the error's kind
decrypt() { # config key file out
  $KS -e '
    local enc = require "k8s.encryption"
    local cfgfile, key, file, out = ...
    local cfg = cfgfile ~= "" and assert(enc.load(cfgfile)) or nil
    local f = assert(io.open(file, "rb")); local v = f:read("a"); f:close()
    local plain, err = enc.decrypt(cfg, v, key)
    if not plain then print(err.kind, err.provider or "", err.key_name or "", err.message); return end
    local o = assert(io.open(out, "wb")); o:write(plain); o:close(); print("ok")' "$@"
}
envelope() { $KS -e 'local f = assert(io.open(..., "rb")); local e = require("k8s.encryption").envelope(f:read("a")); print(e and (e.provider .. ":" .. e.key_name) or "plain")' "$1"; }
have_codec=0
$KS -e 'require "k8s.codec"' >/dev/null 2>&1 && have_codec=1

magic() { head -c 4 "$1" | od -An -tx1 | tr -d ' \n'; }
secret_key() { echo "$PREFIX/secrets/$ns/$1"; }
# stored as PROVIDER:KEY, decrypted by kscript to what the API server answers
check_secret() { # name want-envelope
  local name=$1 want=$2 key got
  key=$(secret_key "$name")
  raw "$key" "$tmp/$name.raw"
  got=$(envelope "$tmp/$name.raw")
  is "secret $name is stored as $want" "$got" "$want"
  got=$(decrypt "$tmp/enc.yaml" "$key" "$tmp/$name.raw" "$tmp/$name.plain")
  is "kscript decrypts secret $name ($want)" "$got" "ok"
  is "the plaintext of $name starts with the protobuf magic k8s\\0" "$(magic "$tmp/$name.plain")" 6b387300
  check "the plaintext of $name holds the secret's bytes" grep -qa "value-of-$name" "$tmp/$name.plain"
  if [ "$have_codec" = 1 ]; then
    KC2 get --raw "/api/v1/namespaces/$ns/secrets/$name" > "$tmp/$name.api"
    # the key-value from etcd (for its mod_revision: the resourceVersion),
    # decrypted here, decoded by k8s.codec: the API server's bytes
    $KS -e '
      local enc, codec = require "k8s.encryption", require "k8s.codec"
      local cfgfile, ep, key = ...
      local kv = assert(require("etcd").connect{endpoints = ep}:get(key)).kvs[1]
      local plain = assert(enc.decrypt(assert(enc.load(cfgfile)), kv.value, key))
      io.write(assert(codec.decode_text(plain, {key = key, mod_revision = kv.mod_revision})), "\n")' \
      "$tmp/enc.yaml" "$KSCRIPT_TEST_ETCD" "$key" > "$tmp/$name.ks" 2>&1
    check "kscript's decryption and decoding of $name = kubectl get --raw, byte for byte" cmp "$tmp/$name.api" "$tmp/$name.ks"
  fi
}

KC2 create secret generic s-gcm -n "$ns" --from-literal=k=value-of-s-gcm >/dev/null
check_secret s-gcm aesgcm:gcm1
KC2 create configmap c-cbc -n "$ns" --from-literal=k=value-of-c-cbc >/dev/null
ck="$PREFIX/configmaps/$ns/c-cbc"
raw "$ck" "$tmp/c.raw"
is "configmaps (their own first provider) are stored as aescbc:cbc1" "$(envelope "$tmp/c.raw")" "aescbc:cbc1"
is "kscript decrypts the aescbc configmap" "$(decrypt "$tmp/enc.yaml" "$ck" "$tmp/c.raw" "$tmp/c.plain")" "ok"
check "the configmap's plaintext holds its data" grep -qa value-of-c-cbc "$tmp/c.plain"

# aesgcm authenticates the etcd key: the same bytes under another key do not open
got=$(decrypt "$tmp/enc.yaml" "$(secret_key other)" "$tmp/s-gcm.raw" "$tmp/x")
check "aesgcm under another etcd key (additional data) is kind decrypt: $got" grep -q '^decrypt' <<<"$got"

# a reload makes another provider first: wait until a new secret is stored with it
switch_to() { # provider key-name
  local p=$1 kn=$2 i=0 name
  config "$p" > "$tmp/enc.yaml.new" && mv "$tmp/enc.yaml.new" "$tmp/enc.yaml"
  probe() {
    i=$((i + 1)); name=probe-$p-$i
    KC2 create secret generic "$name" -n "$ns" --from-literal=k=x >/dev/null 2>&1 || return 1
    raw "$(secret_key "$name")" "$tmp/probe" && [ "$(envelope "$tmp/probe")" = "$p:$kn" ]
  }
  # the apiserver polls the file once a minute; a probe every 2 s, 150 s at most
  local t
  for t in $(seq 75); do probe && return 0; sleep 2; done
  return 1
}
if switch_to secretbox sb1; then ok "after rewriting the configuration, new secrets are stored with secretbox"
else nok "the reload to secretbox was seen within 150 s" "$(grep -i encryption "$tmp/apiserver.log" | tail -3)"; fi
KC2 create secret generic s-sb -n "$ns" --from-literal=k=value-of-s-sb >/dev/null
check_secret s-sb secretbox:sb1
if switch_to aescbc cbc1; then ok "after a second rewrite, new secrets are stored with aescbc"
else nok "the reload to aescbc was seen within 150 s"; fi
KC2 create secret generic s-cbc -n "$ns" --from-literal=k=value-of-s-cbc >/dev/null
check_secret s-cbc aescbc:cbc1
# the older values stay readable with the final configuration (every key is in it)
check_secret s-gcm aesgcm:gcm1

# the stored command: the table names the provider and key; -o json decrypts
$KS stored secrets -n "$ns" --etcd-prefix "$PREFIX" --endpoints "$KSCRIPT_TEST_ETCD" > "$tmp/table" 2>&1
check "kscript stored secrets (no config) lists s-gcm as aesgcm:gcm1" grep -Eq '^s-gcm +[^ ]+ +[0-9]+ +aesgcm:gcm1$' "$tmp/table"
check "... s-sb as secretbox:sb1 and s-cbc as aescbc:cbc1" \
  sh -c "grep -Eq '^s-sb .* secretbox:sb1\$' '$tmp/table' && grep -Eq '^s-cbc .* aescbc:cbc1\$' '$tmp/table'"
$KS stored secret s-sb -n "$ns" -o json --etcd-prefix "$PREFIX" --endpoints "$KSCRIPT_TEST_ETCD" > "$tmp/noconf" 2>&1
st=$?
is "without --encryption-config, -o json of an encrypted secret fails (status 1)" "$st" 1
check "... and says how it is encrypted: $(head -1 "$tmp/noconf")" grep -q 'encrypted with secretbox key "sb1" (no encryption configuration given)' "$tmp/noconf"
if [ "$have_codec" = 1 ]; then
  for s in s-gcm s-sb s-cbc; do
    $KS stored secret "$s" -n "$ns" -o json --etcd-prefix "$PREFIX" --encryption-config "$tmp/enc.yaml" \
      --endpoints "$KSCRIPT_TEST_ETCD" > "$tmp/$s.stored" 2>&1
    KC2 get secret "$s" -n "$ns" -o json > "$tmp/$s.kc"
    check "kscript stored secret $s -o json --encryption-config = kubectl get -o json" cmp -s "$tmp/$s.kc" "$tmp/$s.stored"
  done
fi

# a wrong key: same names, other secrets
GCM=$(k) CBC=$(k) SB=$(k) config aesgcm > "$tmp/wrong.yaml"
for s in s-gcm s-sb s-cbc; do
  got=$(decrypt "$tmp/wrong.yaml" "$(secret_key "$s")" "$tmp/$s.raw" "$tmp/x")
  check "a wrong key for $s is kind decrypt, naming the key: ${got:0:150}" grep -Eq '^decrypt[[:space:]].*cannot decrypt .*key "(gcm1|sb1|cbc1)"' <<<"$got"
done
$KS stored secret s-cbc -n "$ns" -o json --etcd-prefix "$PREFIX" --encryption-config "$tmp/wrong.yaml" \
  --endpoints "$KSCRIPT_TEST_ETCD" > "$tmp/wrong.out" 2>&1
st=$?
is "kscript stored with a wrong key exits 1" "$st" 1
check "... with a clear error: $(head -1 "$tmp/wrong.out")" grep -q 'cannot decrypt .*aescbc key "cbc1"' "$tmp/wrong.out"

# no configuration at all: kind encrypted, with the provider and key name
got=$(decrypt "" "$(secret_key s-gcm)" "$tmp/s-gcm.raw" "$tmp/x")
check "no configuration: kind encrypted, provider aesgcm, key gcm1" grep -q '^encrypted	aesgcm	gcm1	' <<<"$got"
# a KMS v2 value (written here: no KMS plugin runs) is reported, never garbage
printf 'k8s:enc:kms:v2:vault:\x0a\x03abc' > "$tmp/kms.raw"
got=$(decrypt "$tmp/enc.yaml" /registry/secrets/x/y "$tmp/kms.raw" "$tmp/x")
check "a KMS v2 value is kind encrypted, provider kms, key vault" grep -q '^encrypted	kms	vault	encrypted by KMS v2 provider "vault"' <<<"$got"

# k8s.encryption.encrypt writes what the API server reads: a secret encrypted
# by kscript with the first provider (aescbc now) is put in etcd, then read
# back through the second apiserver
$KS -e '
  local enc = require "k8s.encryption"
  local cfg = assert(enc.load((...)))
  local f = assert(io.open(select(2, ...), "rb")); local plain = f:read("a"); f:close()
  local key = select(3, ...)
  local v = assert(enc.encrypt(cfg, plain, key, "secrets"))
  io.write(v)' "$tmp/enc.yaml" "$tmp/s-sb.plain" "$(secret_key s-sb)" > "$tmp/reenc"
is "k8s.encryption.encrypt uses the first provider (aescbc)" "$(envelope "$tmp/reenc")" "aescbc:cbc1"
$KS -e '
  local f = assert(io.open(select(3, ...), "rb")); local v = f:read("a"); f:close()
  assert(require("etcd").connect{endpoints = (...)}:put(select(2, ...), v))' "$KSCRIPT_TEST_ETCD" "$(secret_key s-sb)" "$tmp/reenc"
got=$(KC2 get secret s-sb -n "$ns" -o jsonpath='{.data.k}' | base64 -d)
is "the API server reads the secret kscript re-encrypted" "$got" "value-of-s-sb"

finish
