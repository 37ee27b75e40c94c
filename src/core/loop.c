/* loop.c: timers, fds, deferred calls and signals around curl_multi_poll.
 * Watched fds sit in one epoll set whose fd is the one extra fd given to
 * curl_multi_poll: a proxy with hundreds of client connections costs one fd
 * per poll, not hundreds (with 50 clients the kernel's poll work was about
 * 15% of the proxy's CPU samples, libcurl's own one-fd polls included). */
#define _POSIX_C_SOURCE 200809L
#include "loop.h"
#include "http.h"
#include "startup.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  double when;
  uint64_t id;
  loop_fn fn;
  void *ud;
} timer_t_;

typedef struct {
  int fd;
  short events;
  loop_fd_fn fn;
  void *ud;
  int always; /* a regular file (epoll refuses it): always ready, as poll says */
  short reg;  /* the events the epoll set has for it, -1: not in the set yet */
  int weak;   /* does not keep the loop running (loop_watch_fd_weak) */
} fdw_t;

typedef struct {
  loop_fn fn;
  void *ud;
} defer_t;

typedef struct {
  CURL *easy;
  loop_xfer_fn fn;
  void *ud;
  int sock; /* on smulti (loop_add_transfer_fd) */
} xfer_t;

struct loop {
  CURLM *multi;
  timer_t_ *heap;
  size_t nheap, capheap;
  uint64_t next_id;
  fdw_t *fds;
  size_t nfds, capfds;
  defer_t *defers;
  size_t ndefers, capdefers;
  xfer_t *xfers;
  size_t nxfers, capxfers;
  size_t npolled; /* of them, on multi (the rest are on smulti) */
  /* transfers driven by socket readiness (curl_multi_socket_action): their
   * sockets sit in the epoll set beside the watched fds, and libcurl runs
   * only the transfers of a socket that is ready, not every transfer on
   * every iteration (each of which polls its socket: 8 to 23 polls per
   * proxied request with 50 clients).  libcurl 7.88 keeps the readiness
   * bits per connection, so of the streams sharing an HTTP/2 connection
   * the first takes them and the others poll as before; the frames it reads
   * for them wake them through libcurl's timer (s_timer), which must run as
   * soon as it is due. */
  CURLM *smulti;
  double sdeadline; /* smulti's timer (loop_now() time), < 0: none */
  int epfd; /* the watched fds' epoll set, -1 until the first watch */
  size_t nalways; /* watched fds epoll refused (regular files) */
  size_t nweak;   /* watched fds that do not keep the loop running */
  int dirty;      /* some fd's events differ from the epoll set's (ep_sync) */
  int sigin;      /* the signal pipe is in the epoll set too */
  loop_sig_fn sigfn;
  void *sigud;
  int stall_ms; /* poll cap while transfers run, see loop_run_once */
};

