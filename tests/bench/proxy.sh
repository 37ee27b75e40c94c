#!/usr/bin/env bash
# tests/bench/proxy.sh [SECONDS]: `kscript proxy` against `kubectl proxy` (the
# build matching the server), side by side in one run on the test API server
# (tests/env), with the API server direct (bearer token) as the floor.  Not a
# test: prints numbers and ratios.
#   load:    wrk -t2 -c50 -d SECONDS (default 20) --latency on GET /version and
#            GET /api/v1/namespaces/NS/pods (100 pods): requests/s, p50/p99,
#            proxy CPU per 1,000 requests (utime+stime from /proc), peak RSS,
#            and where the machine's CPU went: the API server's CPU per 1,000
#            requests and how busy both cores were (from /proc/stat)
#   latency: one connection, one request at a time (wrk -t1 -c1 -d5s): p50
#            and p99, and what each proxy adds over the direct request
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
secs=${1:-20}
K=$PWD/kscript
command -v wrk >/dev/null || { echo "bench/proxy: wrk is missing (make deps)" >&2; exit 1; }
started=
if [ -z "${KUBECONFIG:-}" ] || [ -z "${KSCRIPT_TEST_KUBECTL:-}" ]; then
  eval "$(tests/env/up)"
  started=1
fi
KC=$KSCRIPT_TEST_KUBECTL
NS=kscript-bench-proxy-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  $KC delete ns "$NS" --wait=false >/dev/null 2>&1 || true
  rm -rf "$tmp"
  [ -n "$started" ] && tests/env/down >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "creating 100 pods in $NS..." >&2
$KC create ns "$NS" >/dev/null
NS=$NS "$K" - <<'LUA'
local k = assert(k8s.connect())
local json = require "json"
local ns, next_i, tasks = os.getenv("NS"), 0, {}
for w = 1, 8 do
  tasks[w] = spawn(function()
    while next_i < 100 do
      next_i = next_i + 1
      local body = json.encode { apiVersion = "v1", kind = "Pod",
        metadata = { name = ("bench-%03d"):format(next_i), labels = { app = "bench" } },
        spec = { containers = { { name = "c", image = "registry.example/bench:1" } } } }
      assert(k:raw_request { method = "POST", path = "/api/v1/namespaces/" .. ns .. "/pods",
                             headers = { ["Content-Type"] = "application/json" }, body = body })
    end
  end)
end
for _, t in ipairs(tasks) do t:wait() end
LUA

