#!/usr/bin/env bash
# tests/bench/decode.sh [RUNS]: decoding what Kubernetes stores, straight from
# etcd, against the API server listing the same objects as JSON, side by side
# in one run on the test environment (tests/env); medians of RUNS (default 5).
# Not a test: prints numbers and ratios.
#   fills a namespace with BENCH_PODS (default 3,000) pods held by a
#   scheduling gate (stored, never scheduled: no status churn), then
#   - kscript: one etcd Range of their keys + k8s.decode_text of each value
#     (the API server's exact JSON), + k8s.decode (Lua tables), and
#     `dump-keys --decode`;  the Range alone (kscript etcd get --prefix) as
#     the floor;
#   - the API server: the same pods listed as JSON by curl (one request) and
#     kubectl get --raw; k:list of them over the JSON and the protobuf
#     transport (k8s.connect{content_type = "protobuf"});
#   - the decoder alone: every value of the whole etcd (/registry) decoded
#     ROUNDS times in one process (objects/s, no I/O).
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
runs=${1:-5}
npods=${BENCH_PODS:-3000}
K=$PWD/kscript
started=
if [ -z "${KUBECONFIG:-}" ] || [ -z "${KSCRIPT_TEST_KUBECTL:-}" ]; then
  eval "$(tests/env/up)"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
ns=kscript-bench-decode-$$
tmp=$(mktemp -d)
cleanup() {
  $KC delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
  [ -n "$started" ] && tests/env/down >/dev/null 2>&1 || true
}
trap cleanup EXIT
export ETCDCTL_ENDPOINTS=$KSCRIPT_TEST_ETCD

echo "filling $npods pods (scheduling-gated) in $ns..." >&2
$KC create ns "$ns" >/dev/null
NS=$ns N=$npods "$K" - <<'LUA'
local k = assert(k8s.connect())
local ns, n = os.getenv("NS"), tonumber(os.getenv("N"))
local next_i, tasks = 0, {}
for w = 1, 16 do
  tasks[w] = spawn(function()
    while next_i < n do
      next_i = next_i + 1
      local i = next_i
      local body = json.encode { apiVersion = "v1", kind = "Pod",
        metadata = { name = ("pod-%05d"):format(i), labels = { app = "web-" .. (i % 7), bench = "decode" },
                     annotations = { note = ("annotation %d <&>"):format(i) } },
        spec = { schedulingGates = { { name = "kscript.dev/bench" } },
                 containers = { { name = "web", image = "nginx:1.25", ports = { { containerPort = 8080, name = "http" } },
                                  env = { { name = "INDEX", value = tostring(i) } },
                                  resources = { requests = { cpu = "100m", memory = "64Mi" }, limits = { memory = "128Mi" } },
                                  livenessProbe = { httpGet = { path = "/healthz", port = "http" }, periodSeconds = 10 } } } } }
      local obj, err = k:raw_request { method = "POST", path = "/api/v1/namespaces/" .. ns .. "/pods",
                                       headers = { ["Content-Type"] = "application/json" }, body = body }
      if obj == nil and err.status ~= 409 then error(err) end
    end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
LUA

median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
declare -A T R
measure() { # NAME cmd...: median wall seconds and peak RSS
  local name=$1; shift
  local ts=() rs=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; }
    read -r e m < "$tmp/t"
    ts+=("$e"); rs+=("$m")
  done
  T[$name]=$(printf '%s\n' "${ts[@]}" | median)
  R[$name]=$(printf '%s\n' "${rs[@]}" | median)
  printf '%-46s %8.3f s %9.1f MB %9.0f pods/s  (runs: %s)\n' "$name" "${T[$name]}" \
    "$(echo "${R[$name]}" | awk '{print $1/1024}')" "$(awk -v n="$npods" -v t="${T[$name]}" 'BEGIN{print (t > 0 ? n / t : 0)}')" "${ts[*]}"
}

cat > "$tmp/decode.lua" <<'LUA'
-- arg[1]: prefix, arg[2]: "text" | "table"
local etcd = require "etcd"
local codec = require "k8s.codec"
local c = assert(etcd.connect { endpoints = os.getenv("KSCRIPT_TEST_ETCD") })
local f = arg[2] == "table" and codec.decode or codec.decode_text
local n = 0
local sc = c:scanner(arg[1])
for kv in sc:kvs() do
  assert(f(kv))
  n = n + 1
end
io.write(n, "\n")
LUA

