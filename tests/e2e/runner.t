#!/usr/bin/env bash
# The runner as cron and CI use it: scripts, commands, args, exit codes,
# errors, timeouts, signals, the search path, and refused bytecode.
set -u
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KSCRIPT:-$top/kscript}
d=$(mktemp -d "${TMPDIR:-/tmp}/kscript-runner.XXXXXX")
trap 'rm -rf "$d"' EXIT
n=0; fails=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails+1)); fi; }
# run CMD...: sets out, err, rc
run() { "$@" >"$d/out" 2>"$d/err"; rc=$?; out=$(cat "$d/out"); err=$(cat "$d/err"); }
is() { [ "$1" = "$2" ]; ok $? "$3"; [ "$1" = "$2" ] || printf '#   got:  %s\n#   want: %s\n' "$1" "$2"; }

cat > "$d/args.lua" <<'L'
print(arg[0], #arg, ...)
L
run "$K" "$d/args.lua" a "b c"
is "$out" "$d/args.lua	2	a	b c" "a script gets arg and ... like lua"
is "$rc" 0 "exit 0 on success"

printf '#!/usr/bin/env kscript\nprint("shebang", ...)\n' > "$d/sb.lua"; chmod +x "$d/sb.lua"
run env PATH="$(dirname "$K"):$PATH" "$d/sb.lua" x
is "$out" "shebang	x" "#!/usr/bin/env kscript works"

run "$K" -e 'print(6*7)'
is "$out" 42 "-e CODE"
run sh -c "echo 'print(\"from stdin\", ...)' | '$K' - q"
is "$out" "from stdin	q" "'-' runs the script from stdin with args"
run sh -c "echo 'print(1+2)' | '$K'"
is "$out" 3 "stdin that is not a terminal runs as a script"

run "$K" -e 'error("boom")'
is "$rc" 1 "an uncaught error exits 1"
is "$err" "kscript: (command line):1: boom" "with one line on stderr naming where"
is "$out" "" "and nothing on stdout"
run "$K" -v -e 'local function f() error("deep") end f()'
case "$err" in *"stack traceback:"*"in local 'f'"*) r=0 ;; *) r=1 ;; esac
ok $r "-v adds the traceback"

printf 'local x = \n' > "$d/syntax.lua"
run "$K" "$d/syntax.lua"
is "$rc" 1 "a syntax error exits 1"
case "$err" in *"syntax.lua:2:"*"<eof>"*) r=0 ;; *) r=1 ;; esac; ok $r "naming file and line"

run "$K" "$d/missing.lua"
is "$rc" 1 "a missing script exits 1"
case "$err" in *"cannot open $d/missing.lua"*) r=0 ;; *) r=1 ;; esac; ok $r "with a clear message ($err)"
run "$K" nosuchcmd
case "$err" in *"no such command or script: nosuchcmd"*"kscript help"*) r=0 ;; *) r=1 ;; esac; ok $r "an unknown command says so and points at help"

is "$rc" 2 "an unknown command is a usage error (exit 2)"
run "$K" gte pods
case "$err" in *"no such command or script: gte (did you mean 'get'?)"*) r=0 ;; *) r=1 ;; esac; ok $r "and suggests the closest command ($(printf '%s' "$err" | head -1))"
run "$K" help nosuch
is "$rc" 2 "kscript help nosuch exits 2"
is "$err" "kscript: help: no such command: nosuch" "with one line naming it"
run "$K" help --help
case "$out" in *"usage: kscript help [COMMAND]"*) r=0 ;; *) r=1 ;; esac
[ $r = 0 ] && [ "$rc" = 0 ]; ok $? "kscript help --help prints help's usage, exit 0"
# --help and -h on every bundled command (the list from kscript help)
cmds=$("$K" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
[ -n "$cmds" ]; ok $? "kscript help lists the commands ($(echo $cmds))"
for c in $cmds; do
  for h in --help -h; do
    run "$K" "$c" $h
    first=$(printf '%s\n' "$out" | head -1)
    case "$first" in "$c: "*) r=0 ;; *) r=1 ;; esac
    [ $r = 0 ] && [ "$rc" = 0 ] && [ -z "$err" ]; ok $? "kscript $c $h prints its usage and exits 0 ($first)"
  done
done

