/* lua_proc.c: module ksh.proc, child processes run from a task (src/core/proc.c).
 *
 *   local r, err = ksh.proc.run{argv = {"cmd", "arg"}, env = {NAME = "v"},
 *                               stdin = "text", timeout = 10}
 *   r = {status = 0, stdout = "...", stderr = "...", signal = nil}
 *   err.kind: "exec" (cannot run, output too large), "timeout"
 *
 * The calling task waits while the loop runs other tasks; Ctrl-C, SIGTERM,
 * --timeout and cancel() kill the child (its whole process group) and raise
 * the interruption as any other wait does. */
#define _GNU_SOURCE
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "error.h"
#include "host.h"
#include "proc.h"

int luaopen_ksh_proc(lua_State *L);

extern char **environ;

#define MT "ksh.proc.child"

typedef struct {
  proc_t *p;
  task_t *waiter;
} lproc;

static void on_done(void *ud, proc_t *p) {
  lproc *q = ud;
  task_t *t = q->waiter;
  q->waiter = NULL;
  q->p = NULL;
  lua_State *co = host_task_thread(t);
  const char *kind;
  const char *msg = proc_error(p, &kind);
  size_t on, en;
  const char *out = proc_stdout(p, &on);
  const char *err = proc_stderr(p, &en);
  int n;
  if (msg) {
    luaL_pushfail(co);
    error_push(co, kind, "%s", msg);
    lua_pushlstring(co, err, en); /* stderr helps; stdout may hold a credential */
    lua_setfield(co, -2, "stderr");
    n = 2;
  } else {
    int status;
    const char *how = proc_result(p, &status);
    lua_createtable(co, 0, 4);
    if (how && strcmp(how, "signaled") == 0) {
      lua_pushinteger(co, status);
      lua_setfield(co, -2, "signal");
      status += 128; /* as a shell reports it */
    }
    lua_pushinteger(co, status);
    lua_setfield(co, -2, "status");
    lua_pushlstring(co, out, on);
    lua_setfield(co, -2, "stdout");
    lua_pushlstring(co, err, en);
    lua_setfield(co, -2, "stderr");
    n = 1;
  }
  proc_free(p);
  host_wake(t, n);
}

static void on_cancel(void *ud) {
  lproc *q = ud;
  q->waiter = NULL;
  if (q->p) {
    proc_t *p = q->p;
    q->p = NULL;
    proc_free(p); /* kills the process group and reaps */
  }
}

static int l_gc(lua_State *L) {
  lproc *q = luaL_checkudata(L, 1, MT);
  on_cancel(q);
  return 0;
}

/* the strings of a list, as a NULL-terminated array in a userdata on the stack */
static char **push_argv(lua_State *L, int t) {
  lua_Integer n = luaL_len(L, t);
  char **v = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *v, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_rawgeti(L, t, i) != LUA_TSTRING) luaL_error(L, "run: argv[%d] must be a string", (int)i);
    v[i - 1] = (char *)lua_tostring(L, -1); /* anchored by the argv table */
    lua_pop(L, 1);
  }
  v[n] = NULL;
  return v;
}

/* our environment with the env table's entries set (false removes one) */
static char **push_env(lua_State *L, int t) {
  lua_newtable(L); /* anchor for the NAME=value strings */
  int anchor = lua_gettop(L);
  lua_Integer n = 0;
  for (char **e = environ; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    int overridden = lua_rawget(L, t) != LUA_TNIL;
    lua_pop(L, 1);
    if (overridden) continue;
    lua_pushstring(L, *e);
    lua_rawseti(L, anchor, ++n);
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && !lua_isboolean(L, -1)))
      luaL_error(L, "run: env must map names to strings (or false to remove one)");
    const char *k = lua_tostring(L, -2);
    if (!*k || strchr(k, '=')) luaL_error(L, "run: env name '%s' is not valid", k);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushfstring(L, "%s=%s", k, lua_tostring(L, -1));
      lua_rawseti(L, anchor, ++n);
    }
    lua_pop(L, 1);
  }
  char **v = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *v, 1);
  lua_pushvalue(L, anchor);
  lua_setiuservalue(L, -2, 1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, anchor, i);
    v[i - 1] = (char *)lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  v[n] = NULL;
  lua_remove(L, anchor);
  return v;
}

/* run{argv=, env=, stdin=, timeout=, max_output=} -> {status=, signal=, stdout=, stderr=} | nil, err */
static int l_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  task_t *t = host_task(L);
  proc_opts o;
  memset(&o, 0, sizeof o);
  if (lua_getfield(L, 1, "argv") != LUA_TTABLE || luaL_len(L, -1) < 1)
    return luaL_argerror(L, 1, "argv must be a non-empty list of strings");
  o.argv = push_argv(L, 2); /* 3 */
  int et = lua_getfield(L, 1, "env"); /* 4 */
  if (et == LUA_TTABLE) o.envp = push_env(L, 4);
  else if (et != LUA_TNIL) return luaL_argerror(L, 1, "env must be a table");
  int st = lua_getfield(L, 1, "stdin");
  if (st == LUA_TSTRING) o.stdin_data = lua_tolstring(L, -1, &o.stdin_len);
  else if (st != LUA_TNIL) return luaL_argerror(L, 1, "stdin must be a string");
  int tt = lua_getfield(L, 1, "timeout");
  if (tt == LUA_TNUMBER) o.timeout = lua_tonumber(L, -1);
  else if (tt != LUA_TNIL) return luaL_argerror(L, 1, "timeout must be a number of seconds");
  int mt = lua_getfield(L, 1, "max_output");
  if (mt == LUA_TNUMBER && lua_tonumber(L, -1) > 0) o.max_output = (size_t)lua_tonumber(L, -1);
  else if (mt != LUA_TNIL) return luaL_argerror(L, 1, "max_output must be a positive number");

  lproc *q = lua_newuserdatauv(L, sizeof *q, 0);
  memset(q, 0, sizeof *q);
  luaL_setmetatable(L, MT);
  char err[512];
  q->p = proc_start(host_loop(L), &o, on_done, q, err, sizeof err);
  if (!q->p) {
    luaL_pushfail(L);
    error_push(L, "exec", "%s", err);
    return 2;
  }
  q->waiter = t;
  lua_replace(L, 1); /* keep the child's userdata referenced while parked */
  lua_settop(L, 1);
  return host_yield(L, t, on_cancel, q);
}

/* luaopen_ksh_proc: the ksh.proc module (run). */
int luaopen_ksh_proc(lua_State *L) {
  luaL_newmetatable(L, MT);
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"run", l_run}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