prefix=/registry/pods/$ns/
url="$KSCRIPT_TEST_APISERVER/api/v1/namespaces/$ns/pods"
curl_auth=(--cacert "$KSCRIPT_TEST_CA" --cert "$KSCRIPT_TEST_ADMIN_CERT" --key "$KSCRIPT_TEST_ADMIN_KEY")
got=$("$K" "$tmp/decode.lua" "$prefix" text)
echo "== $got pods: etcd + decode vs the API server's JSON list (load: $(cut -d' ' -f1-3 /proc/loadavg))"
measure "kscript: etcd Range + k8s.decode_text" "$K" "$tmp/decode.lua" "$prefix" text
measure "kscript: etcd Range + k8s.decode (tables)" "$K" "$tmp/decode.lua" "$prefix" table
measure "kscript dump-keys --decode" "$K" dump-keys "$prefix" --decode
measure "kscript etcd get --prefix (no decode)" "$K" etcd get "$prefix" --prefix
measure "curl: API server list as JSON" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/json' "$url"
measure "kubectl get --raw (list as JSON)" "$KC" get --raw "/api/v1/namespaces/$ns/pods"
cat > "$tmp/list.lua" <<'LUA'
local k = assert(k8s.connect { content_type = arg[2] })
local l = assert(k:list("pods", { namespace = arg[1] }))
io.write(#l.items, "\n")
LUA
measure "kscript k:list pods (JSON transport)" "$K" "$tmp/list.lua" "$ns" json
measure "kscript k:list pods (protobuf transport)" "$K" "$tmp/list.lua" "$ns" protobuf
measure "curl: API server list as protobuf" curl -sS --fail "${curl_auth[@]}" -H 'Accept: application/vnd.kubernetes.protobuf' "$url"
echo "== k:list of the pods in one process (no start-up), median of 7, alternating transports"
NS=$ns "$K" - <<'LUA'
local kj = assert(k8s.connect())
local kp = assert(k8s.connect { content_type = "protobuf" })
local ns = os.getenv("NS")
local tj, tp = {}, {}
for i = 1, 7 do
  local t0 = now(); assert(kj:list("pods", { namespace = ns })); tj[i] = now() - t0
  t0 = now(); assert(kp:list("pods", { namespace = ns })); tp[i] = now() - t0
end
table.sort(tj); table.sort(tp)
print(("  JSON %.3f s   protobuf %.3f s   JSON/protobuf %.2f"):format(tj[4], tp[4], tj[4] / tp[4]))
LUA
ratio() { awk -v a="${T[$1]}" -v b="${T[$2]}" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }'; }
echo "ratios (time of the peer / time of kscript; > 1: kscript faster):"
echo "  curl list / decode_text:       $(ratio "kscript: etcd Range + k8s.decode_text" "curl: API server list as JSON")"
echo "  kubectl --raw / decode_text:   $(ratio "kscript: etcd Range + k8s.decode_text" "kubectl get --raw (list as JSON)")"
echo "  curl list / dump-keys --decode: $(ratio "kscript dump-keys --decode" "curl: API server list as JSON")"
echo "  k:list JSON / k:list protobuf:  $(ratio "kscript k:list pods (protobuf transport)" "kscript k:list pods (JSON transport)")"

echo "== the decoder alone: every value of /registry, decoded in one process"
"$K" - <<'LUA'
local etcd = require "etcd"
local pb = require "ksh.k8spb"
local codec = require "k8s.codec"
local c = assert(etcd.connect { endpoints = os.getenv("KSCRIPT_TEST_ETCD") })
local vals, bytes = {}, 0
for kv in c:scanner("/registry/"):kvs() do
  if kv.value:sub(1, 4) == "k8s\0" then vals[#vals + 1] = kv.value; bytes = bytes + #kv.value end
end
local rounds = math.max(1, 200000 // math.max(1, #vals))
local function rate(name, f)
  local t0 = os.clock()
  local out = 0
  for _ = 1, rounds do for i = 1, #vals do out = out + #f(vals[i]) end end
  local dt = os.clock() - t0
  print(("%-40s %8.0f objects/s  %7.1f MB/s of protobuf in  (%d values x %d rounds, %.2f s CPU)"):format(
    name, #vals * rounds / dt, bytes * rounds / dt / 1e6, #vals, rounds, dt))
end
rate("ksh.k8spb.decode_text (C only)", pb.decode_text)
rate("k8s.decode_text", codec.decode_text)
rate("k8s.decode (+ json.decode to tables)", function(v) codec.decode(v); return "" end)
LUA
