/* lua_re.h: what other bindings need from ksh.re (lua_re.c). */
#ifndef KSH_LUA_RE_H
#define KSH_LUA_RE_H

#include <lua.h>
#include <stddef.h>

typedef struct lre lre;

/* The regexp (from re.compile) at idx, or NULL if the value is not one.  It
 * lives as long as the Lua value: the caller keeps that alive. */
lre *lre_test(lua_State *L, int idx);
/* 1 if the regexp matches somewhere in s (Go's MatchString), else 0. */
int lre_match(lre *r, const char *s, size_t n);

#endif
