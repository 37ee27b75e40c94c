/* host.c: Lua state, tasks as coroutines on the loop, interruption, and the
 * ksh.loop module (sleep, spawn, suspend/wake, cancel). */
#include "host.h"

#include <lualib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <errno.h>

#include "bundle.h"
#include "error.h"

struct task {
  host_t *h;
  lua_State *co;
  int ref;               /* registry ref keeping the thread alive */
  int started;           /* resumed at least once */
  int nargs;             /* values for the next resume */
  int waiting;           /* parked by host_yield */
  int scheduled;         /* a resume is queued */
  int interrupt;         /* HOST_INT_* to raise at the next resume */
  int kill_tried;        /* host_kill_all resumed it once with the reason */
  int dead;              /* freed while a resume was queued: the queue frees it */
  host_cancel_fn cancel; /* stop whatever would wake us */
  void *cancel_ud;
  host_done_fn done;
  void *done_ud;
  task_t *prev, *next;
};

struct host {
  lua_State *L;
  loop_t *loop;
  task_t *tasks; /* all live tasks */
  int ntasks;
  task_t *running;
  task_t *fg;
  int interrupted;
  double timeout;
  void (*idle_sig)(void *ud, int why);
  void *idle_ud;
  void (*task_err)(void *ud, const char *msg);
  void *task_err_ud;
  int task_failures; /* uncaught errors in background tasks */
  int killing;       /* inside host_kill_all: the errors it causes are silent */
  int verbose;       /* -v: background errors with their traceback */
  int exit_code;     /* os.exit(n) asked for, when trapped: n + 1 */
};

static const char HOST_KEY = 'h';
static host_t *the_host; /* for the signal handler only */
static volatile sig_atomic_t got_signal;

#define KSH_MODULE(name, fn) int fn(lua_State *L);
#include "modules.def"
#undef KSH_MODULE
int luaopen_cjson(lua_State *L);

static task_t **task_slot(lua_State *L) { return (task_t **)lua_getextraspace(L); }

host_t *host_from(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  host_t *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

loop_t *host_loop(lua_State *L) { return host_from(L)->loop; }
lua_State *host_state(host_t *h) { return h->L; }
loop_t *host_loop_of(host_t *h) { return h->loop; }
int host_tasks(host_t *h) { return h->ntasks; }
int host_interrupted(host_t *h) { return h->interrupted; }
lua_State *host_task_thread(task_t *t) { return t->co; }

/* --- errors (built by error.c) --- */

int host_is_interrupt(lua_State *L, int idx) { return host_error_is(L, idx, "interrupted"); }

static void push_interrupt(lua_State *L, int why) {
  switch (why) {
  case HOST_INT_SIGTERM:
    error_push(L, "interrupted", "terminated (SIGTERM)");
    lua_pushliteral(L, "SIGTERM");
    break;
  case HOST_INT_TIMEOUT:
    error_push(L, "interrupted", "timed out");
    lua_pushliteral(L, "timeout");
    break;
  case HOST_INT_CANCEL:
    error_push(L, "cancelled", "task cancelled");
    lua_pushliteral(L, "cancel");
    break;
  default:
    error_push(L, "interrupted", "interrupted");
    lua_pushliteral(L, "SIGINT");
    break;
  }
  lua_setfield(L, -2, "reason");
}

/* --- loading --- */

int host_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname) {
  if (len > 0 && buf[0] == LUA_SIGNATURE[0]) {
    lua_pushfstring(L, "%s: precompiled Lua bytecode is not accepted (load source text)",
                    chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname);
    return LUA_ERRSYNTAX;
  }
  return luaL_loadbufferx(L, buf, len, chunkname, "t");
}

/* Loads the bundled file rel (a repo path) as a chunk named chunkname: its
 * bytecode made at build time (ours, so trusted, unlike a user's), else
 * its text.  Returns a lua_load status (the chunk or a message pushed). */
