#!/usr/bin/env bash
# tests/etcd/auth-cmds.t: every `user` and `role` subcommand of etcdctl 3.6
# (add with NAME:PASS, --new-user-password, the password prompt read from a
# pipe, --interactive=false, --no-password; get [--detail], list, delete,
# passwd, grant-role, revoke-role; role add, get, list, delete,
# grant-permission [--prefix|--from-key] read|write|readwrite KEY [END],
# revoke-permission) with each writer (simple, json, fields, protobuf,
# table) and their misuses, through `kscript etcd` and etcdctl 3.6 on twin
# servers (3.4 and 3.6) fed the same requests: stdout byte for byte, the
# last stderr line and the exit code.  The permissions granted are then
# checked with --user after `auth enable`, and the Lua API (user_get,
# role_get, role_grant_permission, ...) is read back with etcdctl.
set -u
export LC_ALL=C
cd "$(dirname "$0")/../.."
. tests/etcd/lib.sh
. tests/etcd/tap.sh
unset ETCDCTL_API ETCDCTL_ENDPOINTS
versions=$(etcd_versions) || { ok 1 "etcd 3.6 is required (KSCRIPT_REQUIRE_ETCD36=1)"; tap_done; exit 1; }
ETCDCTL=$(tests/etcd/build-etcdctl 2>"${TMPDIR:-/tmp}/build-etcdctl.log") || { ok 1 "etcdctl 3.6 builds"; tap_done; exit 1; }
etcd_tmp
t=$ETCD_TEST_TMP
IN=""
# same NAME ARGS...: kscript etcd on A, etcdctl on B, stdin $IN for both
same() {
  local name=$1
  shift
  printf '%b' "$IN" | kscript etcd --endpoints "$A" "$@" >"$t/k.out" 2>"$t/k.err"
  local kc=$?
  printf '%b' "$IN" | "$ETCDCTL" --endpoints "$B" "$@" >"$t/e.out" 2>"$t/e.err"
  local ec=$?
  local ke ee
  ke=$(tail -1 "$t/k.err"); ee=$(grep -av '^{"level"' "$t/e.err" | tail -1)
  if cmp -s "$t/k.out" "$t/e.out" && [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"
    echo "#   exit: kscript $kc, etcdctl $ec"; echo "#   kscript: $ke"; echo "#   etcdctl: $ee"
    diff <(od -c "$t/k.out") <(od -c "$t/e.out") | sed 's/^/#   /' | head -10
  fi
}
# same_err NAME ARGS...: misuse; the exit code and the "Error:" line alike
# (cobra prints its usage text beside it, which kscript leaves out)
same_err() {
  local name=$1
  shift
  kscript etcd --endpoints "$A" "$@" >"$t/k.out" 2>"$t/k.err" </dev/null
  local kc=$?
  "$ETCDCTL" --endpoints "$B" "$@" >"$t/e.out" 2>"$t/e.err" </dev/null
  local ec=$?
  local ke ee
  ke=$(grep -a '^Error:' "$t/k.err"); ee=$(grep -a '^Error:' "$t/e.err")
  if [ "$kc" = "$ec" ] && [ "$ke" = "$ee" ] && [ -n "$ke" ]; then ok 0 "$V $name"; else
    ok 1 "$V $name"; echo "#   exit: kscript $kc, etcdctl $ec"; echo "#   kscript: $ke"; echo "#   etcdctl: $ee"
  fi
}
WRITERS="simple json fields protobuf table"
for v in $versions; do
  name=${v%%=*}; bin=${v#*=}; id=${name//./_}
  V="[etcd $name]"
  ETCD_TWIN=1 etcd_start "ca$id" "$bin" >&2 || { ok 1 "$V twin A starts"; continue; }
  ETCD_TWIN=1 etcd_start "cb$id" "$bin" >&2 || { ok 1 "$V twin B starts"; continue; }
  a="ETCD_EP_ca$id"; b="ETCD_EP_cb$id"; A=${!a}; B=${!b}

  # ---- users
  same "user add root:PASS" user add root:rootpw
  same "user add --new-user-password" user add alice --new-user-password=alicepw
  same "user add N:P with --new-user-password (the flag wins, the name keeps its colon)" \
    user add 'odd:name' --new-user-password=pw
  for w in $WRITERS; do same "user add -w $w" -w "$w" user add "u-$w" --new-user-password=pw; done
  IN='bobpw\nbobpw\n' same "user add: the password prompt answered from a pipe" user add bob
  IN='x\ny\n' same "user add: the prompt's two passwords differ" user add carol
  IN='' same "user add: an empty password at the prompt" user add carol
  IN='  evepw more\n' same "user add --interactive=false (the first word of stdin)" user add eve --interactive=false
  same "user add --no-password" user add frank --no-password
  same "user add :PASS (no name)" user add :pw
  same "user add without a name" user add
  same "user add an existing user" user add alice --new-user-password=x
  same_err "user add --detail (not its flag)" user add zed --detail
  IN='' same "user add --interactive=false and nothing on stdin" user add gina --interactive=false

  # ---- roles and permissions
  same "role add" role add reader
  same "role add root" role add root
  for w in $WRITERS; do same "role add -w $w" -w "$w" role add "r-$w"; done
  same "role add an existing role" role add reader
  same "role add without a name" role add
  same "grant read KEY" role grant-permission reader read /a
  same "grant readwrite --prefix" role grant-permission reader readwrite /p --prefix
  same "grant write KEY END" role grant-permission reader write /k /z
  same "grant READ --from-key (upper case type)" role grant-permission reader READ /f --from-key
  same "grant read '' --prefix (every key)" role grant-permission reader read '' --prefix
  same "grant write '' (the key \\0)" role grant-permission reader write ''
  same "grant a prefix of \\xff bytes" role grant-permission reader read $'\xff\xff' --prefix
  same "grant: an unknown permission type" role grant-permission reader rw /a
  same "grant: too few arguments" role grant-permission reader read
  same "grant: --prefix with an end key" role grant-permission reader read /a /b --prefix
  same "grant: --from-key with an end key" role grant-permission reader read /a /b --from-key
  same "grant: --prefix and --from-key" role grant-permission reader read /a --prefix --from-key
  same "grant: an unknown role" role grant-permission nosuch read /a
  same_err "grant-permission --detail (not its flag)" role grant-permission reader read /a --detail
  for w in $WRITERS; do same "grant -w $w" -w "$w" role grant-permission "r-$w" readwrite /x --prefix; done
  for w in $WRITERS; do same "role get -w $w" -w "$w" role get reader; done
  for w in $WRITERS; do same "role get root -w $w" -w "$w" role get root; done
  same "role get --hex -w fields" -w fields --hex role get reader
  same "role get an unknown role" role get nosuch
  for w in $WRITERS; do same "role list -w $w" -w "$w" role list; done

  # ---- roles of users
  same "user grant-role" user grant-role alice reader
  same "user grant-role root root" user grant-role root root
  for w in $WRITERS; do same "user grant-role -w $w" -w "$w" user grant-role "u-$w" "r-$w"; done
  same "user grant-role alice r-json" user grant-role alice r-json
  same "user grant-role: an unknown role" user grant-role alice nosuch
  same "user grant-role: an unknown user" user grant-role nosuch reader
  same "user grant-role: one argument" user grant-role alice
  for w in $WRITERS; do same "user get -w $w" -w "$w" user get alice; done
  for w in $WRITERS; do same "user get --detail -w $w" -w "$w" user get alice --detail; done
  same "user get (no roles)" user get bob
  same "user get an unknown user" user get nosuch
  for w in $WRITERS; do same "user list -w $w" -w "$w" user list; done

  # ---- passwords
  IN='alice2\nalice2\n' same "user passwd (the prompt from a pipe)" user passwd alice
  IN='a\nb\n' same "user passwd: the passwords differ" user passwd alice
  IN='bob2\n' same "user passwd --interactive=false" user passwd bob --interactive=false
  for w in $WRITERS; do IN='pw2\n' same "user passwd -w $w" -w "$w" user passwd "u-$w" --interactive=false; done
  IN='x\n' same "user passwd an unknown user" user passwd nosuch --interactive=false
  same "user passwd without a name" user passwd

  # ---- the permissions at work
  for k in /a /p/1 /k/1 /q; do same "put $k" put "$k" "v$k"; done
  same "auth enable" auth enable
  same "alice reads /a (read KEY)" --user alice:alice2 get /a
  same "alice reads /p/ (readwrite --prefix)" --user alice:alice2 get /p/ --prefix
  same "alice writes /p/2" --user alice:alice2 put /p/2 x
  same "alice writes /k/1 (write KEY END)" --user alice:alice2 put /k/1 y
  same "alice reads /k/1 (read from '' --prefix)" --user alice:alice2 get /k/1
  same "bob has no role: denied" --user bob:bob2 get /a
  same "the old password is refused" --user alice:alicepw get /a
  same "user get as root" --user root:rootpw user get alice
  same "revoke KEY" --user root:rootpw role revoke-permission reader /a
  same "revoke --prefix" --user root:rootpw role revoke-permission reader /p --prefix
  same "revoke KEY END" --user root:rootpw role revoke-permission reader /k /z
  same "revoke --from-key" --user root:rootpw role revoke-permission reader /f --from-key
  same "revoke '' --prefix" --user root:rootpw role revoke-permission reader '' --prefix
  same "revoke a permission the role lacks" --user root:rootpw role revoke-permission reader /nothing
  same "revoke: too few arguments" --user root:rootpw role revoke-permission reader
  same "role get after the revokes" --user root:rootpw role get reader
  same "alice reads /p/1 no more" --user alice:alice2 get /p/1
  for w in $WRITERS; do
    same "revoke -w $w" --user root:rootpw -w "$w" role revoke-permission "r-$w" /x --prefix
  done
  same "user revoke-role" --user root:rootpw user revoke-role alice reader
  same "user revoke-role a role not granted" --user root:rootpw user revoke-role alice reader
  for w in $WRITERS; do same "user revoke-role -w $w" --user root:rootpw -w "$w" user revoke-role "u-$w" "r-$w"; done
  same "auth disable" --user root:rootpw auth disable

  # ---- deletes
  for w in $WRITERS; do same "user delete -w $w" -w "$w" user delete "u-$w"; done
  for w in $WRITERS; do same "role delete -w $w" -w "$w" role delete "r-$w"; done
  same "user delete an unknown user" user delete nosuch
  same "role delete an unknown role" role delete nosuch
  same "user delete without a name" user delete
  same "user list after the deletes" user list
  same "role list after the deletes" role list

  # ---- the Lua API, read back with etcdctl on the same server
  out=$(kscript -e "
    local c = etcd.connect{endpoints = '$A'}
    assert(c:role_add('lua'))
    assert(c:role_grant_permission('lua', 'readwrite', '/lua/', {prefix = true}))
    assert(c:role_grant_permission('lua', 'read', '/one'))
    assert(c:role_grant_permission('lua', 'write', '/a', '/m'))
    assert(c:user_add('luau', 'pw1'))
    assert(c:user_grant_role('luau', 'lua'))
    assert(c:user_passwd('luau', 'pw2'))
    local u = assert(c:user_get('luau'))
    local r = assert(c:role_get('lua'))
    local t = {}
    for _, p in ipairs(r.perm) do t[#t + 1] = p.type .. ' ' .. p.key .. ' ' .. p.range_end end
    print(table.concat(u.roles, ','), table.concat(t, ';'))
    local _, e = c:user_get('nosuch')
    print(e.kind, e.grpc_message)
  " 2>&1)
  want=$(printf 'lua\tWRITE /a /m;READWRITE /lua/ /lua0;READ /one \nprecondition\tetcdserver: user name not found')
  [ "$out" = "$want" ]; ok $? "$V Lua: role_grant_permission, user_passwd, user_get, role_get"
  [ "$out" = "$want" ] || { echo "$out" | sed 's/^/#   got  /'; echo "$want" | sed 's/^/#   want /'; }
  got=$("$ETCDCTL" --endpoints "$A" role get lua 2>&1)
  want=$(printf 'Role lua\nKV Read:\n\t[/lua/, /lua0) (prefix /lua/)\n\t/one\nKV Write:\n\t[/a, /m)\n\t[/lua/, /lua0) (prefix /lua/)')
  [ "$got" = "$want" ]; ok $? "$V etcdctl sees the permissions the Lua API granted"
  [ "$got" = "$want" ] || echo "$got" | sed 's/^/#   /'
  got=$("$ETCDCTL" --endpoints "$A" user get luau 2>&1 | tr '\n' ' ')
  [ "$got" = "User: luau Roles: lua " ]; ok $? "$V etcdctl sees the role user_grant_role gave"
  out=$(kscript -e "
    local c = etcd.connect{endpoints = '$A'}
    assert(c:role_revoke_permission('lua', '/lua/', {prefix = true}))
    assert(c:user_revoke_role('luau', 'lua'))
    assert(c:user_delete('luau'))
    print('done')
  " 2>&1)
  got=$("$ETCDCTL" --endpoints "$A" role get lua 2>&1; "$ETCDCTL" --endpoints "$A" user get luau 2>&1 | tail -1)
  want=$(printf 'Role lua\nKV Read:\n\t/one\nKV Write:\n\t[/a, /m)\nError: etcdserver: user name not found')
  [ "$out" = done ] && [ "$got" = "$want" ]; ok $? "$V Lua: role_revoke_permission, user_revoke_role, user_delete"
  [ "$got" = "$want" ] || echo "$out $got" | sed 's/^/#   /'
  etcd_stop "ca$id"; etcd_stop "cb$id"
done
tap_done