# -e CODE [--] ARGS...
run "$K" -e 'print(arg[0], #arg, arg[1], ...)' -- a "b c"
is "$out" "-e	2	a	a	b c" "-e CODE -- ARGS sets arg and ..."
is "$rc" 0 "and runs nothing else"
run "$K" -e 'print(select("#", ...), ...)' x y
is "$out" "2	x	y" "-e CODE ARGS without -- too"
run "$K" -e 'print(#arg)'
is "$out" "0" "-e with no ARGS: arg is empty"

# errors of bundled commands: one line, no Lua position; -v adds the traceback
run "$K" dump-keys --endpoints http://127.0.0.1:1
is "$rc" 1 "a failing command exits 1"
case "$err" in "kscript: dump-keys: etcd http://127.0.0.1:1: "*"efused") r=0 ;; *) r=1 ;; esac; ok $r "kscript: NAME: message ($err)"
case "$err" in *".lua:"*) r=1 ;; *) r=0 ;; esac; ok $r "without a Lua position"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ]; ok $? "on one line"
run "$K" -v dump-keys --endpoints http://127.0.0.1:1
case "$err" in *"kscript: dump-keys: "*"stack traceback:"*"scripts/dump-keys.lua"*) r=0 ;; *) r=1 ;; esac; ok $r "-v adds the traceback"
run "$K" dump-keys --page x
is "$rc" 2 "a command's usage error exits 2"
is "$err" "kscript: dump-keys: --page needs a number of keys" "with kscript: NAME: message, the name once"
mkdir -p "$d/cmds"
printf -- '-- bad: raises like a library bug\nerror("lua/k8s.lua:12: attempt to index a nil value", 0)\n' > "$d/cmds/bad.lua"
printf -- '-- weird: raises a function\nerror(print)\n' > "$d/cmds/weird.lua"
printf -- '-- st: returns a status\nreturn tonumber((...))\n' > "$d/cmds/st.lua"
printf -- '-- e: an error table\nerror(ksh.error("refused", "GET x: refused"), 0)\n' > "$d/cmds/e.lua"
run env KSCRIPT_PATH="$d/cmds" "$K" bad
case "$err" in "kscript: bad: lua/k8s.lua:12: attempt to index a nil value"*"bug"*) r=0 ;; *) r=1 ;; esac; ok $r "an error with a library position is an internal error, said to be a bug ($err)"
run env KSCRIPT_PATH="$d/cmds" "$K" weird
case "$err" in *"error object is a function value"*"bug"*) r=0 ;; *) r=1 ;; esac; ok $r "a non-string error value is an internal error ($err)"
is "$rc" 1 "exit 1"
run env KSCRIPT_PATH="$d/cmds" "$K" st 5
is "$rc" 5 "a command's returned number is the exit status"
run env KSCRIPT_PATH="$d/cmds" "$K" st
is "$rc" 0 "nil is 0"
run env KSCRIPT_PATH="$d/cmds" "$K" e
is "$err" "kscript: e: GET x: refused" "an error table prints as tostring(err)"

# an uncaught error in a background task ends the script with 1
for how in 'spawn(function() error("bg") end)' 'after(0.01, function() error("bg") end)' \
           'every(0.01, function() error("bg") end)'; do
  run "$K" -e "$how; sleep(2); print('not reached')"
  [ "$rc" = 1 ] && [ -z "$out" ]; ok $? "$how: exit 1 at once, the rest not run (rc=$rc out=$out)"
  case "$err" in *"error in task: (command line):1: bg"*) r=0 ;; *) r=1 ;; esac; ok $r "and the error is reported ($err)"
done
run "$K" -v -e 'local function boom() error("bg deep") end spawn(function() boom() end)'
case "$err" in *"error in task: (command line):1: bg deep"*"stack traceback:"*"'boom'"*) r=0 ;; *) r=1 ;; esac
ok $r "-v adds the traceback to a background task's error"
run "$K" -e 'etcd.connect{endpoints = "http://127.0.0.1:1"}:watch("/x", {}, function(ev) print(ev) end); sleep(5); print("not reached")'
[ "$rc" = 1 ] && [ -z "$out" ]; ok $? "an etcd watch handler on a dead endpoint: exit 1 (rc=$rc)"
case "$err" in *"error in task: etcd http://127.0.0.1:1: "*"efused"*) r=0 ;; *) r=1 ;; esac; ok $r "and the error is reported"
run "$K" -e 'local t = spawn(function() sleep(0.01) error("caught") end); print(pcall(t.wait, t))'
[ "$rc" = 0 ]; ok $? "an error handed to task:wait() is not uncaught"
run "$K" -e 'spawn(function() local g <close> = setmetatable({}, {__close = function(_, e) print("bg closed", e.kind) end}) sleep(10) end) spawn(function() sleep(0.05) error("x") end)'
case "$out" in *"bg closed	cancelled"*) r=0 ;; *) r=1 ;; esac; ok $r "the other tasks are ended and their <close> handlers run ($out)"

