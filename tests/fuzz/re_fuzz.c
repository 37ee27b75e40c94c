/* libFuzzer target: the proxy's request filters, Go-syntax regexps over
 * PCRE2 (ksh.re).  Input: PATTERN "\n" SUBJECT.  compile() either refuses
 * the pattern with a message (what Go would refuse, or what PCRE2 cannot
 * compile) or returns a regexp whose find() answers for any subject bytes,
 * valid UTF-8 or not; nothing crashes, nothing leaks (the regexps are
 * collected). */
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_ksh_re(lua_State *L);

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "re", luaopen_ksh_re, 1);
    lua_pop(L, 1);
    luaL_dostring(L, "function try(p, s)\n"
                     "  local r, msg = re.compile(p)\n"
                     "  if not r then assert(type(msg) == 'string' and msg:find('error parsing regexp', 1, true)) return end\n"
                     "  local i, j = r:find(s)\n"
                     "  if i then assert(i >= 1 and j >= i - 1 and j <= #s) end\n"
                     "end");
  }
  const char *nl = memchr(d, '\n', n);
  size_t pl = nl ? (size_t)(nl - (const char *)d) : n;
  lua_getglobal(L, "try");
  lua_pushlstring(L, (const char *)d, pl);
  if (nl) lua_pushlstring(L, nl + 1, n - pl - 1);
  else lua_pushliteral(L, "/api/v1/namespaces/default/pods/x/exec");
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    /* only the memory limit may fail the call; an assertion is a bug */
    if (!m || !strstr(m, "not enough memory")) __builtin_trap();
    lua_pop(L, 1);
  }
  lua_gc(L, LUA_GCSTEP, 0);
  return 0;
}