int host_load_bundled(lua_State *L, const char *rel, const char *chunkname) {
  size_t len;
  const char *code = bundle_find_code(rel, &len);
  if (code && len > 0) {
    if (luaL_loadbufferx(L, code, len, chunkname, "b") == LUA_OK) return LUA_OK;
    lua_pop(L, 1); /* another Lua's bytecode: the text below */
  }
  const char *src = bundle_find(rel, &len);
  if (!src) {
    lua_pushfstring(L, "no bundled file '%s'", rel);
    return LUA_ERRFILE;
  }
  /* a script's "#!" line: skipped, its newline kept (line numbers) */
  size_t skip = 0;
  if (len > 1 && src[0] == '#' && src[1] == '!')
    while (skip < len && src[skip] != '\n') skip++;
  return host_loadbuffer(L, src + skip, len - skip, chunkname);
}

/* package.searchers entry: modules bundled in the binary, or from
 * $KSCRIPT_LUA_DIR/<a>/<b>.lua when that is set (development). */
static int bundle_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "lua/");
  for (const char *p = name; *p; p++) luaL_addchar(&b, *p == '.' ? '/' : *p);
  luaL_addstring(&b, ".lua");
  luaL_pushresult(&b);
  const char *rel = lua_tostring(L, -1);
  const char *dir = getenv("KSCRIPT_LUA_DIR");
  if (dir && *dir) {
    lua_pushfstring(L, "%s/%s", dir, rel + 4);
    const char *path = lua_tostring(L, -1);
    FILE *f = fopen(path, "rb");
    if (f) {
      fclose(f);
      if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
      lua_pushstring(L, path);
      return 2;
    }
    lua_pop(L, 1);
  }
  size_t len;
  const char *src = bundle_find(rel, &len);
  if (!src) {
    lua_pushfstring(L, "no bundled module '%s'", rel);
    return 1;
  }
  lua_pushfstring(L, "@%s", rel);
  if (host_load_bundled(L, rel, lua_tostring(L, -1)) != LUA_OK) return lua_error(L);
  lua_pushstring(L, rel);
  return 2;
}

/* --- tasks --- */

static void task_resume(task_t *t);

static void task_resume_cb(void *ud) {
  task_t *t = ud;
  t->scheduled = 0;
  if (t->dead) {
    free(t);
    return;
  }
  task_resume(t);
}

static void schedule(task_t *t) {
  if (t->scheduled) return;
  t->scheduled = 1;
  loop_defer(t->h->loop, task_resume_cb, t);
}

static const char WAIT_MARK = 'w';

/* The task L belongs to: its own thread, or (for a coroutine created inside
 * a task and resumed through the wrapped coroutine.resume) the running task. */
static task_t *task_of(lua_State *L) {
  task_t *t = *task_slot(L);
  if (!t) {
    host_t *h = host_from(L);
    if (h->running && L != h->L && lua_isyieldable(L)) t = h->running;
  }
  return t;
}

task_t *host_task(lua_State *L) {
  task_t *t = task_of(L);
  if (!t) luaL_error(L, "cannot wait here: not inside a kscript task (use spawn())");
  return t;
}

static int yield_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  task_t *t = task_of(L);
  if (t && t->interrupt) {
    int why = t->interrupt;
    t->interrupt = 0;
    push_interrupt(L, why);
    return lua_error(L);
  }
  return lua_gettop(L) - (int)ctx;
}

int host_yield(lua_State *L, task_t *t, host_cancel_fn cancel, void *ud) {
  t->waiting = 1;
  t->cancel = cancel;
  t->cancel_ud = ud;
  lua_KContext base = (lua_KContext)lua_gettop(L);
  if (t->co == L) return lua_yieldk(L, 0, base, yield_k);
  /* a nested coroutine: the wrapped coroutine.resume passes the mark up to
   * the task's thread and hands back what the task is resumed with */
  lua_pushlightuserdata(L, (void *)&WAIT_MARK);
  return lua_yieldk(L, 1, base, yield_k);
}

void host_wake(task_t *t, int nres) {
  if (!t->waiting) return;
  t->waiting = 0;
  t->cancel = NULL;
  t->nargs = nres;
  schedule(t);
}

static void task_unlink(task_t *t) {
  host_t *h = t->h;
  if (t->prev) t->prev->next = t->next;
  else h->tasks = t->next;
  if (t->next) t->next->prev = t->prev;
  h->ntasks--;
  if (h->fg == t) h->fg = NULL;
}

