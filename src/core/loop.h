/* loop.h: the one event loop of the process.
 *
 * libcurl's multi interface drives every transfer; file descriptors, one-shot
 * timers, deferred calls and signals (through a self-pipe) share the same
 * curl_multi_poll().  No Lua in here: callbacks are plain C.  libcurl stays
 * out of this header: an easy handle (CURL *) travels as void *, its result
 * (CURLcode) as int; only the core's .c files include <curl/curl.h>.
 */
#ifndef KSH_LOOP_H
#define KSH_LOOP_H

#include <stdint.h>

typedef struct loop loop_t;

typedef void (*loop_fn)(void *ud);
typedef void (*loop_fd_fn)(void *ud, int fd, short revents);
/* A finished transfer: easy is the CURL * given to loop_add_transfer, rc its CURLcode. */
typedef void (*loop_xfer_fn)(void *ud, void *easy, int rc);
typedef void (*loop_sig_fn)(void *ud, int sig);

/* Create the loop (and its curl multi handle).  Returns NULL on failure. */
loop_t *loop_new(void);
/* Free the loop; transfers still attached are removed, not cleaned up. */
void loop_free(loop_t *lp);

/* Monotonic clock in seconds. */
double loop_now(void);

/* One-shot timer after `delay` seconds; returns an id (never 0). */
uint64_t loop_timer(loop_t *lp, double delay, loop_fn fn, void *ud);
/* Cancel a pending timer; returns 1 if it was pending. */
int loop_timer_cancel(loop_t *lp, uint64_t id);

/* Run fn(ud) at the end of the current (or next) iteration, outside any curl
 * callback.  Calls queued while draining run in the same drain. */
int loop_defer(loop_t *lp, loop_fn fn, void *ud);

/* Watch fd for POLLIN/POLLOUT (events).  One watch per fd; returns -1 on error. */
int loop_watch_fd(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud);
void loop_unwatch_fd(loop_t *lp, int fd);
/* The same for a watch that does not keep the loop running (loop_pending
 * leaves it out): a pooled connection waiting for its next request. */
int loop_watch_fd_weak(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud);

/* Attach an easy handle; fn(ud, easy, rc) runs once when it completes, after
 * the handle has been detached from the multi handle.  The caller still owns
 * the easy handle. */
int loop_add_transfer(loop_t *lp, void *easy, loop_xfer_fn fn, void *ud);
/* The same for a transfer driven by its socket's readiness: libcurl runs it
 * when its socket is ready or its timer is due, not on every iteration (no
 * per-transfer poll each time; see loop.c). */
int loop_add_transfer_fd(loop_t *lp, void *easy, loop_xfer_fn fn, void *ud);
/* Detach a transfer without calling its callback (cancellation). */
void loop_remove_transfer(loop_t *lp, void *easy);

/* Signals: loop_on_signal registers the callback run (from the loop, not the
 * handler) for signals reported by loop_signal_from_handler, which is
 * async-signal-safe and is what a signal handler calls. */
void loop_on_signal(loop_t *lp, loop_sig_fn fn, void *ud);
void loop_signal_from_handler(int sig);

/* One iteration: wait at most max_wait_ms (-1: until something happens),
 * then dispatch.  Returns 0, or -1 if curl reported a fatal multi error. */
int loop_run_once(loop_t *lp, int max_wait_ms);
/* Pending work: timers, transfers, watched fds, deferred calls. */
int loop_pending(const loop_t *lp);

#endif
