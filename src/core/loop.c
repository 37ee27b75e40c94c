/* loop.c: timers, fds, deferred calls and signals on one epoll set, with
 * libcurl driven through its socket API (curl_multi_socket_action). */
#define _GNU_SOURCE
/* curl_multi_socket_all, the safety sweep of loop_run_once */
#define CURL_DISABLE_DEPRECATION
#include "loop.h"
#include "http.h"
#include "startup.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  double when;
  uint64_t id;
  loop_fn fn;
  void *ud;
} timer_t_;

/* what is known of one fd, in a table indexed by the fd: the loop's watch
 * (lev, fn, ud), libcurl's interest (cev, a CURL_POLL_* value), and what is
 * in the epoll set (reg).  gen changes when the fd starts being used anew,
 * so an event reported for an earlier use of the same number is dropped. */
typedef struct {
  short lev;
  loop_fd_fn fn;
  void *ud;
  int cev;
  uint32_t reg;
  uint32_t gen;
  int plain; /* epoll refused it (a regular file): always ready, as poll says */
} fdent_t;

typedef struct {
  loop_fn fn;
  void *ud;
} defer_t;

typedef struct {
  CURL *easy;
  loop_xfer_fn fn;
  void *ud;
} xfer_t;

struct loop {
  CURLM *multi;
  timer_t_ *heap;
  size_t nheap, capheap;
  uint64_t next_id;
  int ep; /* the epoll set */
  fdent_t *ents;
  size_t capents;
  size_t nfds;   /* fds with a loop watch */
  size_t nplain; /* of them, fds epoll refused */
  double curl_due; /* libcurl's timer (CURLMOPT_TIMERFUNCTION), < 0: none */
  double last_sweep;
  defer_t *defers;
  size_t ndefers, capdefers;
  xfer_t *xfers;
  size_t nxfers, capxfers;
  loop_sig_fn sigfn;
  void *sigud;
  int stall_ms; /* sweep interval while transfers run, see loop_run_once */
};

static int sigpipe_fd[2] = {-1, -1};
#define SIG_TAG UINT64_MAX /* the epoll tag of the signal pipe */

static int grow(void **p, size_t *cap, size_t need, size_t sz) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap * 2 : 16;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * sz);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

double loop_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

