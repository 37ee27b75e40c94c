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