static void task_free(task_t *t) {
  host_t *h = t->h;
  *task_slot(t->co) = NULL;
  luaL_unref(h->L, LUA_REGISTRYINDEX, t->ref);
  if (t->scheduled) t->dead = 1; /* task_resume_cb frees it */
  else free(t);
}

/* Close the pending <close> variables of a dead or parked thread: after an
 * error, each handler receives that error (errref, or LUA_NOREF for nil).
 * An error raised by a handler is reported, never swallowed. */
static void close_thread(host_t *h, lua_State *co, int errref) {
  lua_settop(co, 0);
  if (errref != LUA_NOREF) lua_rawgeti(co, LUA_REGISTRYINDEX, errref);
  int st = lua_resetthread(co);
  /* lua_resetthread returns the original error status when the handlers
   * succeed; a handler's own error replaces the error object */
  int raised = 0;
  if (st != LUA_OK) {
    if (errref == LUA_NOREF) raised = 1;
    else {
      lua_rawgeti(co, LUA_REGISTRYINDEX, errref);
      raised = !lua_rawequal(co, -1, -2);
      lua_pop(co, 1);
    }
  }
  if (errref != LUA_NOREF) luaL_unref(co, LUA_REGISTRYINDEX, errref);
  if (raised) {
    const char *msg = luaL_tolstring(co, -1, NULL);
    host_task_error(h, lua_pushfstring(co, "error in a <close> handler: %s", msg));
  }
  lua_settop(co, 0);
}

static void task_finish(task_t *t, int status, int nres) {
  int errref = LUA_NOREF;
  if (status != LUA_OK && status != LUA_YIELD) { /* the close handlers get it after done() */
    lua_pushvalue(t->co, -1);
    errref = luaL_ref(t->co, LUA_REGISTRYINDEX);
  }
  task_unlink(t);
  if (t->done) t->done(t->done_ud, t, status, t->co, nres);
  close_thread(t->h, t->co, errref);
  task_free(t);
}

static void hook_interrupt(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  host_t *h = host_from(L);
  int why = h->interrupted ? h->interrupted : HOST_INT_SIGINT;
  got_signal = 0;
  push_interrupt(L, why);
  lua_error(L);
}

static void task_resume(task_t *t) {
  host_t *h = t->h;
  if (t->waiting) return; /* still parked */
  int nres = 0;
  int nargs = t->nargs;
  t->nargs = 0;
  if (!t->started) {
    t->started = 1;
    if (t->interrupt) {
      lua_settop(t->co, 0);
      push_interrupt(t->co, t->interrupt);
      task_finish(t, LUA_ERRRUN, 0);
      return;
    }
    nargs = lua_gettop(t->co) - 1;
  }
  task_t *prev = h->running;
  h->running = t;
  int st = lua_resume(t->co, h->L, nargs, &nres);
  h->running = prev;
  if (st == LUA_YIELD) {
    if (t->waiting) {
      lua_pop(t->co, nres);
      return;
    }
    /* a bare coroutine.yield() at a task's top level */
    lua_pop(t->co, nres);
    lua_pushliteral(t->co, "attempt to yield from outside a coroutine");
    task_finish(t, LUA_ERRRUN, 0);
    return;
  }
  task_finish(t, st, nres);
}

task_t *host_spawn(host_t *h, int nargs, host_done_fn done, void *ud) {
  lua_State *L = h->L;
  task_t *t = calloc(1, sizeof *t);
  if (!t) {
    lua_pop(L, nargs + 1);
    return NULL;
  }
  lua_State *co = lua_newthread(L);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->h = h;
  t->co = co;
  t->done = done;
  t->done_ud = ud;
  *task_slot(co) = t;
  lua_xmove(L, co, nargs + 1);
  t->next = h->tasks;
  if (h->tasks) h->tasks->prev = t;
  h->tasks = t;
  h->ntasks++;
  schedule(t);
  return t;
}

void host_set_foreground(host_t *h, task_t *t) { h->fg = t; }

void host_interrupt(host_t *h, task_t *t, int why) {
  (void)h;
  if (!t) return;
  if (t->waiting) {
    if (t->cancel) t->cancel(t->cancel_ud);
    t->cancel = NULL;
    t->waiting = 0;
    t->interrupt = why;
    t->nargs = 0;
    schedule(t);
  } else if (!t->started) {
    t->interrupt = why; /* ends before running */
    schedule(t);
  } else {
    t->interrupt = why; /* will be raised at its next wait */
  }
}

