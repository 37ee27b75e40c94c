/* Unit tests of child processes on the loop (src/core/proc.c): output and
 * status, stdin, environment, exec failure, timeout, a timer running while a
 * child runs, large output, the output cap, and proc_free killing a child. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "proc.h"
#include "tap.h"

static int ndone;
static void on_done(void *ud, proc_t *p) {
  (void)p;
  ndone++;
  *(int *)ud = 1;
}

static int ticks;
static loop_t *g_lp;
static void tick(void *ud) {
  (void)ud;
  ticks++;
  loop_timer(g_lp, 0.02, tick, NULL);
}

/* run the loop until *flag or `secs` pass */
static void run_until(loop_t *lp, int *flag, double secs) {
  double end = loop_now() + secs;
  while (!*flag && loop_now() < end) loop_run_once(lp, 50);
}

static proc_t *start(loop_t *lp, char *const *argv, const char *in, double timeout, size_t cap, int *flag) {
  proc_opts o = {argv, NULL, in, in ? strlen(in) : 0, timeout, cap};
  char err[256];
  *flag = 0;
  return proc_start(lp, &o, on_done, flag, err, sizeof err);
}

int main(void) {
  http_global_init();
  loop_t *lp = g_lp = loop_new();
  int flag, st;
  size_t n;

  char *a1[] = {"sh", "-c", "echo out; echo err >&2; cat; exit 3", NULL};
  proc_t *p = start(lp, a1, "from stdin\n", 0, 0, &flag);
  ok(p != NULL, "proc_start sh -c");
  run_until(lp, &flag, 10);
  ok(flag, "done callback ran");
  const char *how = proc_result(p, &st);
  ok(how && strcmp(how, "exited") == 0 && st == 3, "exit status 3 (%s %d)", how ? how : "NULL", st);
  is_str(proc_stdout(p, &n), "out\nfrom stdin\n", "stdout captured, stdin fed");
  is_str(proc_stderr(p, &n), "err\n", "stderr captured apart");
  ok(proc_error(p, NULL) == NULL, "no error");
  proc_free(p);

  char *a2[] = {"sh", "-c", "kill -TERM $$", NULL};
  p = start(lp, a2, NULL, 0, 0, &flag);
  run_until(lp, &flag, 10);
  how = proc_result(p, &st);
  ok(how && strcmp(how, "signaled") == 0 && st == SIGTERM, "killed by a signal: reported as such");
  proc_free(p);

  char *env[] = {"KSH_UNIT=yes", "PATH=/usr/bin:/bin", NULL};
  char *a3[] = {"sh", "-c", "printf %s \"$KSH_UNIT$HOME\"", NULL};
  proc_opts o = {a3, env, NULL, 0, 0, 0};
  char err[256];
  flag = 0;
  p = proc_start(lp, &o, on_done, &flag, err, sizeof err);
  run_until(lp, &flag, 10);
  is_str(proc_stdout(p, &n), "yes", "envp is the whole environment");
  proc_free(p);

  char *a4[] = {"/nonexistent/kscript-unit", NULL};
  p = start(lp, a4, NULL, 0, 0, &flag);
  ok(p == NULL, "a missing command fails at start");
  o = (proc_opts){a4, NULL, NULL, 0, 0, 0};
  p = proc_start(lp, &o, on_done, &flag, err, sizeof err);
  ok(p == NULL && strstr(err, "No such file") != NULL, "with errno's message: %s", err);

  /* a timer keeps firing while a child runs; a timeout kills it */
  ticks = 0;
  loop_timer(lp, 0.02, tick, NULL);
  char *a5[] = {"sleep", "30", NULL};
  double t0 = loop_now();
  p = start(lp, a5, NULL, 0.5, 0, &flag);
  int pid = proc_pid(p);
  run_until(lp, &flag, 10);
  double el = loop_now() - t0;
  const char *kind = NULL;
  const char *msg = proc_error(p, &kind);
  ok(msg && kind && strcmp(kind, "timeout") == 0, "timeout reported (%s)", msg ? msg : "none");
  ok(el >= 0.45 && el < 3, "after about 0.5 s (%.2f)", el);
  ok(ticks >= 10, "timers ran meanwhile (%d ticks)", ticks);
  ok(waitpid(pid, &st, WNOHANG) < 0, "the child is reaped");
  proc_free(p);

  /* the child exits but a background grandchild keeps its stdout open: the
   * timeout kills the grandchild too (the whole process group) */
  char *a7[] = {"sh", "-c", "sleep 300 & echo $!; exit 0", NULL};
  p = start(lp, a7, NULL, 0.5, 0, &flag);
  run_until(lp, &flag, 10);
  msg = proc_error(p, &kind);
  int gpid = atoi(proc_stdout(p, &n));
  ok(msg && strcmp(kind, "timeout") == 0, "output held open by a grandchild: the timeout fires");
  proc_free(p);
  int gone = 0;
  for (int i = 0; i < 100 && !gone; i++) {
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", gpid);
    FILE *f = fopen(path, "r");
    if (!f) gone = 1;
    else {
      size_t r = fread(stat, 1, sizeof stat - 1, f);
      fclose(f);
      stat[r] = 0;
      const char *c = strrchr(stat, ')');
      if (c && (c[2] == 'Z' || c[2] == 'X')) gone = 1;
      else usleep(20000);
    }
  }
  ok(gpid > 0 && gone, "and the grandchild (pid %d) is killed with its group", gpid);

  /* more output than a socket buffer holds, and the cap */
  char *a6[] = {"head", "-c", "3000000", "/dev/zero", NULL};
  p = start(lp, a6, NULL, 0, 0, &flag);
  run_until(lp, &flag, 20);
  proc_stdout(p, &n);
  ok(n == 3000000, "3 MB of output read whole (%zu)", n);
  proc_free(p);
  p = start(lp, a6, NULL, 0, 100000, &flag);
  run_until(lp, &flag, 20);
  msg = proc_error(p, &kind);
  ok(msg && strcmp(kind, "exec") == 0 && strstr(msg, "output exceeds"), "max_output stops it (%s)", msg ? msg : "none");
  proc_free(p);

  /* proc_free on a running child kills and reaps it, without a callback */
  ndone = 0;
  p = start(lp, a5, NULL, 0, 0, &flag);
  pid = proc_pid(p);
  loop_run_once(lp, 10);
  proc_free(p);
  ok(kill(pid, 0) < 0 && ndone == 0, "proc_free kills a running child and never calls back");

  loop_free(lp);
  return done_testing();
}
