/* kubeconfig_fuzz: libFuzzer target for kubeconfig loading: the bundled Lua
 * loader (lua/k8s/kubeconfig.lua over ksh.yaml), hosted in the same Lua state
 * the binary builds (host_new: the C modules and the bundle searcher).
 * Each input is loaded as $KUBECONFIG would be (kc.load) from a file that
 * lives in memory (io.open of its path reads the input: no file I/O); then
 * every context (at most 8) and the current one are resolved, and the
 * config is viewed (as `config view`, plain, raw and minified).  Any failure must be nil, err with err.kind "config"; what
 * `config view` prints must load again with the same contexts.  A Lua error
 * (a raise from the library: a bug) aborts.  Built and run by
 * tests/fuzz/run. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char check[] =
    "local path = ...\n"
    "local kc = require 'k8s.kubeconfig'\n"
    "local printers = require 'k8s.printers'\n"
    "local function cfgerr(e)\n"
    "  assert(type(e) == 'table' and e.kind == 'config' and type(e.message) == 'string', tostring(e))\n"
    "end\n"
    "-- the file lives in memory: io.open of path reads the text last written\n"
    "local text = ''\n"
    "local file = {read = function() return text end, close = function() return true end}\n"
    "local open = io.open\n"
    "io.open = function(p, ...) if p == path then return file end return open(p, ...) end\n"
    "local function write(s) text = s end\n"
    "return function(s)\n"
    "  write(s)\n"
    "  local cfg, err = kc.load{kubeconfig = path}\n"
    "  if not cfg then return cfgerr(err) end\n"
    "  local n = 0\n"
    "  for _, name in ipairs(cfg.order.contexts) do\n"
    "    n = n + 1\n"
    "    if n > 8 then break end\n"
    "    local r, rerr = kc.resolve(cfg, {context = name})\n"
    "    if r then assert(type(r.server) == 'string' and type(r.namespace) == 'string') else cfgerr(rerr) end\n"
    "  end\n"
    "  local r, rerr = kc.resolve(cfg, {})\n"
    "  if not r then cfgerr(rerr) end\n"
    "  for _, o in ipairs{{}, {raw = true}, {minify = true}} do\n"
    "    local v, verr = kc.view(cfg, o)\n"
    "    if not v then cfgerr(verr) else\n"
    "      local text = printers.yaml(v)\n"
    "      write(text)\n"
    "      local cfg2, e2 = kc.load{kubeconfig = path}\n"
    "      assert(cfg2, 'config view printed what does not load: ' .. tostring(e2) .. '\\n' .. text)\n"
    "      if not o.minify then\n"
    "        local a, b = {}, {}\n"
    "        for _, k in ipairs(cfg.order.contexts) do a[#a + 1] = k end\n"
    "        for _, k in ipairs(cfg2.order.contexts) do b[#b + 1] = k end\n"
    "        table.sort(a); table.sort(b)\n"
    "        assert(table.concat(a, '\\0') == table.concat(b, '\\0'), 'contexts differ after config view:\\n' .. text)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n";

static lua_State *L;
static int fn_ref;
/* never created: io.open of it is answered from memory */
static const char path[] = "/tmp/kubeconfig_fuzz.in-memory";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    host_t *h = host_new();
    if (!h) abort();
    L = host_state(h);
    if (luaL_loadstring(L, check) != LUA_OK) abort();
    lua_pushstring(L, path);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      fprintf(stderr, "kubeconfig_fuzz: %s\n", lua_tostring(L, -1));
      abort();
    }
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *m = luaL_tolstring(L, -1, NULL);
    fprintf(stderr, "kubeconfig_fuzz: %s\n", m);
    abort();
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