KSH_STARTUP loop_t *loop_new(void) {
  loop_t *lp = calloc(1, sizeof *lp);
  if (!lp) return NULL;
  /* the multi handle is made with the first transfer: curl_multi_init
   * initialises libcurl and OpenSSL, most of a short script's start-up */
  lp->next_id = 1;
  lp->stall_ms = 4;
  lp->curl_due = -1;
  lp->ep = epoll_create1(EPOLL_CLOEXEC);
  if (lp->ep < 0) {
    free(lp);
    return NULL;
  }
  if (sigpipe_fd[0] < 0) {
    if (pipe(sigpipe_fd) == 0) {
      for (int i = 0; i < 2; i++) {
        fcntl(sigpipe_fd[i], F_SETFL, fcntl(sigpipe_fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(sigpipe_fd[i], F_SETFD, FD_CLOEXEC);
      }
    }
  }
  if (sigpipe_fd[0] >= 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SIG_TAG};
    epoll_ctl(lp->ep, EPOLL_CTL_ADD, sigpipe_fd[0], &ev);
  }
  return lp;
}

KSH_STARTUP void loop_free(loop_t *lp) {
  if (!lp) return;
  if (lp->multi) {
    for (size_t i = 0; i < lp->nxfers; i++) curl_multi_remove_handle(lp->multi, lp->xfers[i].easy);
    curl_multi_cleanup(lp->multi); /* its socket callbacks still find lp */
  }
  close(lp->ep);
  free(lp->heap);
  free(lp->ents);
  free(lp->defers);
  free(lp->xfers);
  free(lp);
}

static int curl_sock_cb(CURL *easy, curl_socket_t s, int what, void *ud, void *sockp);
static int curl_timer_cb(CURLM *multi, long ms, void *ud);

/* The multi handle, made with the first transfer (libcurl initialised then). */
static CURLM *multi_of(loop_t *lp) {
  if (!lp->multi && http_global_init() == 0 && (lp->multi = curl_multi_init())) {
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
  }
  return lp->multi;
}

/* --- timers: a binary min-heap on `when` (ties by id, so FIFO) --- */

static int tless(const timer_t_ *a, const timer_t_ *b) {
  return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void heap_up(timer_t_ *h, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!tless(&h[i], &h[p])) break;
    timer_t_ t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

static void heap_down(timer_t_ *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && tless(&h[l], &h[m])) m = l;
    if (r < n && tless(&h[r], &h[m])) m = r;
    if (m == i) break;
    timer_t_ t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

uint64_t loop_timer(loop_t *lp, double delay, loop_fn fn, void *ud) {
  if (grow((void **)&lp->heap, &lp->capheap, lp->nheap + 1, sizeof *lp->heap)) return 0;
  if (delay < 0) delay = 0;
  timer_t_ t = {loop_now() + delay, lp->next_id++, fn, ud};
  lp->heap[lp->nheap] = t;
  heap_up(lp->heap, lp->nheap++);
  return t.id;
}

int loop_timer_cancel(loop_t *lp, uint64_t id) {
  for (size_t i = 0; i < lp->nheap; i++) {
    if (lp->heap[i].id == id) {
      lp->heap[i] = lp->heap[--lp->nheap];
      if (i < lp->nheap) {
        heap_down(lp->heap, lp->nheap, i);
        heap_up(lp->heap, i);
      }
      return 1;
    }
  }
  return 0;
}

KSH_STARTUP int loop_defer(loop_t *lp, loop_fn fn, void *ud) {
  if (grow((void **)&lp->defers, &lp->capdefers, lp->ndefers + 1, sizeof *lp->defers)) return -1;
  lp->defers[lp->ndefers].fn = fn;
  lp->defers[lp->ndefers].ud = ud;
  lp->ndefers++;
  return 0;
}

/* --- fds: one table indexed by fd, one epoll set --- */

static fdent_t *ent_of(loop_t *lp, int fd) {
  if (fd < 0) return NULL;
  if ((size_t)fd >= lp->capents) {
    size_t n = lp->capents ? lp->capents : 64;
    while (n <= (size_t)fd) n *= 2;
    fdent_t *p = realloc(lp->ents, n * sizeof *p);
    if (!p) return NULL;
    memset(p + lp->capents, 0, (n - lp->capents) * sizeof *p);
    lp->ents = p;
    lp->capents = n;
  }
  return &lp->ents[fd];
}

/* Bring the epoll set in line with what the loop and libcurl want of fd;
 * `fresh`: the fd starts a new use (a new tag, so stale events are dropped). */
static int ent_sync(loop_t *lp, int fd, fdent_t *e, int fresh) {
  uint32_t want = 0;
  if ((e->lev & POLLIN) || (e->cev & CURL_POLL_IN)) want |= EPOLLIN;
  if ((e->lev & POLLOUT) || (e->cev & CURL_POLL_OUT)) want |= EPOLLOUT;
  if (fresh) e->gen++;
  if (e->plain) {
    if (e->lev) return 0;
    e->plain = 0;
    lp->nplain--;
  }
  if (want == e->reg && !fresh) return 0;
  if (!want) {
    if (e->reg) epoll_ctl(lp->ep, EPOLL_CTL_DEL, fd, NULL);
    e->reg = 0;
    return 0;
  }
  struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)e->gen << 32 | (uint32_t)fd};
  int r = epoll_ctl(lp->ep, e->reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (r < 0 && errno == ENOENT) r = epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev); /* closed and reopened */
  else if (r < 0 && errno == EEXIST) r = epoll_ctl(lp->ep, EPOLL_CTL_MOD, fd, &ev);
  if (r < 0 && errno == EPERM && e->lev && !e->cev) {
    /* a regular file (stdin redirected from one): poll calls it ready */
    e->reg = 0;
    e->plain = 1;
    lp->nplain++;
    return 0;
  }
  if (r < 0) {
    e->reg = 0;
    return -1;
  }
  e->reg = want;
  return 0;
}

int loop_watch_fd(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud) {
  fdent_t *e = ent_of(lp, fd);
  if (!e) return -1;
  int fresh = !e->lev || e->fn != fn || e->ud != ud;
  if (!e->lev) lp->nfds++;
  e->lev = (short)(events & (POLLIN | POLLOUT));
  if (!e->lev) e->lev = POLLIN; /* a watch with no events still watches for the end */
  e->fn = fn;
  e->ud = ud;
  if (ent_sync(lp, fd, e, fresh && !e->cev)) {
    e->lev = 0;
    lp->nfds--;
    return -1;
  }
  return 0;
}

