/* proc.c: fork/exec with stdin, stdout and stderr as sockets watched by the
 * loop, a timeout, and the child's exit seen through a pidfd (or polled).
 *
 * Sockets rather than pipes: libcurl's curl_multi_poll() reports only
 * POLLIN/POLLOUT/POLLPRI for extra fds, and a pipe whose writer closed polls
 * as POLLHUP alone, which it would drop; a socket at EOF polls readable. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROC_MAX_OUTPUT_DEFAULT ((size_t)64 << 20)

typedef struct {
  char *data;
  size_t len, cap;
} pbuf;

struct proc {
  loop_t *lp;
  pid_t pid;     /* 0 once reaped */
  pid_t pgid;    /* the child's process group (its pid), kept after reaping */
  int pidfd;     /* -1: none (polled instead) */
  int fd_in, fd_out, fd_err;
  char *in;      /* our copy of the stdin data */
  size_t in_len, in_off;
  pbuf out, err;
  size_t max_output;
  double timeout;
  uint64_t timeout_timer, poll_timer;
  double poll_every;
  int how;       /* 0 running, 1 exited, 2 signaled */
  int status;
  int finished;
  const char *err_kind;
  char errmsg[256];
  char name[128];
  proc_done_fn done;
  void *ud;
};

static void wipe(pbuf *b) {
  if (b->data) {
    volatile char *v = b->data;
    for (size_t i = 0; i < b->cap; i++) v[i] = 0;
    free(b->data);
  }
  b->data = NULL;
  b->len = b->cap = 0;
}

static void close_fd(proc_t *p, int *fd) {
  if (*fd < 0) return;
  loop_unwatch_fd(p->lp, *fd);
  close(*fd);
  *fd = -1;
}

static void record_status(proc_t *p, int st) {
  if (WIFEXITED(st)) {
    p->how = 1;
    p->status = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    p->how = 2;
    p->status = WTERMSIG(st);
  }
  p->pid = 0;
}

/* kill the group and reap (a SIGKILLed child goes at once).  Once the child
 * is reaped, the group is killed only while its output is still open: some
 * member (a background grandchild) still holds it, so the group still
 * exists and its id cannot have been reused. */
static void kill_and_reap(proc_t *p) {
  if (p->pid <= 0) {
    if (p->pgid > 0 && (p->fd_out >= 0 || p->fd_err >= 0)) kill(-p->pgid, SIGKILL);
    return;
  }
  kill(-p->pid, SIGKILL);
  kill(p->pid, SIGKILL);
  int st;
  while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
  }
  p->pid = 0;
}

static void stop_watching(proc_t *p) {
  if (p->timeout_timer) loop_timer_cancel(p->lp, p->timeout_timer);
  if (p->poll_timer) loop_timer_cancel(p->lp, p->poll_timer);
  p->timeout_timer = p->poll_timer = 0;
  close_fd(p, &p->fd_in);
  close_fd(p, &p->fd_out);
  close_fd(p, &p->fd_err);
  close_fd(p, &p->pidfd);
}

static void finish(proc_t *p) {
  if (p->finished) return;
  p->finished = 1;
  stop_watching(p);
  if (p->done) p->done(p->ud, p); /* last: it may free p */
}

static void fail(proc_t *p, const char *kind, const char *fmt, double x) {
  p->err_kind = kind;
  snprintf(p->errmsg, sizeof p->errmsg, fmt, p->name, x);
  kill_and_reap(p);
  p->how = 0;
  finish(p);
}

static void check_done(proc_t *p) {
  if (p->pid == 0 && p->fd_out < 0 && p->fd_err < 0) finish(p);
}

static void try_reap(proc_t *p) {
  if (p->pid <= 0) return;
  int st;
  pid_t r = waitpid(p->pid, &st, WNOHANG);
  if (r == p->pid) {
    record_status(p, st);
    close_fd(p, &p->pidfd);
    if (p->poll_timer) loop_timer_cancel(p->lp, p->poll_timer);
    p->poll_timer = 0;
  } else if (r < 0 && errno == ECHILD) {
    p->pid = 0; /* reaped elsewhere: status unknown */
    p->how = 1;
    p->status = -1;
  }
}