void host_kill_all(host_t *h) {
  int why = h->interrupted ? h->interrupted : HOST_INT_CANCEL;
  h->killing++;
  /* First each parked task unwinds once from its wait with the reason (its
   * <close> handlers get the error); what is still alive after that (it
   * caught the error and waited again) is closed below. */
  for (;;) {
    task_t *t = h->tasks;
    while (t && (t->kill_tried || !t->started)) t = t->next;
    if (!t) break;
    t->kill_tried = 1;
    if (t->waiting && t->cancel) t->cancel(t->cancel_ud);
    t->cancel = NULL;
    t->waiting = 0;
    t->interrupt = why;
    t->nargs = 0;
    task_resume(t);
  }
  h->killing--;
  while (h->tasks) {
    task_t *t = h->tasks;
    if (t->waiting && t->cancel) t->cancel(t->cancel_ud);
    t->waiting = 0;
    task_unlink(t);
    /* its <close> handlers learn why: the interruption, else a cancellation */
    push_interrupt(t->co, h->interrupted ? h->interrupted : HOST_INT_CANCEL);
    close_thread(h, t->co, luaL_ref(t->co, LUA_REGISTRYINDEX));
    task_free(t);
  }
}

/* --- signals --- */

static void on_signal(int sig) {
  if (sig == SIGINT && got_signal == SIGINT) {
    /* a second Ctrl-C before the first was delivered: the running chunk is
     * stuck in C; die of SIGINT as lua.c does */
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
    return;
  }
  got_signal = sig;
  if (the_host) {
    the_host->interrupted = sig == SIGTERM ? HOST_INT_SIGTERM : sig == SIGALRM ? HOST_INT_TIMEOUT : HOST_INT_SIGINT;
    task_t *r = the_host->running;
    if (r && (r == the_host->fg || !the_host->fg))
      lua_sethook(r->co, hook_interrupt, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
  }
  loop_signal_from_handler(sig);
}

static void loop_signal(void *ud, int sig) {
  host_t *h = ud;
  (void)sig;
  if (!got_signal) return; /* the hook already delivered it */
  got_signal = 0;
  if (h->fg) host_interrupt(h, h->fg, h->interrupted);
  else if (h->idle_sig) h->idle_sig(h->idle_ud, h->interrupted);
}

void host_on_idle_signal(host_t *h, void (*fn)(void *ud, int why), void *ud) {
  h->idle_sig = fn;
  h->idle_ud = ud;
}

void host_reset_interrupt(host_t *h) {
  h->interrupted = 0;
  got_signal = 0;
}

void host_install_signals(host_t *h, double timeout_seconds) {
  the_host = h;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  loop_on_signal(h->loop, loop_signal, h);
  if (timeout_seconds > 0) {
    /* a real signal, so that a busy Lua loop is stopped too */
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)timeout_seconds;
    it.it_value.tv_usec = (suseconds_t)((timeout_seconds - (double)(time_t)timeout_seconds) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);
  }
}

void host_run_until(host_t *h, int (*stop)(void *ud), void *ud) {
  while (!stop(ud)) {
    if (!loop_pending(h->loop) && h->fg == NULL && h->ntasks == 0) break;
    if (!loop_pending(h->loop) && !got_signal) break; /* nothing can wake anyone */
    loop_run_once(h->loop, -1);
  }
}

/* --- uncaught error report --- */