static int sigpipe_fd[2] = {-1, -1};

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
  lp->epfd = -1;
  lp->sdeadline = -1;
  lp->stall_ms = 4;
  if (sigpipe_fd[0] < 0) {
    if (pipe(sigpipe_fd) == 0) {
      for (int i = 0; i < 2; i++) {
        fcntl(sigpipe_fd[i], F_SETFL, fcntl(sigpipe_fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(sigpipe_fd[i], F_SETFD, FD_CLOEXEC);
      }
    }
  }
  return lp;
}

KSH_STARTUP void loop_free(loop_t *lp) {
  if (!lp) return;
  for (size_t i = 0; i < lp->nxfers; i++)
    curl_multi_remove_handle(lp->xfers[i].sock ? lp->smulti : lp->multi, lp->xfers[i].easy);
  if (lp->multi) curl_multi_cleanup(lp->multi);
  if (lp->smulti) curl_multi_cleanup(lp->smulti);
  if (lp->epfd >= 0) close(lp->epfd);
  free(lp->heap);
  free(lp->fds);
  free(lp->defers);
  free(lp->xfers);
  free(lp);
}

/* The multi handle, made with the first transfer (libcurl initialised then). */
static CURLM *multi_of(loop_t *lp) {
  if (!lp->multi && http_global_init() == 0) lp->multi = curl_multi_init();
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

/* --- fds --- */

/* The epoll set, made with the first watch or socket-driven transfer; the
 * signal pipe goes in it too, so with no polled transfer the loop waits in
 * epoll_wait alone (one system call a turn, not two). */
static int ep_open(loop_t *lp) {
  if (lp->epfd >= 0) return 0;
  if ((lp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) return -1;
  struct epoll_event sev = {.events = EPOLLIN, .data.fd = sigpipe_fd[0]};
  if (sigpipe_fd[0] >= 0 && epoll_ctl(lp->epfd, EPOLL_CTL_ADD, sigpipe_fd[0], &sev) == 0) lp->sigin = 1;
  return 0;
}

/* Watch changes reach the epoll set once per iteration, just before the
 * poll (ep_sync): a connection that asks for POLLOUT to send an answer and
 * drops it again when the answer has gone costs no system call. */
static int watch(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud, int weak) {
  for (size_t i = 0; i < lp->nfds; i++) {
    if (lp->fds[i].fd == fd) {
      lp->fds[i].events = events;
      lp->fds[i].fn = fn;
      lp->fds[i].ud = ud;
      if (lp->fds[i].weak != weak) lp->nweak += weak ? 1 : (size_t)-1;
      lp->fds[i].weak = weak;
      if (!lp->fds[i].always && events != lp->fds[i].reg) lp->dirty = 1;
      return 0;
    }
  }
  if (grow((void **)&lp->fds, &lp->capfds, lp->nfds + 1, sizeof *lp->fds)) return -1;
  if (ep_open(lp)) return -1;
  lp->fds[lp->nfds++] = (fdw_t){fd, events, fn, ud, 0, -1, weak};
  if (weak) lp->nweak++;
  lp->dirty = 1;
  return 0;
}

int loop_watch_fd(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud) {
  return watch(lp, fd, events, fn, ud, 0);
}

int loop_watch_fd_weak(loop_t *lp, int fd, short events, loop_fd_fn fn, void *ud) {
  return watch(lp, fd, events, fn, ud, 1);
}

/* Bring the epoll set up to date.  An fd closed without unwatching has left
 * the set by itself (and its number may be back: MOD then fails, ADD works);
 * one epoll refuses (a regular file, e.g. stdin from a file) is always
 * ready, as poll says; one that is not open any more is left out, as poll
 * leaves it. */
static void ep_sync(loop_t *lp) {
  lp->dirty = 0;
  for (size_t i = 0; i < lp->nfds; i++) {
    fdw_t *f = &lp->fds[i];
    if (f->always || f->events == f->reg) continue;
    struct epoll_event ev = {0};
    ev.events = (f->events & POLLIN ? EPOLLIN : 0u) | (f->events & POLLOUT ? EPOLLOUT : 0u);
    ev.data.fd = f->fd;
    int op = f->reg < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int r = epoll_ctl(lp->epfd, op, f->fd, &ev);
    if (r < 0 && (errno == ENOENT || errno == EEXIST))
      r = epoll_ctl(lp->epfd, errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, f->fd, &ev);
    if (r < 0 && errno == EPERM) {
      f->always = 1;
      lp->nalways++;
    }
    f->reg = f->events;
  }
}

void loop_unwatch_fd(loop_t *lp, int fd) {
  for (size_t i = 0; i < lp->nfds; i++) {
    if (lp->fds[i].fd == fd) {
      if (lp->fds[i].weak) lp->nweak--;
      if (lp->fds[i].always) lp->nalways--;
      else if (lp->fds[i].reg >= 0) epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL); /* EBADF if closed: gone already */
      memmove(&lp->fds[i], &lp->fds[i + 1], (lp->nfds - i - 1) * sizeof *lp->fds);
      lp->nfds--;
      return;
    }
  }
}

/* --- transfers --- */

int loop_add_transfer(loop_t *lp, void *easy, loop_xfer_fn fn, void *ud) {
  if (grow((void **)&lp->xfers, &lp->capxfers, lp->nxfers + 1, sizeof *lp->xfers)) return -1;
  if (!multi_of(lp) || curl_multi_add_handle(lp->multi, easy) != CURLM_OK) return -1;
  lp->xfers[lp->nxfers++] = (xfer_t){easy, fn, ud, 0};
  lp->npolled++;
  return 0;
}

static int xfer_take(loop_t *lp, CURL *easy, xfer_t *out) {
  for (size_t i = 0; i < lp->nxfers; i++) {
    if (lp->xfers[i].easy == easy) {
      xfer_t x = lp->xfers[i];
      if (out) *out = x;
      lp->xfers[i] = lp->xfers[--lp->nxfers];
      if (!x.sock) lp->npolled--;
      curl_multi_remove_handle(x.sock ? lp->smulti : lp->multi, easy);
      return 1;
    }
  }
  return 0;
}

/* finished transfers of m: detach each, then call its callback */
static void xfers_done(loop_t *lp, CURLM *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode res = msg->data.result;
    xfer_t x;
    if (xfer_take(lp, easy, &x) && x.fn) x.fn(x.ud, easy, (int)res);
  }
}

/* smulti's socket became ready (a watcher like any other) */
static void s_ready(void *ud, int fd, short re) {
  loop_t *lp = ud;
  int bits = (re & POLLIN ? CURL_CSELECT_IN : 0) | (re & POLLOUT ? CURL_CSELECT_OUT : 0);
  int running;
  curl_multi_socket_action(lp->smulti, fd, bits, &running);
  xfers_done(lp, lp->smulti);
}

static int s_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)easy;
  (void)socketp;
  loop_t *lp = userp;
  if (what == CURL_POLL_REMOVE) loop_unwatch_fd(lp, s);
  else loop_watch_fd(lp, s, (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0)), s_ready, lp);
  return 0;
}

