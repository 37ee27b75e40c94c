# tests/etcd/tap.sh: a tiny TAP producer for the bash etcd tests (sourced).
tap_n=0 tap_fail=0
ok() { # ok STATUS NAME
  tap_n=$((tap_n + 1))
  if [ "$1" = 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_fail=$((tap_fail + 1)); fi
}
tap_done() { echo "1..$tap_n"; [ "$tap_fail" = 0 ]; }