# <close> handlers get the error; an error in one is reported
printf 'local g <close> = setmetatable({}, {__close = function(_, e) print(type(e), e.kind, e.message) end})\nsleep(100)\n' > "$d/close.lua"
run "$K" --timeout 200ms "$d/close.lua"
is "$out" "table	interrupted	timed out" "under --timeout a <close> handler gets the interruption error table"
is "$rc" 124 "exit 124"
printf 'local g <close> = setmetatable({}, {__close = function(_, e) error("close failed on " .. e.kind) end})\nsleep(100)\n' > "$d/close2.lua"
run "$K" --timeout 200ms "$d/close2.lua"
case "$err" in *"error in a <close> handler: "*"close failed on interrupted"*) r=0 ;; *) r=1 ;; esac; ok $r "an error inside a <close> handler is reported ($(printf '%s' "$err" | head -1))"
run "$K" -e 'local g <close> = setmetatable({}, {__close = function(_, e) print("got", e) end}) error("main failed", 0)'
is "$out" "got	main failed" "after an error a <close> handler gets that error"

run "$K" ./nope/x.lua
case "$err" in *"cannot open ./nope/x.lua"*) r=0 ;; *) r=1 ;; esac; ok $r "a path that does not exist is named"

run "$K" --bogus
is "$rc" 2 "an unknown option exits 2"
case "$err" in *"unknown option '--bogus'"*) r=0 ;; *) r=1 ;; esac; ok $r "and says which"
run "$K" --timeout nonsense -e 1
is "$rc" 2 "a malformed --timeout exits 2"

run "$K" -e 'os.exit(7)'
is "$rc" 7 "os.exit(n) is honoured"
run "$K" -e 'ksh.usage("need a NAME")'
is "$rc" 2 "a usage error from a script exits 2"
is "$err" "kscript: need a NAME" "with its message only"

start=$(date +%s%N)
run "$K" --timeout 300ms -e 'sleep(10)'
el=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" 124 "--timeout expiring while waiting exits 124"
[ "$el" -lt 3000 ]; ok $? "promptly (${el} ms)"
run "$K" --timeout 0.3 -e 'while true do end'
is "$rc" 124 "--timeout stops a busy loop too"

cat > "$d/sig.lua" <<'L'
local x <close> = setmetatable({}, {__close = function() io.stderr:write("cleanup ran\n") end})
print("ready"); io.stdout:flush()
sleep(30)
L
for s in INT TERM; do
  "$K" "$d/sig.lua" >"$d/out" 2>"$d/err" & p=$!
  for _ in $(seq 100); do grep -q ready "$d/out" 2>/dev/null && break; sleep 0.05; done
  kill -$s $p; wait $p; rc=$?
  want=130; [ $s = TERM ] && want=143
  is "$rc" $want "SIG$s exits $want"
  grep -q "cleanup ran" "$d/err"; ok $? "after SIG$s, pending __close handlers ran"
done
printf 'local x <close> = setmetatable({}, {__close = function() io.stderr:write("cleanup ran\\n") end})\nprint("ready") io.stdout:flush()\nwhile true do end\n' > "$d/busy.lua"
"$K" "$d/busy.lua" >"$d/out" 2>"$d/err" & p=$!
for _ in $(seq 100); do grep -q ready "$d/out" 2>/dev/null && break; sleep 0.05; done
kill -INT $p; wait $p; rc=$?
is "$rc" 130 "Ctrl-C stops a busy Lua loop (130)"
grep -q "cleanup ran" "$d/err"; ok $? "and runs its __close handlers"

