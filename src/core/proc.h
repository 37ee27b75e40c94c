/* proc.h: child processes on the event loop.
 *
 * proc_start() forks and execs argv with its stdin fed from memory and its
 * stdout and stderr captured into memory (never a temp file): every fd is
 * watched by the loop, so other work goes on while the child runs.  The
 * child runs in a process group of its own, so a terminal's Ctrl-C reaches
 * kscript only; kscript kills the group on timeout or cancellation.  No Lua.
 */
#ifndef KSH_PROC_H
#define KSH_PROC_H

#include <stddef.h>

#include "loop.h"

typedef struct proc proc_t;
/* Called once, from the loop, when the child has exited and its output is
 * read (or on timeout / output overflow).  The callback may proc_free(p). */
typedef void (*proc_done_fn)(void *ud, proc_t *p);

typedef struct {
  char *const *argv;      /* argv[0] is looked up in PATH when it has no '/' */
  char *const *envp;      /* the whole environment; NULL: inherit ours */
  const char *stdin_data; /* fed to the child's stdin; NULL: /dev/null */
  size_t stdin_len;
  double timeout;         /* seconds; <= 0: none */
  size_t max_output;      /* cap on stdout and on stderr; 0: 64 MiB */
} proc_opts;

/* Start the child.  Returns NULL with a message in err (errlen bytes) when
 * the command cannot run (not found, not executable, fork failed).  The
 * caller owns the result (proc_free). */
proc_t *proc_start(loop_t *lp, const proc_opts *o, proc_done_fn done, void *ud, char *err, size_t errlen);

/* After done: "exited" (status = exit code), "signaled" (status = signal)
 * or NULL when the child did not finish (see proc_error). */
const char *proc_result(const proc_t *p, int *status);
/* After done: NULL, or the failure kind ("timeout", "exec") with a message. */
const char *proc_error(const proc_t *p, const char **kind);
/* Captured output, NUL-terminated (owned by p, valid until proc_free). */
const char *proc_stdout(const proc_t *p, size_t *len);
const char *proc_stderr(const proc_t *p, size_t *len);
/* Process id of the child (0 once reaped). */
int proc_pid(const proc_t *p);

/* Stop watching, kill the child's process group if it still runs, reap it,
 * wipe the captured output (it may hold credentials) and free. */
void proc_free(proc_t *p);

#endif