static void on_pidfd(void *ud, int fd, short revents) {
  proc_t *p = ud;
  (void)fd;
  (void)revents;
  try_reap(p);
  check_done(p);
}

static void on_poll(void *ud) {
  proc_t *p = ud;
  p->poll_timer = 0;
  try_reap(p);
  if (p->pid > 0) {
    if (p->poll_every < 0.1) p->poll_every *= 2;
    p->poll_timer = loop_timer(p->lp, p->poll_every, on_poll, p);
    return;
  }
  check_done(p);
}

static void on_timeout(void *ud) {
  proc_t *p = ud;
  p->timeout_timer = 0;
  fail(p, "timeout", "%s: timed out after %gs (killed)", p->timeout);
}

static int buf_append(pbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) { /* + 1: always NUL-terminated */
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->len + n + 1) c *= 2;
    char *q = malloc(c);
    if (!q) return -1;
    /* copy, then wipe the old block: credentials never linger in freed memory */
    size_t len = b->len;
    if (len) memcpy(q, b->data, len);
    wipe(b);
    b->data = q;
    b->len = len;
    b->cap = c;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

static void on_read(void *ud, int fd, short revents) {
  proc_t *p = ud;
  (void)revents;
  pbuf *b = fd == p->fd_out ? &p->out : &p->err;
  int *slot = fd == p->fd_out ? &p->fd_out : &p->fd_err;
  char chunk[16384];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0) {
      if (b->len + (size_t)n > p->max_output) {
        fail(p, "exec", "%s: output exceeds %.0f bytes (killed)", (double)p->max_output);
        return;
      }
      if (buf_append(b, chunk, (size_t)n)) {
        fail(p, "exec", "%s: out of memory reading its output", 0);
        return;
      }
      if ((size_t)n < sizeof chunk) return; /* drained for now */
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_fd(p, slot); /* EOF (or an error: treat it as one) */
    check_done(p);
    return;
  }
}