void loop_unwatch_fd(loop_t *lp, int fd) {
  if (fd < 0 || (size_t)fd >= lp->capents || !lp->ents[fd].lev) return;
  fdent_t *e = &lp->ents[fd];
  e->lev = 0;
  e->fn = NULL;
  e->ud = NULL;
  lp->nfds--;
  ent_sync(lp, fd, e, 0);
}

/* libcurl's interest in one of its sockets */
static int curl_sock_cb(CURL *easy, curl_socket_t s, int what, void *ud, void *sockp) {
  loop_t *lp = ud;
  (void)easy;
  (void)sockp;
  fdent_t *e = ent_of(lp, s);
  if (!e) return -1;
  int fresh = !e->cev && !e->lev;
  e->cev = what == CURL_POLL_REMOVE ? 0 : what;
  ent_sync(lp, s, e, fresh && e->cev);
  return 0;
}

/* libcurl's one timer: the deadline is kept, loop_run_once acts on it */
static int curl_timer_cb(CURLM *multi, long ms, void *ud) {
  loop_t *lp = ud;
  (void)multi;
  lp->curl_due = ms < 0 ? -1 : loop_now() + (double)ms / 1000.0;
  return 0;
}

/* --- transfers --- */

int loop_add_transfer(loop_t *lp, void *easy, loop_xfer_fn fn, void *ud) {
  if (grow((void **)&lp->xfers, &lp->capxfers, lp->nxfers + 1, sizeof *lp->xfers)) return -1;
  if (!multi_of(lp) || curl_multi_add_handle(lp->multi, easy) != CURLM_OK) return -1;
  lp->xfers[lp->nxfers++] = (xfer_t){easy, fn, ud};
  return 0;
}

static int xfer_take(loop_t *lp, CURL *easy, xfer_t *out) {
  for (size_t i = 0; i < lp->nxfers; i++) {
    if (lp->xfers[i].easy == easy) {
      if (out) *out = lp->xfers[i];
      lp->xfers[i] = lp->xfers[--lp->nxfers];
      curl_multi_remove_handle(lp->multi, easy);
      return 1;
    }
  }
  return 0;
}

void loop_remove_transfer(loop_t *lp, void *easy) { xfer_take(lp, easy, NULL); }


/* --- signals --- */

KSH_STARTUP void loop_on_signal(loop_t *lp, loop_sig_fn fn, void *ud) {
  lp->sigfn = fn;
  lp->sigud = ud;
}

void loop_signal_from_handler(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (sigpipe_fd[1] >= 0) {
    ssize_t r = write(sigpipe_fd[1], &b, 1);
    (void)r;
  }
  errno = saved;
}

KSH_STARTUP int loop_pending(const loop_t *lp) {
  return lp->nheap > 0 || lp->nxfers > 0 || lp->nfds > 0 || lp->ndefers > 0;
}

static void drain_defers(loop_t *lp) {
  /* Calls queued while draining run too; take one at a time from the front. */
  size_t i = 0;
  while (i < lp->ndefers) {
    defer_t d = lp->defers[i++];
    d.fn(d.ud);
  }
  lp->ndefers = 0;
}

/* readiness as the loop's callbacks see it: POLLIN/POLLOUT; a hang-up or an
 * error wakes whatever the watch waits for (the next read or write fails) */
static short loop_revents(uint32_t ev, short watched) {
  short re = (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0));
  if (ev & (EPOLLHUP | EPOLLERR)) re |= watched;
  re &= watched;
  return re ? re : POLLIN;
}

static int curl_bits(uint32_t ev, int want) {
  int b = 0;
  if (ev & EPOLLIN) b |= CURL_CSELECT_IN;
  if (ev & EPOLLOUT) b |= CURL_CSELECT_OUT;
  if (ev & (EPOLLHUP | EPOLLERR)) {
    b |= CURL_CSELECT_ERR;
    if (want & CURL_POLL_IN) b |= CURL_CSELECT_IN; /* so it reads the end */
  }
  return b;
}

#define MAXEV 128

