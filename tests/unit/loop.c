/* Unit tests of the event loop: timers, cancellation, deferred calls, fds, signals. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "tap.h"

static char order[32];
static int norder;
static void mark(void *ud) { order[norder++] = *(const char *)ud; }

static int fd_hits;
static void on_fd(void *ud, int fd, short re) {
  (void)ud;
  char b[8];
  if (re & POLLIN && read(fd, b, sizeof b) > 0) fd_hits++;
}

static int sig_seen;
static void on_sig(void *ud, int sig) {
  (void)ud;
  sig_seen = sig;
}
static void handler(int sig) { loop_signal_from_handler(sig); }

static loop_t *g_lp;
static void defer_chain(void *ud) {
  mark(ud);
  static const char c = 'z';
  if (*(const char *)ud == 'y') loop_defer(g_lp, defer_chain, (void *)&c);
}

int main(void) {
  http_global_init();
  loop_t *lp = g_lp = loop_new();
  ok(lp != NULL, "loop_new");

  static const char a = 'a', b = 'b', c = 'c', d = 'd';
  double t0 = loop_now();
  loop_timer(lp, 0.03, mark, (void *)&c);
  loop_timer(lp, 0.01, mark, (void *)&a);
  uint64_t id = loop_timer(lp, 0.02, mark, (void *)&d);
  loop_timer(lp, 0.01, mark, (void *)&b); /* same time as 'a': FIFO */
  ok(loop_timer_cancel(lp, id) == 1, "cancel a pending timer");
  ok(loop_timer_cancel(lp, id) == 0, "cancel twice is a no-op");
  while (norder < 3 && loop_now() - t0 < 2) loop_run_once(lp, -1);
  order[norder] = 0;
  is_str(order, "abc", "timers fire in time order, ties in FIFO order, cancelled one never");
  ok(loop_now() - t0 >= 0.029, "the last timer did not fire early (%.3f s)", loop_now() - t0);
  ok(!loop_pending(lp), "nothing pending after the timers");

  norder = 0;
  static const char y = 'y';
  loop_defer(lp, defer_chain, (void *)&y);
  loop_run_once(lp, 1000);
  order[norder] = 0;
  is_str(order, "yz", "a deferred call queued by a deferred call runs in the same drain");

  int p[2];
  ok(pipe(p) == 0, "pipe");
  loop_watch_fd(lp, p[0], POLLIN, on_fd, NULL);
  ok(write(p[1], "x", 1) == 1, "write");
  t0 = loop_now();
  while (!fd_hits && loop_now() - t0 < 2) loop_run_once(lp, 500);
  ok(fd_hits == 1, "fd watch fires on readable data");
  loop_unwatch_fd(lp, p[0]);
  ok(!loop_pending(lp), "unwatched fd leaves nothing pending");

  loop_on_signal(lp, on_sig, NULL);
  struct sigaction sa = {0};
  sa.sa_handler = handler;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  t0 = loop_now();
  while (!sig_seen && loop_now() - t0 < 2) loop_run_once(lp, 200);
  ok(sig_seen == SIGUSR1, "a signal reaches the loop through the self-pipe");

  /* a wait with nothing to do returns after its timeout */
  t0 = loop_now();
  loop_run_once(lp, 50);
  double el = loop_now() - t0;
  ok(el >= 0.045 && el < 1, "an idle run_once waits its timeout (%.3f s)", el);

  close(p[0]);
  close(p[1]);
  loop_free(lp);
  http_global_cleanup();
  return done_testing();
}
