/* tests/fuzz/yaml_fuzz.c: libFuzzer target for ksh.yaml (src/lua/yaml.c).
 * Any input: decode_all must answer a value or nil, err (kind "parse", line
 * and column >= 1, a "yaml: " message) and never crash;
 * what decodes must encode, and encoding is a fixed point:
 * encode_all(decode_all(encode_all(v))) == encode_all(v).
 * Built and run by tests/fuzz/run. Any Lua error aborts (a finding). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_ksh_yaml(lua_State *L);
int luaopen_json(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char check[] =
    "local yaml = ...\n"
    "return function(s)\n"
    "local v, err = yaml.decode_all(s)\n"
    "if v == nil then\n"
    "  assert(type(err) == 'table' and err.kind == 'parse' and tostring(err):match('^yaml: ')\n"
    "    and math.type(err.line) == 'integer' and err.line >= 1\n"
    "    and math.type(err.column) == 'integer' and err.column >= 1, tostring(err))\n"
    "  return\n"
    "end\n"
    "local ok, e1 = pcall(yaml.encode_all, v)\n"
    "if not ok then assert(tostring(e1):match('nesting deeper'), e1) return end\n"
    "local v2, err2 = yaml.decode_all(e1)\n"
    "assert(v2, err2)\n"
    "local e2 = yaml.encode_all(v2)\n"
    "if e1 ~= e2 then error(('not a fixed point:\\n%s\\n----\\n%s'):format(e1, e2)) end\n"
    "end\n";

static lua_State *L;
static int fn_ref;

/* One state for every input, the check compiled once; a full collection
 * after each input frees what it allocated (libFuzzer's leak check stays on). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "json", luaopen_json, 0);
    luaL_requiref(L, "ksh.yaml", luaopen_ksh_yaml, 0);
    if (luaL_loadstring(L, check) != LUA_OK) abort();
    lua_pushvalue(L, -2); /* ksh.yaml */
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) abort();
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
  }
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