void host_error_report(lua_State *co, int verbose) {
  int top = lua_gettop(co);
  const char *msg;
  int where = 0;
  if (lua_type(co, top) == LUA_TTABLE && luaL_getmetafield(co, top, "__tostring") != LUA_TNIL) {
    lua_pop(co, 1);
    msg = luaL_tolstring(co, top, NULL);
    where = 1;
  } else if (lua_type(co, top) == LUA_TSTRING || lua_type(co, top) == LUA_TNUMBER) {
    msg = lua_tostring(co, top);
    lua_pushstring(co, msg);
  } else {
    msg = lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, top));
    where = 1;
  }
  if (where) {
    /* Error tables carry no position: name the innermost frame of the
     * user's code; none when only the bundled library is on the stack (an
     * error re-raised by a task, say). */
    lua_Debug ar;
    for (int lv = 0; lua_getstack(co, lv, &ar); lv++) {
      lua_getinfo(co, "Sl", &ar);
      if (ar.currentline <= 0 || strncmp(ar.source, "@lua/", 5) == 0) continue;
      lua_pushfstring(co, "%s:%d: %s", ar.short_src, ar.currentline, msg);
      lua_remove(co, -2);
      break;
    }
  }
  /* a position inside the bundled library: misuse it should have caught, or a bug */
  const char *m = lua_tostring(co, -1);
  if (m && strncmp(m, "lua/", 4) == 0 && strstr(m, ".lua:")) {
    lua_pushfstring(co, "%s (an internal error: this is a bug in kscript)", m);
    lua_remove(co, -2);
  }
  if (verbose) {
    luaL_traceback(co, co, lua_tostring(co, -1), 0);
    lua_remove(co, -2);
  }
}

/* --- what the front ends call --- */

static int push_field_k(lua_State *L) {
  const char *field = lua_tostring(L, 2);
  lua_getglobal(L, "require");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  lua_getfield(L, -1, field);
  return 1;
}

int host_push_field(host_t *h, const char *module, const char *field) {
  lua_State *L = h->L;
  lua_pushcfunction(L, push_field_k);
  lua_pushstring(L, module);
  lua_pushstring(L, field);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "kscript: %s\n", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
    return -1;
  }
  return 0;
}

int host_call(host_t *h, const char *module, const char *field, int nargs, int nres) {
  lua_State *L = h->L;
  if (host_push_field(h, module, field) != 0) {
    lua_pop(L, nargs);
    return -1;
  }
  lua_insert(L, -nargs - 1);
  if (lua_pcall(L, nargs, nres, 0) != LUA_OK) {
    fprintf(stderr, "kscript: %s\n", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
    return -1;
  }
  return 0;
}

void host_push_string(host_t *h, const char *s) { lua_pushstring(h->L, s); }

void host_set_args(host_t *h, char **argv, int argc, int base, const char *arg0) {
  lua_State *L = h->L;
  lua_createtable(L, argc - base - 1 > 0 ? argc - base - 1 : 0, base + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - base);
  }
  if (arg0) {
    lua_pushstring(L, arg0);
    lua_rawseti(L, -2, 0);
  }
  lua_setglobal(L, "arg");
}

int host_load_file(host_t *h, const char *path) {
  lua_State *L = h->L;
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
    return LUA_ERRFILE;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, n);
  int err = ferror(f);
  if (f != stdin) fclose(f);
  luaL_pushresult(&b);
  if (err) {
    lua_pop(L, 1);
    lua_pushfstring(L, "cannot read %s", path);
    return LUA_ERRFILE;
  }
  size_t len;
  const char *src = lua_tolstring(L, -1, &len);
  /* skip a #! line as lua.c does (keep the newline so line numbers hold) */
  size_t skip = 0;
  if (len > 0 && src[0] == '#')
    while (skip < len && src[skip] != '\n') skip++;
  const char *name = strcmp(path, "-") == 0 ? "=stdin" : lua_pushfstring(L, "@%s", path);
  int st = host_loadbuffer(L, src + skip, len - skip, name);
  if (strcmp(path, "-") != 0) lua_remove(L, -2); /* chunkname */
  lua_remove(L, -2);                               /* source */
  return st;
}

int host_load_string(host_t *h, const char *code, const char *chunkname) {
  return host_loadbuffer(h->L, code, strlen(code), chunkname);
}

const char *host_pop_message(host_t *h, char *buf, size_t size) {
  snprintf(buf, size, "%s", luaL_tolstring(h->L, -1, NULL));
  lua_pop(h->L, 2);
  return buf;
}

/* --- background tasks: errors, os.exit --- */

