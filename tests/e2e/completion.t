#!/usr/bin/env bash
# Shell completion without a cluster: `kscript __complete` (what the shell
# scripts call) and the scripts of `kscript completion bash|zsh|fish`
# loaded in the real shells, completing commands, subcommands and flags.
# tests/k8s/completion.t completes names from the live cluster.
set -u
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KSCRIPT:-$top/kscript}
d=$(mktemp -d "${TMPDIR:-/tmp}/kscript-compl.XXXXXX")
trap 'rm -rf "$d"' EXIT
n=0; fails=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails+1)); fi; }
is() { [ "$1" = "$2" ]; ok $? "$3"; [ "$1" = "$2" ] || printf '#   got:  %s\n#   want: %s\n' "$(printf %s "$1" | tr '\n' '|')" "$(printf %s "$2" | tr '\n' '|')"; }
# no kubeconfig: completion must answer (and never prompt) without a cluster
export HOME=$d KUBECONFIG=$d/none XDG_CONFIG_HOME=$d/.config
bin=$d/bin; mkdir -p "$bin"; ln -s "$K" "$bin/kscript"; export PATH="$bin:$PATH"

# every command `kscript help` lists, and nothing hidden
want=$(kscript help | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p')
is "$(kscript __complete '' | sed '$d')" "$want" "__complete '' lists the commands help lists"
is "$(kscript __complete '' | tail -1)" ":0" "command position: files stay on (SCRIPT.lua is a command too)"
kscript help | grep -q __complete; ok $((! $?)) "__complete itself is hidden from help"
is "$(kscript __complete dump-k)" "$(printf 'dump-keys\n:0')" "a prefix completes one command"
is "$(kscript __complete etcd '' | head -3 | tr '\n' ' ')" "get put del " "etcd's subcommands in etcdctl's order"
is "$(kscript __complete config u)" "$(printf 'use-context\n:4')" "config's subcommands from its usage"
is "$(kscript __complete completion '' | tr '\n' ' ')" "bash zsh fish :4 " "completion's shells"
is "$(kscript __complete get --sel)" "$(printf -- '--selector\n:4')" "flags from the command's help"
is "$(kscript __complete etcd get --pref)" "$(printf -- '--prefix\n:4')" "etcd get flags"
is "$(kscript __complete get -o y)" "$(printf 'yaml\n:4')" "-o values"
is "$(kscript __complete get -f '')" ":0" "-f: file completion"
is "$(kscript __complete help dump)" "$(printf 'dump-keys\n:4')" "help completes command names"
# a user's command is completed too
mkdir -p "$d/.config/kscript/scripts"; echo '-- mine: a user command' > "$d/.config/kscript/scripts/mine.lua"
is "$(kscript __complete mine)" "$(printf 'mine\n:0')" "user commands from ~/.config/kscript/scripts"

# bash
kscript completion bash > "$d/k.bash"
out=$(bash -c '
  source "$1"
  COMP_WORDS=(kscript dump-k); COMP_CWORD=1; _kscript_complete; echo "${COMPREPLY[*]}"
  COMP_WORDS=(kscript etcd get --pr); COMP_CWORD=3; _kscript_complete; echo "${COMPREPLY[*]}"
  COMP_WORDS=(kscript completion z); COMP_CWORD=2; _kscript_complete; echo "${COMPREPLY[*]}"
' _ "$d/k.bash" 2>&1)
is "$out" "$(printf 'dump-keys\n--prefix --prev-kv --print-value-only --progress-notify\nzsh')" "bash: commands, flags, arguments"
touch "$d/script-one.lua"
out=$(cd "$d" && bash -c 'source "$1"; COMP_WORDS=(kscript script-o); COMP_CWORD=1; _kscript_complete; echo "${COMPREPLY[*]}"' _ "$d/k.bash" 2>&1)
is "$out" "script-one.lua" "bash: a script file when no command matches"
# fish
out=$(fish -c "source $d/k.fish 2>/dev/null; kscript completion fish | source; complete -C'kscript dump-k'; complete -C'kscript completion f'" 2>&1 | cut -f1)
is "$out" "$(printf 'dump-keys\nfish')" "fish: commands and arguments"
# zsh: the script loads under compinit and defines the completer
out=$(zsh -f -c "autoload -U compinit; compinit -u -d $d/zcd; source <(kscript completion zsh); print -r -- \$_comps[kscript]" 2>&1)
is "$out" "_kscript" "zsh: compdef registers _kscript for kscript"
kscript completion tcsh >/dev/null 2>"$d/err"; rc=$?
is "$rc" 2 "an unknown shell is a usage error"
grep -q 'bash, zsh or fish' "$d/err"; ok $? "naming the shells"
echo "1..$n"
[ $fails -eq 0 ]
