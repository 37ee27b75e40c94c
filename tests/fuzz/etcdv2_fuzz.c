/* etcdv2_fuzz: libFuzzer target for the etcd v2 client's handling of server
 * answers (lua/etcd/v2.lua: JSON bodies, error bodies, X-Etcd-Index),
 * hosted in the binary's Lua state (host_new).  ksh.http.request is replaced
 * by a stub answering every request from the input: its first byte picks a
 * success (status 200, the rest as body) or an HTTP error (kind "http",
 * status 400 or 404, the rest as body) and the X-Etcd-Index header.  Then
 * get, ls, set, rm and one watch step run: each must give a value or nil, err
 * with a string err.kind (the watch may raise such an error object, never a
 * Lua runtime error); what get answers prints with `kscript etcd` v2's
 * printers (etcd.ctl2.print_resp: simple, extended, json).  Built and run by tests/fuzz/run. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char check[] =
    "local answer\n"
    "local http = require 'ksh.http'\n"
    "http.request = function(o) return answer(o) end\n"
    "package.loaded['etcd.v2'] = nil\n"
    "local v2 = require 'etcd.v2'\n"
    "local c = v2.new({}, {'http://127.0.0.1:1'})\n"
    "local ctl2 = require 'etcd.ctl2'\n"
    "local stdout, devnull = io.stdout, assert(io.open('/dev/null', 'w'))\n"
    "local function kind(e) return type(e) == 'table' and type(e.kind) == 'string' end\n"
    "local function check(what, v, e)\n"
    "  assert(v ~= nil or kind(e), what .. ': ' .. tostring(e))\n"
    "end\n"
    "return function(s)\n"
    "  local sel = s:byte(1) or 0\n"
    "  local body = s:sub(2)\n"
    "  local hdrs = {['x-etcd-index'] = tostring(sel)}\n"
    "  answer = function(o)\n"
    "    if sel & 1 == 0 then return {status = 200, headers = hdrs, body = body} end\n"
    "    return nil, {kind = 'http', status = sel & 2 == 0 and 400 or 404, body = body,\n"
    "                 message = 'HTTP ' .. (sel & 2 == 0 and 400 or 404), headers = hdrs}\n"
    "  end\n"
    "  local r, e = c:get('/a', {recursive = true})\n"
    "  check('get', r, e)\n"
    "  if r then\n"
    "    io.stdout = devnull\n"
    "    for _, f in ipairs{'simple', 'extended', 'json'} do ctl2.print_resp(r, f) end\n"
    "    io.stdout = stdout\n"
    "  end\n"
    "  check('ls', c:ls('/', {recursive = true, dirs = sel & 4 ~= 0}))\n"
    "  check('set', c:set('/a', 'v'))\n"
    "  check('rm', c:rm('/a', {recursive = true}))\n"
    "  local w = c:watcher('/a', {recursive = true})\n"
    "  local ok, ev = pcall(w.next, w)\n"
    "  if ok then assert(type(ev) == 'table', 'watch: not an event')\n"
    "  else assert(kind(ev), 'watch raised: ' .. tostring(ev)) end\n"
    "end\n";

static lua_State *L;
static int fn_ref;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    host_t *h = host_new();
    if (!h) abort();
    L = host_state(h);
    if (luaL_loadstring(L, check) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      fprintf(stderr, "etcdv2_fuzz: %s\n", lua_tostring(L, -1));
      abort();
    }
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *m = luaL_tolstring(L, -1, NULL);
    fprintf(stderr, "etcdv2_fuzz: %s\n", m);
    abort();
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
