/* host.h: the Lua state, its tasks (coroutines) and the loop that drives them.
 *
 * Every piece of Lua code runs in a task: a coroutine resumed by the host.
 * A C function that must wait (a request, a timer, the next stream record)
 * calls host_task() to find its task, arranges for host_wake() to be called
 * later, and returns host_yield().  When woken, the values it pushed onto the
 * task's thread become the C function's results.  If the task is interrupted
 * (Ctrl-C, SIGTERM, --timeout, cancel) while it waits, the cancel callback
 * runs first (so the resource stops calling back) and the wait raises the
 * interruption error instead.
 */
#ifndef KSH_HOST_H
#define KSH_HOST_H

#include <lua.h>
#include <lauxlib.h>

#include "loop.h"

typedef struct host host_t;
typedef struct task task_t;
typedef void (*host_cancel_fn)(void *ud);
/* Called when a task ends: status is LUA_OK (results on co's stack, nres of
 * them) or an error status (the error object on top of co). */
typedef void (*host_done_fn)(void *ud, task_t *t, int status, lua_State *co, int nres);

/* Why the process was interrupted (exit codes 130, 143, 124). */
enum { HOST_INT_NONE = 0, HOST_INT_SIGINT, HOST_INT_SIGTERM, HOST_INT_TIMEOUT, HOST_INT_CANCEL };

host_t *host_new(void);
void host_free(host_t *h);
lua_State *host_state(host_t *h);
loop_t *host_loop_of(host_t *h);

/* The host and loop of a Lua state (any thread of it). */
host_t *host_from(lua_State *L);
loop_t *host_loop(lua_State *L);

/* --- for bindings that wait --- */
/* The task whose thread is L; raises a clear error when L is not a task's
 * thread (a plain coroutine.create coroutine, for example). */
task_t *host_task(lua_State *L);
/* Park the task; return this value from the C function. */
int host_yield(lua_State *L, task_t *t, host_cancel_fn cancel, void *ud);
/* The thread to push results onto before host_wake(). */
lua_State *host_task_thread(task_t *t);
/* Schedule the parked task to resume with the nres values pushed on its thread. */
void host_wake(task_t *t, int nres);

/* Errors: error.h (error_push, error_fail). */
/* Non-zero if the value at idx is an interruption error. */
int host_is_interrupt(lua_State *L, int idx);
/* Non-zero if the value at idx is an error table of that kind. */
int host_error_is(lua_State *L, int idx, const char *kind);

/* --- for the ksh.loop binding (src/lua/lua_loop.c) --- */
/* Start the function on top of L's main state (nargs args below... as
 * host_spawn) as a background task: an uncaught error in it is reported and
 * counted (host_task_failures), a cancellation is silent. */
task_t *host_spawn_background(host_t *h, int nargs);
/* The live task whose thread is co, or NULL. */
task_t *host_task_of_thread(lua_State *co);
/* The task L runs in (its thread, or a coroutine resumed inside it), or NULL. */
task_t *host_current_task(lua_State *L);
/* Non-zero if t is parked by a bare suspend (nothing but wake() resumes it). */
int host_task_suspended(task_t *t);
/* Push the interruption error for why (HOST_INT_*). */
void host_push_interrupt(lua_State *L, int why);
/* Push the value a wait inside a nested coroutine yields up to its task. */
void host_push_wait_mark(lua_State *L);

/* --- running code --- */
/* Pop a function and nargs arguments from the main state and start them as a
 * task (first resumed from the loop).  done may be NULL. */
task_t *host_spawn(host_t *h, int nargs, host_done_fn done, void *ud);
/* The task that Ctrl-C and --timeout interrupt (the script, or the chunk the
 * REPL is running). */
void host_set_foreground(host_t *h, task_t *t);
/* Interrupt a task with the given reason (HOST_INT_*). */
void host_interrupt(host_t *h, task_t *t, int why);
/* Install SIGINT/SIGTERM handling and, if seconds > 0, the --timeout timer. */
void host_install_signals(host_t *h, double timeout_seconds);
/* Called from the loop for SIGINT/SIGTERM when no foreground task runs. */
void host_on_idle_signal(host_t *h, void (*fn)(void *ud, int why), void *ud);
/* Forget a handled interruption (the REPL goes on after Ctrl-C). */
void host_reset_interrupt(host_t *h);
/* Run the loop until stop() returns true or nothing is left to do. */
void host_run_until(host_t *h, int (*stop)(void *ud), void *ud);
/* Number of live tasks. */
int host_tasks(host_t *h);
/* End every live task, running its pending __close handlers. */
void host_kill_all(host_t *h);
/* The interruption that ended the run (HOST_INT_*), or 0. */
int host_interrupted(host_t *h);
/* Report an uncaught error of a background task (or of a <close> handler):
 * through the hook set by host_on_task_error, else "kscript: MSG" on stderr. */
void host_task_error(host_t *h, const char *msg);
/* Where background errors go (the prompt prints them above its line). */
void host_on_task_error(host_t *h, void (*fn)(void *ud, const char *msg), void *ud);
/* -v: reports of background errors carry their traceback. */
void host_set_verbose(host_t *h, int verbose);
/* Number of background tasks that ended with an uncaught error. */
int host_task_failures(host_t *h);
/* Make os.exit(n) raise an error of kind "exit" (field code) instead of
 * ending the process, so the prompt leaves through its own exit path. */
void host_trap_exit(host_t *h);
/* The code of a trapped os.exit() called in a background task, or -1. */
int host_exit_requested(host_t *h);
/* Build the one-line report of an uncaught error (the error at top of co),
 * with a traceback when verbose; pushes the string onto co. */
void host_error_report(lua_State *co, int verbose);

/* --- for the front ends: no raw Lua stack sequences there --- */
/* Push require(module)[field] onto the main state; on failure print
 * "kscript: MSG" and return -1 (nothing pushed). */
int host_push_field(host_t *h, const char *module, const char *field);
/* Call require(module)[field] protected with the nargs values on top of the
 * main state: 0 and nres results, or -1 after printing "kscript: MSG" (the
 * arguments popped, nothing pushed). */
int host_call(host_t *h, const char *module, const char *field, int nargs, int nres);
/* Push a string onto the main state (an argument for host_call/host_spawn). */
void host_push_string(host_t *h, const char *s);
/* The global arg as lua.c builds it: arg[i - base] = argv[i], so arg[0] is
 * argv[base] (or arg0 when not NULL), the options before it negative. */
void host_set_args(host_t *h, char **argv, int argc, int base, const char *arg0);
/* Load a script file (text only, a #! line skipped; "-" is stdin) onto the
 * main state: LUA_OK and the chunk, or an error status and the message. */
int host_load_file(host_t *h, const char *path);
/* Load code (text only) onto the main state, as host_load_file. */
int host_load_string(host_t *h, const char *code, const char *chunkname);
/* Pop the value on top of the main state into buf as text; returns buf. */
const char *host_pop_message(host_t *h, char *buf, size_t size);

/* Load the bundled file rel ("lua/k8s.lua") as chunkname: its build-time
 * bytecode, else its text; a lua_load status, the chunk or a message pushed. */
int host_load_bundled(lua_State *L, const char *rel, const char *chunkname);

/* Load a chunk in text mode only; a precompiled chunk is refused clearly. */
int host_loadbuffer(lua_State *L, const char *buf, size_t len, const char *chunkname);

#endif
