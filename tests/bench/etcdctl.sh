#!/usr/bin/env bash
# tests/bench/etcdctl.sh [RUNS]: `kscript etcd` against etcdctl 3.6 (built by
# tests/etcd/build-etcdctl) on etcd 3.6, side by side in one run, with ratios.
#   reads: 100,000 keys of ~800 bytes, get / --prefix with -w json, simple and
#          --keys-only (median of RUNS rounds, default 3, each running every
#          command once, interleaved: wall time, CPU and peak RSS);
#          the outputs are checked byte-identical first
#   puts:  10,000 keys from one Lua script (concurrent on the loop) vs a shell
#          loop of `etcdctl put` (PUTS_SHELL keys, default 1,000, scaled) and
#          `etcdctl txn` batches of 128 puts; keys per second
# Not a test: it prints numbers.  KSCRIPT=path (default build/kscript).
set -eu
export LC_ALL=C
unset ETCDCTL_API
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
runs=${1:-3}
kscript=${KSCRIPT:-$PWD/build/kscript}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
etcdctl=$(tests/etcd/build-etcdctl)
v36=$(etcd_versions | tr ' ' '\n' | sed -n 's/^3\.6=//p')
[ -n "$v36" ] || { echo "etcd 3.6 is missing (tests/env/build)" >&2; exit 1; }
etcd_start bench "$v36" "" --quota-backend-bytes=4294967296 >&2
export ETCDCTL_ENDPOINTS=$ETCD_EP_bench
t=$ETCD_TEST_TMP
echo "etcd 3.6 at $ETCDCTL_ENDPOINTS, etcdctl $("$etcdctl" version | head -1 | awk '{print $3}'); filling 100,000 keys..." >&2
"$kscript" tests/etcd/fill.lua 100000 800

# measure, median, bench, run_group, row
. tests/bench/lib.sh
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
declare -A T R C CMD
GROUP=()
for w in "-w json" "" "--keys-only"; do
  # shellcheck disable=SC2086
  "$kscript" etcd get / --prefix $w >"$t/k.out"
  # shellcheck disable=SC2086
  "$etcdctl" get / --prefix $w >"$t/e.out"
  if cmp -s "$t/k.out" "$t/e.out"; then echo "get / --prefix $w: identical output ($(wc -c <"$t/e.out") bytes)"
  else echo "get / --prefix $w: OUTPUTS DIFFER"; fi
done
echo "== get / --prefix (100,000 keys)"
for w in "-w json" "" "--keys-only"; do
  # shellcheck disable=SC2086
  bench "kscript etcd get $w" "$kscript" etcd get / --prefix $w
  # shellcheck disable=SC2086
  bench "etcdctl get $w" "$etcdctl" get / --prefix $w
done
run_group
echo
for w in "-w json" "" "--keys-only"; do
  echo "get / --prefix ${w:-(simple)}: kscript/etcdctl wall $(ratio "${T[kscript etcd get $w]}" "${T[etcdctl get $w]}")x," \
    "cpu $(ratio "${C[kscript etcd get $w]}" "${C[etcdctl get $w]}")x, RSS $(ratio "${R[kscript etcd get $w]}" "${R[etcdctl get $w]}")x"
done

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
j="kscript etcd get -w json" e="etcdctl get -w json"
row "etcd get --prefix -w json, 100,000 keys: wall" s "${T[$j]}" "etcdctl" "${T[$e]}"
row "etcd get --prefix -w json, 100,000 keys: CPU" s "${C[$j]}" "etcdctl" "${C[$e]}"
row "etcd get --prefix -w json, 100,000 keys: RSS" MB "$(mb "${R[$j]}")" "etcdctl" "$(mb "${R[$e]}")"

echo "== put"
n=10000 shell_n=${PUTS_SHELL:-1000}
lua_line=$("$kscript" tests/bench/etcd-put.lua "$n" 64 /bench/lua)
lua_rate=$(echo "$lua_line" | awk '{print $(NF-1)}')
echo "kscript Lua script, 64 tasks:      $lua_line"
lua_txn_line=$("$kscript" tests/bench/etcd-put.lua "$n" 4 /bench/luatxn 128)
lua_txn_rate=$(echo "$lua_txn_line" | awk '{print $(NF-1)}')
echo "kscript Lua script, txn of 128 x4:  $lua_txn_line"
s0=$(date +%s.%N)
for i in $(seq 1 "$shell_n"); do "$etcdctl" put "/bench/sh/$i" "value-$i" >/dev/null; done
s1=$(date +%s.%N)
sh_rate=$(awk -v n="$shell_n" -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", n / (b - a)}')
echo "shell loop of etcdctl put:          $shell_n keys in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.3f", b - a}') s: $sh_rate keys/s"
s0=$(date +%s.%N)
for i in $(seq 1 "$shell_n"); do "$kscript" etcd put "/bench/ks/$i" "value-$i" >/dev/null; done
s1=$(date +%s.%N)
ks_rate=$(awk -v n="$shell_n" -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", n / (b - a)}')
echo "shell loop of kscript etcd put:     $shell_n keys in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.3f", b - a}') s: $ks_rate keys/s"
s0=$(date +%s.%N)
for b in $(seq 0 128 $((n - 1))); do
  { echo; for i in $(seq "$b" $((b + 127 < n - 1 ? b + 127 : n - 1))); do echo "put /bench/txn/$i value-$i"; done; echo; echo; } |
    "$etcdctl" txn >/dev/null 2>&1
done
s1=$(date +%s.%N)
txn_rate=$(awk -v n="$n" -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", n / (b - a)}')
echo "etcdctl txn, 128 puts per txn:      $n keys in $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.3f", b - a}') s: $txn_rate keys/s"
echo
echo "put: kscript script (one Put each) $(ratio "$lua_rate" "$sh_rate")x the etcdctl shell loop;" \
  "kscript txn batches $(ratio "$lua_txn_rate" "$txn_rate")x etcdctl txn batches;" \
  "kscript etcd put in a shell loop $(ratio "$ks_rate" "$sh_rate")x etcdctl's"