# start NAME CMD...: a proxy on a free port; sets port_NAME and pid_NAME
start() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  local p=
  for _ in $(seq 100); do
    p=$(sed -n 's/^Starting to serve on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/$name.out" | head -1)
    [ -n "$p" ] && break
    sleep 0.1
  done
  [ -n "$p" ] || { echo "bench/proxy: $name did not start: $(cat "$tmp/$name.err")" >&2; exit 1; }
  eval "port_$name=$p pid_$name=$pid"
}
start kscript "$K" proxy --port=0
start kubectl "$KC" proxy --port=0

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
apiport=${KSCRIPT_TEST_APISERVER##*:}
pid_api=$(ss -ltnpH "sport = :$apiport" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
[ -n "$pid_api" ] || { echo "bench/proxy: no API server process listening on port $apiport" >&2; exit 1; }
# busy and total jiffies of all CPUs
stat_cpu() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
direct=$KSCRIPT_TEST_APISERVER
auth=(-H "Authorization: Bearer $KSCRIPT_TEST_TOKEN")

# to ms: wrk prints 1.23ms, 456.00us, 1.20s
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }

# run WHO URL -t -c -d: prints "rps p50 p99 requests cpu_s peak_rss_kb"
run() {
  local who=$1 url=$2 t=$3 c=$4 d=$5 pid= extra=()
  case $who in
    direct) extra=("${auth[@]}") ;;
    kscript) pid=$pid_kscript ;;
    kubectl) pid=$pid_kubectl ;;
  esac
  local c0=0 peak=0 a0 b0 t0
  [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
  a0=$(cpu_ticks "$pid_api")
  read -r b0 t0 < <(stat_cpu)
  wrk -t"$t" -c"$c" -d"$d"s --latency "${extra[@]}" "$url" >"$tmp/wrk" 2>&1 &
  local w=$!
  while kill -0 "$w" 2>/dev/null; do
    if [ -n "$pid" ]; then r=$(rss_kb "$pid"); [ "$r" -gt "$peak" ] && peak=$r; fi
    sleep 0.5
  done
  wait "$w" || true
  local cpu=0 b1 t1
  [ -n "$pid" ] && cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$pid")" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
  local api
  api=$(awk -v a="$a0" -v b="$(cpu_ticks "$pid_api")" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
  read -r b1 t1 < <(stat_cpu)
  local busy
  busy=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
  local rps p50 p99 n errs
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk")
  p50=$(ms "$(awk '$1 == "50%" {print $2}' "$tmp/wrk")")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' "$tmp/wrk")")
  n=$(awk '/requests in/ {print $1}' "$tmp/wrk")
  errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$tmp/wrk")
  [ -n "$errs" ] && echo "  ($who: $errs)" >&2
  echo "$rps $p50 $p99 $n $cpu $peak $api $busy"
}

printf '%-44s %10s %9s %9s %9s %12s %9s %12s %6s\n' "what (wrk -t2 -c50 -d${secs}s)" req/s p50ms p99ms requests "CPU s/1k req" "RSS MB" "API s/1k req" "busy%"
declare -A R
for path in /version "/api/v1/namespaces/$NS/pods"; do
  for who in direct kscript kubectl; do
    case $who in
      direct) url=$direct$path ;;
      kscript) url=http://127.0.0.1:$port_kscript$path ;;
      kubectl) url=http://127.0.0.1:$port_kubectl$path ;;
    esac
    read -r rps p50 p99 n cpu peak api busy < <(run "$who" "$url" 2 50 "$secs")
    per=$(awk -v c="$cpu" -v n="$n" 'BEGIN { if (n > 0 && c > 0) printf "%.3f", c * 1000 / n; else printf "-" }')
    mb=$(awk -v k="$peak" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else printf "-" }')
    label=$who; [ "$who" = direct ] && label="direct (API server, token)"
    aper=$(awk -v c="$api" -v n="$n" 'BEGIN { if (n > 0) printf "%.3f", c * 1000 / n; else printf "-" }')
    printf '%-44s %10s %9s %9s %9s %12s %9s %12s %6s\n' "GET ${path/$NS/NS} $label" "$rps" "$p50" "$p99" "$n" "$per" "$mb" "$aper" "$busy"
    R[$path,$who]="$rps $p50 $p99 $per $mb"
  done
  read -r kr k50 k99 kcpu kmb <<<"${R[$path,kscript]}"
  read -r cr c50 c99 ccpu cmb <<<"${R[$path,kubectl]}"
  awk -v kr="$kr" -v cr="$cr" -v k99="$k99" -v c99="$c99" -v kc="$kcpu" -v cc="$ccpu" -v km="$kmb" -v cm="$cmb" -v p="${path/$NS/NS}" 'BEGIN {
    printf "  ratios for GET %s, kscript / kubectl: req/s %.2fx, p99 %.2fx, CPU per request %.2fx, RSS %.2fx\n",
      p, kr / cr, k99 / c99, (cc > 0 ? kc / cc : 0), (cm > 0 ? km / cm : 0) }'
done

echo
printf '%-44s %9s %9s %14s\n' "one connection, sequential (wrk -t1 -c1 -d5s)" p50ms p99ms "added p50 ms"
path=/version
read -r _ d50 d99 _ < <(run direct "$direct$path" 1 1 5)
printf '%-44s %9s %9s %14s\n' "GET /version direct" "$d50" "$d99" "-"
for who in kscript kubectl; do
  port=port_$who
  read -r _ p50 p99 _ < <(run "$who" "http://127.0.0.1:${!port}$path" 1 1 5)
  printf '%-44s %9s %9s %14s\n' "GET /version through $who proxy" "$p50" "$p99" "$(awk -v a="$p50" -v b="$d50" 'BEGIN {printf "%.2f", a - b}')"
done
echo
echo "peak RSS over the whole run (VmHWM): kscript $(awk -v k="$(hwm_kb "$pid_kscript")" 'BEGIN {printf "%.1f", k/1024}') MB, kubectl $(awk -v k="$(hwm_kb "$pid_kubectl")" 'BEGIN {printf "%.1f", k/1024}') MB"
