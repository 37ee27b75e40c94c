/* error.c: the one builder of error tables, for every binding and for Lua
 * (ksh.error).  See error.h. */
#include "error.h"

#include <lauxlib.h>
#include <stdarg.h>

static const char ERRMT_KEY = 'e';

static int err_tostring(lua_State *L) {
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, 1, "kind");
  }
  if (!lua_isstring(L, -1)) lua_pushliteral(L, "error");
  return 1;
}

void error_push_mt(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ERRMT_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, err_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "ksh.error");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ERRMT_KEY);
  }
}

static void push_va(lua_State *L, const char *kind, const char *fmt, va_list ap) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, kind);
  lua_setfield(L, -2, "kind");
  lua_pushvfstring(L, fmt, ap);
  lua_setfield(L, -2, "message");
  error_push_mt(L);
  lua_setmetatable(L, -2);
}

void error_push(lua_State *L, const char *kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  push_va(L, kind, fmt, ap);
  va_end(ap);
}

int error_fail(lua_State *L, const char *kind, const char *fmt, ...) {
  luaL_pushfail(L);
  va_list ap;
  va_start(ap, fmt);
  push_va(L, kind, fmt, ap);
  va_end(ap);
  return 2;
}

int error_new(lua_State *L) {
  const char *kind = luaL_checkstring(L, 1);
  const char *msg = luaL_optstring(L, 2, kind);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  error_push(L, kind, "%s", msg);
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, -4);
    }
  }
  return 1;
}