static int s_timer(CURLM *m, long ms, void *userp) {
  (void)m;
  loop_t *lp = userp;
  lp->sdeadline = ms < 0 ? -1 : loop_now() + (double)ms / 1000.0;
  return 0;
}

int loop_add_transfer_fd(loop_t *lp, void *easy, loop_xfer_fn fn, void *ud) {
  if (grow((void **)&lp->xfers, &lp->capxfers, lp->nxfers + 1, sizeof *lp->xfers)) return -1;
  if (!lp->smulti) {
    if (http_global_init() || !(lp->smulti = curl_multi_init())) return -1;
    curl_multi_setopt(lp->smulti, CURLMOPT_SOCKETFUNCTION, s_socket);
    curl_multi_setopt(lp->smulti, CURLMOPT_SOCKETDATA, lp);
    curl_multi_setopt(lp->smulti, CURLMOPT_TIMERFUNCTION, s_timer);
    curl_multi_setopt(lp->smulti, CURLMOPT_TIMERDATA, lp);
  }
  if (ep_open(lp)) return -1;
  if (curl_multi_add_handle(lp->smulti, easy) != CURLM_OK) return -1;
  lp->xfers[lp->nxfers++] = (xfer_t){easy, fn, ud, 1};
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
  return lp->nheap > 0 || lp->nxfers > 0 || lp->nfds > lp->nweak || lp->ndefers > 0;
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

/* curl_multi_poll without a multi handle (no transfer made yet) */
static CURLMcode plain_poll(struct curl_waitfd *w, size_t n, int timeout, int *nready) {
  struct pollfd stackp[16];
  struct pollfd *p = n <= 16 ? stackp : malloc(n * sizeof *p);
  if (!p) return CURLM_OUT_OF_MEMORY;
  for (size_t i = 0; i < n; i++) {
    p[i].fd = w[i].fd;
    p[i].events = (short)((w[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) | (w[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0));
    p[i].revents = 0;
  }
  int r = poll(p, (nfds_t)n, timeout);
  *nready = r > 0 ? r : 0;
  for (size_t i = 0; i < n; i++)
    w[i].revents = (short)((p[i].revents & (POLLIN | POLLHUP | POLLERR) ? CURL_WAIT_POLLIN : 0) |
                           (p[i].revents & POLLOUT ? CURL_WAIT_POLLOUT : 0));
  if (p != stackp) free(p);
  return r < 0 && errno != EINTR ? CURLM_UNRECOVERABLE_POLL : CURLM_OK;
}

/* Call fd's watcher, looked up again (an earlier callback may have changed
 * the watch list); an always-ready one gets the events it asked for. */
static void fd_ready(loop_t *lp, int fd, short re, int always) {
  for (size_t j = 0; j < lp->nfds; j++) {
    if (lp->fds[j].fd != fd) continue;
    fdw_t f = lp->fds[j];
    if (always != f.always) return;
    if (always) re = (short)(f.events & (POLLIN | POLLOUT));
    f.fn(f.ud, f.fd, re ? re : POLLIN);
    return;
  }
}

KSH_STARTUP int loop_run_once(loop_t *lp, int max_wait_ms) {
  int rc = 0;
  if (lp->dirty) ep_sync(lp);
  int timeout = max_wait_ms;
  if (lp->ndefers || lp->nalways) timeout = 0;
  if (lp->nheap) {
    double d = (lp->heap[0].when - loop_now()) * 1000.0;
    int ms = d <= 0 ? 0 : (int)(d + 0.999);
    if (timeout < 0 || ms < timeout) timeout = ms;
  }
  /* curl's own deadline (e.g. "run now" after a transfer is unpaused: its data
   * may already be off the socket, so no fd will wake us) */
  long ct = -1;
  if (lp->multi) curl_multi_timeout(lp->multi, &ct);
  if (ct >= 0 && (timeout < 0 || ct < timeout)) timeout = (int)ct;
  if (lp->sdeadline >= 0) {
    double d = (lp->sdeadline - loop_now()) * 1000.0;
    int ms = d <= 0 ? 0 : (int)(d + 0.999);
    if (timeout < 0 || ms < timeout) timeout = ms;
  }
  /* libcurl 7.88 (Debian 12) can leave HTTP/2 data it has already read off
   * the socket unprocessed until its next timer fires, seconds later (seen on
   * one run in four of a 100,000-key etcd Range).  While transfers run, poll
   * with a short cap right after activity, backing off to 1 s when quiet. */
  if (lp->npolled > 0 && (timeout < 0 || timeout > lp->stall_ms)) timeout = lp->stall_ms;
  if (timeout < 0) timeout = 60 * 60 * 1000;

  struct curl_waitfd w[2] = {{sigpipe_fd[0], CURL_WAIT_POLLIN, 0}, {lp->epfd, CURL_WAIT_POLLIN, 0}};
  unsigned n = lp->nfds > lp->nalways && lp->epfd >= 0 ? 2 : 1;
  int nready = 0;
  /* no transfer for libcurl to poll (the socket-driven ones are in the
   * epoll set): wait in epoll_wait itself, signals included */
  int direct = n > 1 && lp->npolled == 0 && lp->sigin;
  struct epoll_event ev[64];
  int k = 0;
  CURLMcode mc = CURLM_OK;
  if (direct) {
    k = epoll_wait(lp->epfd, ev, 64, timeout);
    if (k < 0) k = 0; /* EINTR: dispatch what we have */
    nready = k;
    for (int i = 0; i < k; i++)
      if (ev[i].data.fd == sigpipe_fd[0]) w[0].revents = CURL_WAIT_POLLIN;
  } else
    mc = lp->multi ? curl_multi_poll(lp->multi, w, n, timeout, &nready) : plain_poll(w, n, timeout, &nready);
  if (nready > 0) lp->stall_ms = 4;
  else if (lp->stall_ms < 1000) lp->stall_ms *= 2;
  if (mc != CURLM_OK && mc != CURLM_UNRECOVERABLE_POLL) rc = -1;
  if (mc == CURLM_UNRECOVERABLE_POLL) {
    /* e.g. EINTR from a signal: fall through and dispatch what we have */
  }

  int running = 0;
  if (lp->multi) {
    curl_multi_perform(lp->multi, &running);
    xfers_done(lp, lp->multi);
  }

  /* signals */
  if (w[0].revents) {
    unsigned char buf[64];
    ssize_t r;
    while ((r = read(sigpipe_fd[0], buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < r; i++)
        if (lp->sigfn) lp->sigfn(lp->sigud, buf[i]);
    }
  }

  /* fds: level-triggered, so what is left over this time is ready again the
   * next; callbacks may change the watch list, so look each one up again */
  if (!direct && n > 1 && w[1].revents) k = epoll_wait(lp->epfd, ev, 64, 0);
  for (int i = 0; i < k; i++) {
    if (ev[i].data.fd == sigpipe_fd[0]) continue; /* read above */
    uint32_t e = ev[i].events;
    short re = (short)((e & (EPOLLIN | EPOLLHUP | EPOLLERR) ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0));
    fd_ready(lp, ev[i].data.fd, re, 0);
  }
  if (lp->nalways) {
    int afd[8], na = 0;
    for (size_t j = 0; j < lp->nfds && na < 8; j++)
      if (lp->fds[j].always) afd[na++] = lp->fds[j].fd;
    for (int i = 0; i < na; i++) fd_ready(lp, afd[i], 0, 1);
  }

  /* smulti's timer (set inside socket_action calls, so read it each time) */
  double now = loop_now();
  if (lp->smulti && lp->sdeadline >= 0 && lp->sdeadline <= now) {
    lp->sdeadline = -1;
    curl_multi_socket_action(lp->smulti, CURL_SOCKET_TIMEOUT, 0, &running);
    xfers_done(lp, lp->smulti);
  }

  /* timers that are due now (not the ones they add) */
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
