#!/usr/bin/env bash
# Startup: median wall time over N runs of `kscript -e ''` beside lua5.4, a
# do-nothing C program linked against the same shared libraries (the floor
# that dynamic linking sets), etcdctl and kubectl; plus size and peak RSS.
# usage: tests/bench/startup.sh [RUNS]   (not a test: prints numbers and ratios)
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
runs=${1:-50}
K=${KSCRIPT:-./kscript}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'int main(void) { return 0; }\n' > "$tmp/floor.c"
cc -O2 -o "$tmp/floor" "$tmp/floor.c" -Wl,--no-as-needed $(pkg-config --libs lua5.4 libcurl yaml-0.1 readline) -llua5.4-cjson
kubectl=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/kscript/k8s-*/kubectl 2>/dev/null | tail -1 || true)

median_ms() { # command... -> median wall ms over $runs runs
  local i s e
  for ((i = 0; i < runs; i++)); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'
}
rss_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

printf '%-34s %10s %10s\n' "command" "median ms" "peak RSS kB"
floor=$(median_ms "$tmp/floor")
printf '%-34s %10s %10s\n' "floor (same shared libs)" "$floor" "$(rss_kb "$tmp/floor")"
ks=$(median_ms "$K" -e '')
printf '%-34s %10s %10s\n' "kscript -e ''" "$ks" "$(rss_kb "$K" -e '')"
if command -v lua5.4 >/dev/null; then
  printf '%-34s %10s %10s\n' "lua5.4 -e ''" "$(median_ms lua5.4 -e '')" "$(rss_kb lua5.4 -e '')"
fi
if command -v etcdctl >/dev/null; then
  printf '%-34s %10s %10s\n' "etcdctl version" "$(median_ms etcdctl version)" "$(rss_kb etcdctl version)"
fi
if [ -n "$kubectl" ]; then
  printf '%-34s %10s %10s\n' "kubectl version --client" "$(median_ms "$kubectl" version --client)" "$(rss_kb "$kubectl" version --client)"
fi
echo
awk -v k="$ks" -v f="$floor" 'BEGIN { printf "kscript - floor = %+.2f ms (target: within 1 ms)\n", k - f }'
printf 'binary size: %s bytes (stripped: %s)\n' "$(stat -c %s "$K")" "$(strip -o "$tmp/k" "$K" && stat -c %s "$tmp/k")"
