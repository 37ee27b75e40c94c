/* lua_http.h: what other bindings need from ksh.httpc (lua_http.c). */
#ifndef KSH_LUA_HTTP_H
#define KSH_LUA_HTTP_H

#include <lua.h>

#include "http.h"

/* The type name (and registry key of the metatable) of a framer. */
#define HTTPC_FRAMER_MT "ksh.httpc.framer"

/* Pushes a framer: a userdata of type HTTPC_FRAMER_MT that http.stream takes
 * as opts.framer and that cuts the body into records with fn(ud, ...).  The
 * value at stack index owner (what ud points into) is kept alive as long as
 * the framer, and the framer as long as any request using it. */
void httpc_push_framer(lua_State *L, http_framer fn, void *ud, int owner);

/* Reads the options table at index t (url, method, headers, body, TLS,
 * timeouts, framing: http.request's) into *o.  Pushes values that anchor
 * the header strings (o is valid until they are popped); the table must
 * stay alive too.  Raises on a malformed option. */
void httpc_opts(lua_State *L, int t, http_opts *o);

#endif
