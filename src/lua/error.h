/* error.h: the one error shape of kscript's bindings (error.c).
 *
 * A failure of the world is returned as nil, err: err is a table
 * {kind = "parse"|"refused"|..., message = "...", <fields>} whose metatable
 * (shared, __name "ksh.error") makes tostring(err) the message.  Misuse
 * raises through luaL_argerror / luaL_check*.  Lua code builds the same
 * table with ksh.error(kind, message [, fields]) (= loop.error). */
#ifndef KSH_ERROR_H
#define KSH_ERROR_H

#include <lua.h>

/* Pushes a new error table {kind = kind, message = <fmt as lua_pushfstring>}
 * with the error metatable.  Add fields with lua_setfield(L, -2, ...). */
void error_push(lua_State *L, const char *kind, const char *fmt, ...);

/* Pushes nil and a new error table (as error_push) and returns 2, so that a
 * binding ends with `return error_fail(L, "parse", "...")`, or adds fields
 * to the table on top first. */
int error_fail(lua_State *L, const char *kind, const char *fmt, ...);

/* Pushes the shared error metatable (created on first use). */
void error_push_mt(lua_State *L);

/* error(kind [, message [, fields]]) -> err: the Lua builder, registered as
 * ksh.loop.error (ksh.error).  message defaults to kind; the fields table's
 * pairs are copied into err. */
int error_new(lua_State *L);

#endif
