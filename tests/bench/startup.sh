#!/usr/bin/env bash
# Startup: median wall time over N runs of `kscript -e ''` beside lua5.4, a
# do-nothing C program linked against the same shared libraries (the floor
# that dynamic linking sets), etcdctl and kubectl; plus size and peak RSS.
# usage: tests/bench/startup.sh [RUNS]   (not a test: prints numbers and ratios)
set -eu
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh
runs=${1:-50}
K=${KSCRIPT:-./kscript}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'int main(void) { return 0; }\n' > "$tmp/floor.c"
# the floor links exactly the shared libraries kscript needs (its DT_NEEDED)
needed=$(readelf -d "$K" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/-l:\1/p' | grep -v -e 'libc\.so' -e 'libm\.so')
cc -O2 -o "$tmp/floor" "$tmp/floor.c" -Wl,--no-as-needed $needed -lm
kubectl=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/kscript/k8s-*/kubectl 2>/dev/null | tail -1 || true)

median_ms() { # command... -> median wall ms over $runs runs
  local i s e
  for ((i = 0; i < runs; i++)); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000}'
}
# peak RSS: the median of 11 runs (one run varies by +-200 kB: where ASLR
# puts the mappings decides which fault-around windows a page falls in)
rss_kb() {
  local i
  for ((i = 0; i < 11; i++)); do /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; done | median
}

printf '%-34s %10s %10s\n' "command" "median ms" "peak RSS kB"
floor=$(median_ms "$tmp/floor")
floor_rss=$(rss_kb "$tmp/floor")
printf '%-34s %10s %10s\n' "floor (same shared libs)" "$floor" "$floor_rss"
ks=$(median_ms "$K" -e '')
ks_rss=$(rss_kb "$K" -e '')
printf '%-34s %10s %10s\n' "kscript -e ''" "$ks" "$ks_rss"
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
awk -v k="$ks" -v f="$floor" 'BEGIN { printf "kscript - floor = %+.2f ms wall, sequential medians (target: within 1 ms)\n", k - f }'
awk -v k="$ks_rss" -v f="$floor_rss" 'BEGIN { printf "kscript - floor = %+d kB peak RSS, medians of 11 runs (target: within 1 MB)\n", k - f }'

# The two side by side, interleaved (a busy machine slows both alike): wall
# and CPU (user+sys) medians over the same runs.
python3 - "$runs" "$tmp/floor" "$K" "$tmp/inter" <<'PY'
import os, statistics, sys, time
runs, floor, k, save = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def one(argv):
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)])
    _, _, ru = os.wait4(pid, 0)
    return (time.perf_counter_ns() - t0) / 1e6, (ru.ru_utime + ru.ru_stime) * 1e3
res = {"floor": [], "kscript": []}
for _ in range(runs):
    res["floor"].append(one([floor]))
    res["kscript"].append(one([k, "-e", ""]))
med = {n: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for n, v in res.items()}
for n in ("floor", "kscript"):
    print("%-8s wall %7.2f ms   cpu %7.2f ms   (interleaved, %d runs)" % (n, med[n][0], med[n][1], runs))
print("kscript - floor: wall %+.2f ms, cpu %+.2f ms (target: within 1 ms)" %
      (med["kscript"][0] - med["floor"][0], med["kscript"][1] - med["floor"][1]))
with open(save, "w") as f:
    f.write("%.2f %.2f %.2f %.2f\n" % (med["kscript"][0], med["kscript"][1], med["floor"][0], med["floor"][1]))
PY
read -r kw kc fw fc < "$tmp/inter"
row "start-up kscript -e '': wall (interleaved)" ms "$kw" - - "same-libs C program" "$fw"
row "start-up kscript -e '': CPU (interleaved)" ms "$kc" - - "same-libs C program" "$fc"
row "start-up kscript -e '': peak RSS" MB "$(awk -v k="$ks_rss" 'BEGIN {printf "%.1f", k/1024}')" - - \
  "same-libs C program" "$(awk -v k="$floor_rss" 'BEGIN {printf "%.1f", k/1024}')"
# Instructions executed (callgrind), the figure a loaded machine cannot blur.
if command -v valgrind >/dev/null; then
  ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/Collected/ {print $NF}'; }
  fi=$(ir "$tmp/floor"); ki=$(ir "$K" -e '')
  awk -v f="$fi" -v k="$ki" 'BEGIN { printf "instructions: floor %d, kscript -e %s %d, difference %d (%+.1f%%)\n", f, "\x27\x27", k, k - f, 100 * (k - f) / f }'
  row "start-up kscript -e '': instructions" M "$(awk -v k="$ki" 'BEGIN {printf "%.2f", k/1e6}')" - - \
    "same-libs C program" "$(awk -v k="$fi" 'BEGIN {printf "%.2f", k/1e6}')"
fi
printf 'binary size: %s bytes (stripped: %s)\n' "$(stat -c %s "$K")" "$(strip -o "$tmp/k" "$K" && stat -c %s "$tmp/k")"