# bytecode is refused everywhere
lua5.4 -e 'io.write(string.dump(function() print("bytecode ran") end))' > "$d/bc.luac" 2>/dev/null || luac5.4 -o "$d/bc.luac" "$d/args.lua"
run sh -c "'$K' < '$d/bc.luac'"
is "$rc" 1 "bytecode on stdin is refused (exit 1)"
case "$err" in *"precompiled Lua bytecode is not accepted"*) r=0 ;; *) r=1 ;; esac; ok $r "with a clear message"
case "$out" in *"bytecode ran"*) r=1 ;; *) r=0 ;; esac; ok $r "and never runs"
cp "$d/bc.luac" "$d/bc.lua"
run "$K" "$d/bc.lua"
case "$err" in *"precompiled Lua bytecode is not accepted"*) r=0 ;; *) r=1 ;; esac; ok $r "a bytecode file is refused"
run "$K" -e "print(load(io.open('$d/bc.luac'):read('a')))"
case "$out" in nil*"precompiled"*) r=0 ;; *) r=1 ;; esac; ok $r "load() refuses bytecode too"
run "$K" -e "print(loadfile('$d/bc.luac'))"
case "$out" in nil*"precompiled"*) r=0 ;; *) r=1 ;; esac; ok $r "loadfile() refuses bytecode ($out)"
run "$K" -e "print(pcall(dofile, '$d/bc.luac'))"
case "$out" in false*"precompiled"*) r=0 ;; *) r=1 ;; esac; ok $r "dofile() refuses bytecode ($out)"
head -c 3000 /dev/urandom > "$d/garbage"
run sh -c "'$K' < '$d/garbage'"
[ "$rc" = 1 ]; ok $? "binary garbage on stdin: exit 1, no crash ($rc)"

# commands and the search path
mkdir -p "$d/cwd" "$d/path1" "$d/home/.config/kscript/scripts"
printf 'print("POISON from cwd")\n' > "$d/cwd/help.lua"
printf 'print("POISON from cwd")\n' > "$d/cwd/mine.lua"
printf -- '-- mine: my own check\nprint("mine from path1", ...)\n' > "$d/path1/mine.lua"
printf -- '-- cfgcmd: from the config dir\nprint("cfgcmd ran")\n' > "$d/home/.config/kscript/scripts/cfgcmd.lua"
cd "$d/cwd"
run env HOME="$d/home" XDG_CONFIG_HOME= "$K" help
case "$out" in *"cfgcmd "*" from the config dir"*"help "*" list the commands"*) r=0 ;; *) r=1 ;; esac
ok $r "kscript help lists bundled and user commands with their summaries"
case "$out" in *POISON*) r=1 ;; *) r=0 ;; esac; ok $r "a help.lua in the current directory is not run for 'kscript help'"
run env HOME="$d/home" XDG_CONFIG_HOME= "$K" mine
is "$rc" 2 "a bare name is never looked up in the current directory (exit 2)"
run env HOME="$d/home" XDG_CONFIG_HOME= KSCRIPT_PATH="$d/path1" "$K" mine z
is "$out" "mine from path1	z" "KSCRIPT_PATH is searched first"
run env HOME="$d/home" XDG_CONFIG_HOME= "$K" cfgcmd
is "$out" "cfgcmd ran" "then ~/.config/kscript/scripts"
run "$K" mine.lua
is "$out" "POISON from cwd" "NAME.lua that names an existing file runs that file"
cd "$d/path1/.."
run env HOME="$d/home" XDG_CONFIG_HOME= KSCRIPT_PATH="$d/path1" "$K" mine.lua
is "$out" "mine from path1" "NAME.lua that is not a file here is looked up as NAME (the cron form)"
cd "$d/cwd"
run env HOME="$d/home" "$K" help help
case "$out" in *"usage: kscript help [COMMAND]"*) r=0 ;; *) r=1 ;; esac; ok $r "kscript help NAME shows its usage"
cd "$top"

run "$K" --version
case "$out" in "kscript "*"Lua 5.4"*) r=0 ;; *) r=1 ;; esac; ok $r "--version"

# KSCRIPT_LUA_DIR loads modules from disk (development)
mkdir -p "$d/lua/ksh"
{ echo 'PP_FROM_DISK = true'; cat "$top/lua/ksh/pp.lua"; } > "$d/lua/ksh/pp.lua"
run env KSCRIPT_LUA_DIR="$d/lua" "$K" -e 'require("ksh.pp") print(PP_FROM_DISK)'
is "$out" "true" "KSCRIPT_LUA_DIR loads bundled modules from disk"
run "$K" -e 'local ok, e = pcall(error, "x"); local inf = debug.getinfo(require("ksh.pp").format, "S"); print(inf.source)'
is "$out" "@lua/ksh/pp.lua" "bundled chunks are named after repo files"

echo "1..$n"
[ $fails = 0 ]