static void spawned_done(void *ud, task_t *t, int status, lua_State *co, int nres) {
  (void)ud;
  (void)nres;
  if (status == LUA_OK) return;
  /* An uncaught error in a background task: report it and count it (the
   * runner then ends the script with 1), unless it was a cancellation asked
   * for by cancel() or a trapped os.exit(). */
  if (host_error_is(co, -1, "cancelled") || t->h->killing) return;
  if (host_error_is(co, -1, "exit")) {
    lua_getfield(co, -1, "code");
    t->h->exit_code = (int)lua_tointeger(co, -1) + 1;
    lua_pop(co, 1);
    return;
  }
  t->h->task_failures++;
  /* under -v, the traceback of where the error happened: ksh.spawn keeps it
   * (its own stack, where the error is re-raised, says nothing) */
  int tb = 0;
  if (t->h->verbose) {
    luaL_getsubtable(co, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(co, -1, "ksh");
    tb = lua_istable(co, -1) && lua_getfield(co, -1, "_task_traceback") == LUA_TSTRING;
    if (tb) {
      lua_insert(co, -4); /* below the tables: error, traceback, loaded, ksh */
      lua_pushnil(co);
      lua_setfield(co, -2, "_task_traceback");
      lua_pop(co, 2); /* traceback, error */
    } else {
      lua_pop(co, lua_istable(co, -1) ? 3 : 2);
    }
  }
  host_error_report(co, t->h->verbose && !tb);
  if (tb) host_task_error(t->h, lua_pushfstring(co, "error in task: %s\n%s", lua_tostring(co, -1), lua_tostring(co, -3)));
  else host_task_error(t->h, lua_pushfstring(co, "error in task: %s", lua_tostring(co, -1)));
  lua_pop(co, 2);
  if (tb) lua_remove(co, -2);
}

void host_task_error(host_t *h, const char *msg) {
  if (h->task_err) h->task_err(h->task_err_ud, msg);
  else {
    fprintf(stderr, "kscript: %s\n", msg);
    fflush(stderr);
  }
}

void host_on_task_error(host_t *h, void (*fn)(void *ud, const char *msg), void *ud) {
  h->task_err = fn;
  h->task_err_ud = ud;
}

int host_task_failures(host_t *h) { return h->task_failures; }

void host_set_verbose(host_t *h, int verbose) { h->verbose = verbose; }

int host_error_is(lua_State *L, int idx, const char *kind) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_getfield(L, idx, "kind");
  int r = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), kind) == 0;
  lua_pop(L, 1);
  return r;
}

/* os.exit while trapped: an error of kind "exit" (code = n) that unwinds the
 * chunk through its <close> handlers; the front end leaves with n. */
static int l_exit_trapped(lua_State *L) {
  int code = lua_isboolean(L, 1) ? (lua_toboolean(L, 1) ? 0 : 1) : (int)luaL_optinteger(L, 1, 0);
  error_push(L, "exit", "exit %d", code);
  lua_pushinteger(L, code);
  lua_setfield(L, -2, "code");
  return lua_error(L);
}

void host_trap_exit(host_t *h) {
  lua_State *L = h->L;
  lua_getglobal(L, "os");
  lua_pushcfunction(L, l_exit_trapped);
  lua_setfield(L, -2, "exit");
  lua_pop(L, 1);
}

int host_exit_requested(host_t *h) { return h->exit_code ? h->exit_code - 1 : -1; }

task_t *host_spawn_background(host_t *h, int nargs) { return host_spawn(h, nargs, spawned_done, NULL); }

task_t *host_task_of_thread(lua_State *co) { return *task_slot(co); }

task_t *host_current_task(lua_State *L) { return task_of(L); }

int host_task_suspended(task_t *t) { return t->waiting && t->cancel == NULL; }

void host_push_interrupt(lua_State *L, int why) { push_interrupt(L, why); }

void host_push_wait_mark(lua_State *L) { lua_pushlightuserdata(L, (void *)&WAIT_MARK); }

/* --- the state --- */

/* What load and loadfile return: the chunk (its first upvalue set to env
 * when given), or fail and the message. */
