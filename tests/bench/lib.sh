# tests/bench/lib.sh (sourced by the benchmarks): row NAME UNIT KSCRIPT
# [PEER_NAME PEER [FLOOR_NAME FLOOR]] records one line of the summary that
# tests/bench/run prints at the end (one table: kscript, the peer and the
# floor measured in the same run, and the ratios).  Numbers are medians in
# UNIT ("s", "MB", "ms", "us/ev", "MB/s"...); a missing peer or floor is "-".
# Without $BENCH_ROWS (a benchmark run alone) it records nothing.
row() {
  [ -n "${BENCH_ROWS:-}" ] || return 0
  printf '%s|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "${4:--}" "${5:--}" "${6:--}" "${7:--}" >> "$BENCH_ROWS"
}

# run_measured FILE cmd...: run cmd once (stdout discarded; its stderr shown
# if it fails) and write "WALL_S PEAK_RSS_KB CPU_S" to FILE.  CPU is user+sys
# of cmd and its children at 1 ms resolution (bash's times builtin): GNU
# time's %U and %S print 10 ms steps, too coarse for runs of 50 ms.
run_measured() {
  local f=$1 t0 t1 rc
  shift
  t0=$EPOCHREALTIME
  ( /usr/bin/time -f %M -o "$f.rss" "$@" >/dev/null 2>"$f.err"; echo $? > "$f.rc"; times > "$f.times" )
  t1=$EPOCHREALTIME
  rc=$(cat "$f.rc")
  [ "$rc" = 0 ] || cat "$f.err" >&2
  awk -v t0="$t0" -v t1="$t1" -v rss="$(tail -1 "$f.rss")" \
    'NR == 2 { split($1, u, "m"); split($2, s, "m")
               printf "%.3f %d %.3f\n", t1 - t0, rss, u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$f.times" > "$f"
  return "$rc"
}

# Interleaved groups (tests/bench/dump-keys.sh, etcdctl.sh): `bench NAME
# CMD...` adds a command to the group, `run_group` runs the group's commands
# in turn for $runs rounds (the shared machine's load drifts over a minute:
# each round sees about the same), then sets T[NAME] (wall s), R[NAME] (peak
# KB) and C[NAME] (CPU s) to the medians and prints them.  The caller
# declares `declare -A T R C CMD; GROUP=()` and sets $runs and $t (a
# scratch directory).
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# one measurement: prints "seconds KB cpu-seconds" (run_measured)
measure() { run_measured "$t/m" "$@" && cat "$t/m"; }
bench() {
  CMD[$1]=$(shift; printf '%q ' "$@")
  GROUP+=("$1")
}
run_group() {
  local i name s k c
  declare -A S K U
  for i in $(seq 1 "$runs"); do
    for name in "${GROUP[@]}"; do
      read -r s k c <<<"$(eval "measure ${CMD[$name]}")"
      S[$name]+="$s "; K[$name]+="$k "; U[$name]+="$c "
    done
  done
  for name in "${GROUP[@]}"; do
    T[$name]=$(printf '%s\n' ${S[$name]} | median)
    R[$name]=$(printf '%s\n' ${K[$name]} | median)
    C[$name]=$(printf '%s\n' ${U[$name]} | median)
    printf '%-30s %7.3f s wall %7.3f s cpu %8.1f MB   (wall runs: %s)\n' "$name" "${T[$name]}" "${C[$name]}" \
      "$(echo "${R[$name]}" | awk '{print $1/1024}')" "${S[$name]}"
  done
  GROUP=()
}
