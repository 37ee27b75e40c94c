/* lua_loop.c: the ksh.loop module, the Lua face of the task layer: sleep,
 * spawn, suspend/wake, cancel, current, alive, now, tasks, error.  The
 * mechanisms (tasks, waits, interruption, what an uncaught error in a
 * background task does) live in host.c; this file only binds them. */
#include <stdint.h>

#include "error.h"
#include "host.h"
#include "startup.h"


typedef struct {
  task_t *t;
  uint64_t timer;
  loop_t *loop;
} sleeper_t;

static void sleep_fire(void *ud) {
  task_t *t = ud;
  host_wake(t, 0);
}

static void sleep_cancel(void *ud) {
  sleeper_t *s = ud;
  loop_timer_cancel(s->loop, s->timer);
}

static int l_sleep(lua_State *L) {
  lua_Number secs = luaL_checknumber(L, 1);
  task_t *t = host_task(L);
  sleeper_t *s = lua_newuserdatauv(L, sizeof *s, 0); /* lives on the stack while parked */
  s->t = t;
  s->loop = host_loop(L);
  s->timer = loop_timer(s->loop, secs, sleep_fire, t);
  return host_yield(L, t, sleep_cancel, s);
}

/* spawn(fn, ...) -> thread: start fn(...) as a task on the loop. */
static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  host_t *h = host_from(L);
  int n = lua_gettop(L);
  lua_State *M = host_state(h);
  if (L != M) lua_xmove(L, M, n);
  task_t *t = host_spawn_background(h, n - 1);
  if (!t) return luaL_error(L, "out of memory");
  lua_State *co = host_task_thread(t);
  lua_pushthread(co);
  lua_xmove(co, L, 1);
  return 1;
}

/* suspend() -> ...: park the current task until wake(thread, ...). */
static int l_suspend(lua_State *L) {
  task_t *t = host_task(L);
  return host_yield(L, t, NULL, NULL);
}

/* wake(thread, ...) -> boolean: resume a task parked by suspend(). */
static int l_wake(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  task_t *t = host_task_of_thread(co);
  if (!t || !host_task_suspended(t)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int n = lua_gettop(L) - 1;
  lua_xmove(L, co, n);
  host_wake(t, n);
  lua_pushboolean(L, 1);
  return 1;
}

/* cancel(thread): raise a "cancelled" error inside that task. */
static int l_cancel(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  task_t *t = host_task_of_thread(co);
  if (!t) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (co == L) {
    host_push_interrupt(L, HOST_INT_CANCEL);
    return lua_error(L);
  }
  host_interrupt(host_from(L), t, HOST_INT_CANCEL);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_current(lua_State *L) {
  task_t *t = host_current_task(L);
  if (!t) lua_pushnil(L);
  else {
    lua_State *co = host_task_thread(t);
    lua_pushthread(co);
    lua_xmove(co, L, 1);
  }
  return 1;
}

static int l_alive(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_pushboolean(L, host_task_of_thread(lua_tothread(L, 1)) != NULL);
  return 1;
}

static int l_now(lua_State *L) {
  lua_pushnumber(L, loop_now());
  return 1;
}

static int l_tasks(lua_State *L) {
  lua_pushinteger(L, host_tasks(host_from(L)));
  return 1;
}


static int l_is_interrupt(lua_State *L) {
  lua_pushboolean(L, host_is_interrupt(L, 1));
  return 1;
}

/* require "ksh.loop": the task verbs the prelude (lua/ksh.lua) builds on. */
int luaopen_ksh_loop(lua_State *L);
KSH_STARTUP int luaopen_ksh_loop(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"sleep", l_sleep},     {"spawn", l_spawn}, {"suspend", l_suspend},
      {"wake", l_wake},       {"cancel", l_cancel}, {"current", l_current},
      {"alive", l_alive},     {"now", l_now},     {"tasks", l_tasks},
      {"error", error_new},     {"is_interrupt", l_is_interrupt}, {NULL, NULL}};
  luaL_newlib(L, fns);
  error_push_mt(L);
  lua_setfield(L, -2, "error_mt");
  host_push_wait_mark(L);
  lua_setfield(L, -2, "wait_mark");
  return 1;
}