static int load_result(lua_State *L, int st, int env) {
  if (st != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (env) {
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

static int l_load_text(lua_State *L) {
  /* load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t" */
  size_t len;
  int st;
  const char *s = lua_tolstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, s ? s : "=(load)");
  int env = !lua_isnone(L, 4) ? 4 : 0;
  if (s) {
    st = host_loadbuffer(L, s, len, name);
  } else {
    /* reader function: collect the pieces first */
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
      lua_pushvalue(L, 1);
      lua_call(L, 0, 1);
      if (lua_isnil(L, -1) || (lua_isstring(L, -1) && lua_rawlen(L, -1) == 0)) {
        lua_pop(L, 1);
        break;
      }
      if (!lua_isstring(L, -1)) return luaL_error(L, "reader function must return a string");
      luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    const char *src = lua_tolstring(L, -1, &len);
    st = host_loadbuffer(L, src, len, luaL_optstring(L, 2, "=(load)"));
    lua_remove(L, -2);
  }
  return load_result(L, st, env);
}

/* luaL_loadfilex in text mode, with host_loadbuffer's message for bytecode */
static int load_file_text(lua_State *L, const char *fname) {
  int st = luaL_loadfilex(L, fname, "t");
  if (st != LUA_OK && strstr(lua_tostring(L, -1), "attempt to load a binary chunk")) {
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: precompiled Lua bytecode is not accepted (load source text)", fname ? fname : "stdin");
  }
  return st;
}

static int l_loadfile_text(lua_State *L) {
  const char *fname = luaL_optstring(L, 1, NULL);
  int env = !lua_isnone(L, 3) ? 3 : 0;
  int st = load_file_text(L, fname);
  return load_result(L, st, env);
}

static int l_dofile_text(lua_State *L) {
  const char *fname = luaL_optstring(L, 1, NULL);
  lua_settop(L, 1);
  if (load_file_text(L, fname) != LUA_OK) return lua_error(L);
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - 1;
}

/* package.searchers entry replacing Lua's own for files on package.path:
 * the same search, but a precompiled chunk is refused */
static int l_file_searcher_text(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *path = lua_tostring(L, -1);
  if (!path) return luaL_error(L, "'package.path' must be a string");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchpath");
  lua_pushstring(L, name);
  lua_pushstring(L, path);
  lua_call(L, 2, 2);
  if (lua_isnil(L, -2)) return 1; /* the "no file ..." message */
  lua_pop(L, 1);
  const char *file = lua_tostring(L, -1);
  if (luaL_loadfilex(L, file, "t") != LUA_OK)
    return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file, lua_tostring(L, -1));
  lua_pushstring(L, file);
  return 2;
}

host_t *host_new(void) {
  host_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->loop = loop_new();
  h->L = luaL_newstate();
  if (!h->loop || !h->L) {
    host_free(h);
    return NULL;
  }
  lua_State *L = h->L;
  *task_slot(L) = NULL;
  lua_pushlightuserdata(L, h);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &HOST_KEY);
  luaL_openlibs(L);

  /* text-only loading everywhere */
  lua_pushcfunction(L, l_load_text);
  lua_setglobal(L, "load");
  lua_pushcfunction(L, l_loadfile_text);
  lua_setglobal(L, "loadfile");
  lua_pushcfunction(L, l_dofile_text);
  lua_setglobal(L, "dofile");

  /* preload the C modules and add the bundle searcher after the preload one */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
#define KSH_MODULE(name, fn) \
  lua_pushcfunction(L, fn);  \
  lua_setfield(L, -2, name);
#include "modules.def"
#undef KSH_MODULE
  lua_pushcfunction(L, luaopen_cjson);
  lua_setfield(L, -2, "cjson");
  lua_pop(L, 1);

  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_pushcfunction(L, bundle_searcher);
  for (lua_Integer i = (lua_Integer)luaL_len(L, -2) + 1; i > 2; i--) {
    lua_rawgeti(L, -2, i - 1);
    lua_rawseti(L, -3, i);
  }
  lua_rawseti(L, -2, 2);
  /* require's file searcher (now third) loads source text only, too */
  lua_pushcfunction(L, l_file_searcher_text);
  lua_rawseti(L, -2, 3);
  lua_pop(L, 2);
  return h;
}

void host_free(host_t *h) {
  if (!h) return;
  if (h->L) {
    host_kill_all(h);
    lua_close(h->L);
  }
  if (h->loop) loop_free(h->loop);
  if (the_host == h) the_host = NULL;
  free(h);
}
