#!/usr/bin/env bash
# Shell completion from the live cluster, against kubectl on the same
# kubeconfig: namespaces after -n, object names after a resource type,
# TYPE/NAME, resource types and short names, contexts; the bash script
# completes the same names through `kscript __complete`.
# Needs `eval "$(tests/env/up)"`; FAILS (never skips) without it.
set -uo pipefail
export LC_ALL=C
. "${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/k8s.sh"
trap 'rm -rf "$tmp"' EXIT
cands() { "$KS" __complete "$@" | sed '$d' | sort; }
names() { "$KC" "$@" -o name | sed 's|.*/||' | sort; }

is "namespaces after -n, as kubectl lists them" "$(cands get pods -n '')" "$(names get namespaces)"
is "pod names in kube-system" "$(cands get pods -n kube-system '')" "$(names get pods -n kube-system)"
is "deployment names (short name deploy) in default" "$(cands get deploy '')" "$(names get deployments)"
is "a prefix filters" "$(cands get deploy -n default tom)" "$(names get deployments | grep '^tom')"
is "TYPE/NAME after delete" "$(cands delete -n kube-system pods/)" "$(names get pods -n kube-system | sed 's|^|pods/|')"
types=$(cands get '')
for t in pods po deployments deploy configmaps cm nodes no namespaces ns; do
  echo "$types" | grep -qx "$t" && ok "resource type $t offered" || nok "resource type $t offered" "$(echo "$types" | head -5 | tr '\n' ' ')"
done
is "contexts, as kubectl config get-contexts -o name" "$(cands get --context '')" "$("$KC" config get-contexts -o name | sort)"
is "the directive: no file completion for names" "$("$KS" __complete get pods -n kube-system '' | tail -1)" ":4"
# the bash script, end to end
"$KS" completion bash > "$tmp/k.bash"
bin=$tmp/bin; mkdir -p "$bin"; ln -s "$(command -v "$KS")" "$bin/kscript"
got=$(PATH="$bin:$PATH" bash -c 'source "$1"; COMP_WORDS=(kscript get nodes ""); COMP_CWORD=3; _kscript_complete; printf "%s\n" "${COMPREPLY[@]}"' _ "$tmp/k.bash" | sort)
is "bash completes node names" "$got" "$(names get nodes)"
# an unreachable cluster: nothing, quickly, and no prompt
start=$(date +%s%N)
KUBECONFIG=$tmp/dead "$KC" config set-cluster dead --server=https://127.0.0.1:9 >/dev/null
KUBECONFIG=$tmp/dead "$KC" config set-context dead --cluster=dead --user=u >/dev/null
KUBECONFIG=$tmp/dead "$KC" config use-context dead >/dev/null
out=$(KUBECONFIG=$tmp/dead "$KS" __complete get pods '' </dev/null 2>&1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "an unreachable server completes nothing" "$out" ":4"
[ $ms -lt 5000 ] && ok "and returns within 5 s ($ms ms)" || nok "and returns within 5 s" "$ms ms"
finish
