/* json_fuzz: libFuzzer target for the json module (src/lua/json.c).
 * Built and run by tests/fuzz/run. Each input is decoded; a value must
 * re-encode to text that decodes and re-encodes to the same bytes (compact
 * and indented), an error must be nil, err with err.kind "parse", err.offset
 * inside the input and named in err.message ("json: ... at offset N", which
 * tostring gives), and decode_at must walk the input forwards. Any Lua error aborts (a finding). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_json(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char check_src[] =
    "local json = require 'json'\n"
    "return function(s)\n"
    "  local v, err = json.decode(s)\n"
    "  if v == nil then\n"
    "    assert(type(err) == 'table' and err.kind == 'parse' and math.type(err.offset) == 'integer'\n"
    "      and err.offset >= 0 and err.offset <= #s and tostring(err) == err.message\n"
    "      and err.message:match('^json: .* at offset ' .. err.offset .. '$'), tostring(err))\n"
    "  else\n"
    "    local e1 = json.encode(v)\n"
    "    local v2, err2 = json.decode(e1)\n"
    "    assert(err2 == nil, err2)\n"
    "    local e2 = json.encode(v2)\n"
    "    assert(e1 == e2, 'unstable: ' .. e1 .. ' / ' .. e2)\n"
    "    local i1 = json.encode(v, {indent = 2, escape_html = false})\n"
    "    assert(json.encode((json.decode(i1))) == e1, 'indent: ' .. i1)\n"
    "    local o = json.decode(s, {order = true})\n"
    "    local o1 = json.encode(o)\n"
    "    assert(json.encode((json.decode(o1, {order = true}))) == o1, 'order: ' .. o1)\n"
    "  end\n"
    "  local pos = 1\n"
    "  for _ = 1, 64 do\n"
    "    local r, nxt, epos = json.decode_at(s, pos)\n"
    "    if r == nil then\n"
    "      assert(nxt == nil or (type(nxt) == 'table' and nxt.kind == 'parse' and epos == nxt.offset + 1\n"
    "        and epos >= pos and epos <= #s + 1), tostring(nxt))\n"
    "      break\n"
    "    end\n"
    "    assert(nxt > pos and nxt <= #s + 1)\n"
    "    pos = nxt\n"
    "  end\n"
    "end\n";

static lua_State *L;
static int fn_ref;

/* One state for every input (a fresh one cost more than the checks): the
 * check function is compiled once, and a full collection after each input
 * frees everything the input allocated, so libFuzzer's leak check (more
 * mallocs than frees in one run) still points at json.c itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!L) {
    L = luaL_newstate();
    if (!L) abort();
    luaL_openlibs(L);
    luaL_requiref(L, "json", luaopen_json, 0);
    lua_pop(L, 1);
    if (luaL_loadstring(L, check_src) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      fprintf(stderr, "json_fuzz: %s\n", lua_tostring(L, -1));
      abort();
    }
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_gc(L, LUA_GCCOLLECT);
  }
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "json_fuzz: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
