#!/usr/bin/env bash
# The man page kscript(1) (share/kscript.1, mdoc): mandoc finds nothing at
# warning level, it renders, and it stays in step with the binary: every
# command `kscript help` lists and every option `kscript --help` shows is
# described in it.
set -u
export LC_ALL=C
top=${KSCRIPT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KSCRIPT:-$top/kscript}
page=$top/share/kscript.1
n=0; fails=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails+1)); fi; }

lint=$(mandoc -Tlint -Wwarning "$page" 2>&1); rc=$?
ok $rc "mandoc -Tlint -Wwarning is clean"
[ $rc = 0 ] || printf '#   %s\n' "$lint"
man -l "$page" 2>/dev/null | grep -q "Lua-scriptable REST shell"; ok $? "man -l renders it"
for c in $(HOME=/nonexistent "$K" help | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
  grep -q "^\.It Cm $c\( \|$\)" "$page"; ok $? "command $c is described"
done
for o in $("$K" --help | grep -o '^  -[-a-z, ]*' | tr ',' ' '); do
  case $o in -) continue ;; --*) f="Fl -${o#--}" ;; -*) f="Fl ${o#-}" ;; *) continue ;; esac
  grep -q "^\.It .*$f\b" "$page"; ok $? "option $o is described"
done
echo "1..$n"
[ $fails -eq 0 ]