static void on_write(void *ud, int fd, short revents) {
  proc_t *p = ud;
  (void)revents;
  while (p->in_off < p->in_len) {
    ssize_t n = send(fd, p->in + p->in_off, p->in_len - p->in_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p->in_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break; /* EPIPE: the child stopped reading */
  }
  close_fd(p, &p->fd_in); /* all written: the child sees EOF */
}

static void set_errmsg(char *err, size_t errlen, const char *what, const char *name, int e) {
  if (err && errlen) snprintf(err, errlen, "%s: %s: %s", name, what, strerror(e));
}

/* the child, between fork and exec: async-signal-safe calls only */
static void child(const proc_opts *o, pid_t parent, int in, int out, int errfd, int report) {
  /* die with kscript, even when it is killed outright (a second Ctrl-C) */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
  setpgid(0, 0);
  if (in < 0) in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0) goto fail;
#ifdef SYS_close_range
  /* every other fd we hold (sockets, the loop's self-pipe) closes on exec */
  syscall(SYS_close_range, 3u, ~0u, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
  execvpe(o->argv[0], o->argv, o->envp ? o->envp : environ);
fail:;
  int e = errno;
  ssize_t w = write(report, &e, sizeof e);
  (void)w;
  _exit(127);
}

proc_t *proc_start(loop_t *lp, const proc_opts *o, proc_done_fn done, void *ud, char *err, size_t errlen) {
  if (!o->argv || !o->argv[0]) {
    if (err && errlen) snprintf(err, errlen, "no command");
    return NULL;
  }
  proc_t *p = calloc(1, sizeof *p);
  if (!p) {
    set_errmsg(err, errlen, "cannot start", o->argv[0], ENOMEM);
    return NULL;
  }
  p->lp = lp;
  p->pidfd = p->fd_in = p->fd_out = p->fd_err = -1;
  p->max_output = o->max_output ? o->max_output : PROC_MAX_OUTPUT_DEFAULT;
  p->timeout = o->timeout;
  p->done = done;
  p->ud = ud;
  snprintf(p->name, sizeof p->name, "%s", o->argv[0]);
  if (o->stdin_data) {
    p->in = malloc(o->stdin_len ? o->stdin_len : 1);
    if (!p->in) goto nomem;
    memcpy(p->in, o->stdin_data, o->stdin_len);
    p->in_len = o->stdin_len;
  }

  int sin[2] = {-1, -1}, sout[2] = {-1, -1}, serr[2] = {-1, -1}, rep[2] = {-1, -1};
  int e = 0;
  if ((o->stdin_data && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sin) < 0) ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sout) < 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, serr) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
    e = errno;
    goto closeall;
  }
  if (o->stdin_data) shutdown(sin[1], SHUT_RD); /* one-way, like a pipe */
  shutdown(sout[0], SHUT_WR);
  shutdown(serr[0], SHUT_WR);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    e = errno;
    goto closeall;
  }
  if (pid == 0) child(o, parent, sin[0], sout[1], serr[1], rep[1]);
  setpgid(pid, pid); /* also done by the child: whichever runs first */
  close(rep[1]);
  rep[1] = -1;
  int ce = 0;
  ssize_t n;
  while ((n = read(rep[0], &ce, sizeof ce)) < 0 && errno == EINTR) {
  }
  close(rep[0]);
  rep[0] = -1;
  if (n == (ssize_t)sizeof ce) { /* exec failed */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    e = ce;
    goto closeall;
  }
  p->pid = p->pgid = pid;
  if (sin[0] >= 0) close(sin[0]);
  close(sout[1]);
  close(serr[1]);
  p->fd_in = sin[1];
  p->fd_out = sout[0];
  p->fd_err = serr[0];
  for (int i = 0; i < 3; i++) {
    int fd = i == 0 ? p->fd_in : i == 1 ? p->fd_out : p->fd_err;
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (p->fd_in >= 0) loop_watch_fd(lp, p->fd_in, POLLOUT, on_write, p);
  loop_watch_fd(lp, p->fd_out, POLLIN, on_read, p);
  loop_watch_fd(lp, p->fd_err, POLLIN, on_read, p);
#ifdef SYS_pidfd_open
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  if (p->pidfd >= 0) {
    fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    loop_watch_fd(lp, p->pidfd, POLLIN, on_pidfd, p);
  } else {
    p->pidfd = -1;
    p->poll_every = 0.005;
    p->poll_timer = loop_timer(lp, p->poll_every, on_poll, p);
  }
  if (o->timeout > 0) p->timeout_timer = loop_timer(lp, o->timeout, on_timeout, p);
  return p;

closeall:
  for (int i = 0; i < 2; i++) {
    if (sin[i] >= 0) close(sin[i]);
    if (sout[i] >= 0) close(sout[i]);
    if (serr[i] >= 0) close(serr[i]);
    if (rep[i] >= 0) close(rep[i]);
  }
  set_errmsg(err, errlen, e == ENOENT ? "cannot run" : "cannot start", o->argv[0], e);
  free(p->in);
  free(p);
  return NULL;
nomem:
  free(p);
  set_errmsg(err, errlen, "cannot start", o->argv[0], ENOMEM);
  return NULL;
}

const char *proc_result(const proc_t *p, int *status) {
  if (status) *status = p->status;
  return p->how == 1 ? "exited" : p->how == 2 ? "signaled" : NULL;
}

const char *proc_error(const proc_t *p, const char **kind) {
  if (!p->err_kind) return NULL;
  if (kind) *kind = p->err_kind;
  return p->errmsg;
}

const char *proc_stdout(const proc_t *p, size_t *len) {
  *len = p->out.len;
  return p->out.data ? p->out.data : "";
}

const char *proc_stderr(const proc_t *p, size_t *len) {
  *len = p->err.len;
  return p->err.data ? p->err.data : "";
}

int proc_pid(const proc_t *p) { return (int)p->pid; }

void proc_free(proc_t *p) {
  if (!p) return;
  p->finished = 1; /* no callback from here on */
  kill_and_reap(p);
  stop_watching(p);
  wipe(&p->out);
  wipe(&p->err);
  if (p->in) {
    volatile char *v = p->in;
    for (size_t i = 0; i < p->in_len; i++) v[i] = 0;
    free(p->in);
  }
  free(p);
}