KSH_STARTUP int loop_run_once(loop_t *lp, int max_wait_ms) {
  int rc = 0;
  int timeout = max_wait_ms;
  double now = loop_now();
  if (lp->ndefers || lp->nplain) timeout = 0;
  if (lp->nheap) {
    double d = (lp->heap[0].when - now) * 1000.0;
    int ms = d <= 0 ? 0 : (int)(d + 0.999);
    if (timeout < 0 || ms < timeout) timeout = ms;
  }
  /* libcurl's deadline (e.g. "run now" after a transfer is added or
   * unpaused: its data may already be off the socket, so no fd will wake us) */
  if (lp->curl_due >= 0) {
    double d = (lp->curl_due - now) * 1000.0;
    int ms = d <= 0 ? 0 : (int)(d + 0.999);
    if (timeout < 0 || ms < timeout) timeout = ms;
  }
  /* libcurl 7.88 (Debian 12) can leave HTTP/2 data it has already read off
   * the socket unprocessed until its next timer fires, seconds later (seen on
   * one run in four of a 100,000-key etcd Range).  So while transfers run,
   * every transfer is swept (curl_multi_socket_all: each one run as if its
   * socket were ready) when the loop has been quiet for stall_ms (4 ms right
   * after activity, backing off to 1 s), and at least every SWEEP_BUSY
   * seconds while it is busy: a stuck transfer waits at most that long. */
#define SWEEP_BUSY 0.05
  if (lp->nxfers > 0 && (timeout < 0 || timeout > lp->stall_ms)) timeout = lp->stall_ms;
  if (timeout < 0) timeout = 60 * 60 * 1000;

  struct epoll_event evs[MAXEV];
  int nev = epoll_wait(lp->ep, evs, MAXEV, timeout);
  if (nev < 0) {
    if (errno != EINTR) rc = -1;
    nev = 0;
  }
  if (nev > 0) lp->stall_ms = 4;
  else if (lp->stall_ms < 1000) lp->stall_ms *= 2;

  /* libcurl's sockets first, then its timer, then the sweep */
  int running = 0, sig = 0;
  for (int i = 0; i < nev; i++) {
    uint64_t tag = evs[i].data.u64;
    if (tag == SIG_TAG) {
      sig = 1;
      continue;
    }
    int fd = (int)(uint32_t)tag;
    fdent_t *e = (size_t)fd < lp->capents ? &lp->ents[fd] : NULL;
    if (!e || e->gen != (uint32_t)(tag >> 32)) continue;
    if (e->cev && lp->multi) curl_multi_socket_action(lp->multi, fd, curl_bits(evs[i].events, e->cev), &running);
  }
  if (lp->multi) {
    now = loop_now();
    if (lp->curl_due >= 0 && now >= lp->curl_due) {
      lp->curl_due = -1;
      curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    if (lp->nxfers > 0 && now - lp->last_sweep >= (nev > 0 ? SWEEP_BUSY : lp->stall_ms / 1000.0)) {
      lp->last_sweep = now;
      curl_multi_socket_all(lp->multi, &running);
    }
  }
  CURLMsg *msg;
  int left;
  while (lp->multi && (msg = curl_multi_info_read(lp->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode res = msg->data.result;
    xfer_t x;
    if (xfer_take(lp, easy, &x) && x.fn) x.fn(x.ud, easy, (int)res);
  }

  /* signals */
  if (sig) {
    unsigned char buf[64];
    ssize_t r;
    while ((r = read(sigpipe_fd[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < r; i++)
        if (lp->sigfn) lp->sigfn(lp->sigud, buf[i]);
    }
  }

  /* the loop's fds: callbacks may change the table, so look each one up again */
  for (int i = 0; i < nev; i++) {
    uint64_t tag = evs[i].data.u64;
    if (tag == SIG_TAG) continue;
    int fd = (int)(uint32_t)tag;
    if ((size_t)fd >= lp->capents) continue;
    fdent_t *e = &lp->ents[fd];
    if (e->gen != (uint32_t)(tag >> 32) || !e->lev) continue;
    e->fn(e->ud, fd, loop_revents(evs[i].events, e->lev));
  }
  if (lp->nplain) {
    for (size_t fd = 0; fd < lp->capents; fd++) {
      fdent_t *e = &lp->ents[fd];
      if (e->plain && e->lev) e->fn(e->ud, (int)fd, e->lev);
    }
  }

  /* timers that are due now (not the ones they add) */
  now = loop_now();
  uint64_t limit = lp->next_id;
  while (lp->nheap && lp->heap[0].when <= now && lp->heap[0].id < limit) {
    timer_t_ t = lp->heap[0];
    lp->heap[0] = lp->heap[--lp->nheap];
    heap_down(lp->heap, lp->nheap, 0);
    t.fn(t.ud);
  }

  drain_defers(lp);
  return rc;
}
