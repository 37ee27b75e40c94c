/* tunnel.c: upgrade requests spliced between a client socket and a libcurl
 * CONNECT_ONLY connection (see tunnel.h). */
#define _GNU_SOURCE
#include "tunnel.h"

#include "buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <http_parser.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_CAP (256 * 1024)        /* pending bytes towards one side */
#define HEAD_MAX (64 * 1024)         /* a response head over this is refused */
#define BODY_MAX (8 * 1024 * 1024)   /* a non-101 body over this is refused */
#define DRAIN_SECONDS 5.0            /* flushing after one side ended */
#define MAX_CURL_FDS 8

enum { P_CONNECT, P_REQUEST, P_HEAD, P_SPLICE, P_DONE };

typedef struct {
  char *b;
  size_t head, tail, cap;
} pipe_t;

struct tun {
  loop_t *lp;
  CURLM *multi;
  CURL *easy;
  char errbuf[CURL_ERROR_SIZE];
  struct curl_slist *connect_to;
  int phase;
  uint64_t timer, drain_timer;
  struct {
    int fd;
    short ev;
  } cfds[MAX_CURL_FDS]; /* what libcurl asked to watch while connecting */
  int ncfds;
  int upfd, cfd;
  char *target, *method, *url;
  buf_t reqhead; /* request line and headers, until connected */
  buf_t reqbody;
  /* the answer */
  http_parser p;
  buf_t raw; /* every byte received before the tunnel (the 101 head and after) */
  buf_t hdr; /* name\0value\0 pairs */
  size_t nh;
  int last_was_value, head_done, msg_done;
  int status;
  buf_t body;
  /* the tunnel */
  pipe_t to_up, to_client;
  int up_eof, client_eof, ending;
  unsigned long long up_bytes, down_bytes;
  const char *err_kind;
  char err_msg[512];
  tun_fn fn;
  void *ud;
  int notify_ev, notify_pending, freed;
};

/* --- errors and notification --- */

static void set_error(tun_t *t, const char *kind, const char *fmt, const char *detail) {
  if (t->err_kind) return;
  t->err_kind = kind;
  char m[400];
  snprintf(m, sizeof m, fmt, detail);
  snprintf(t->err_msg, sizeof t->err_msg, "%s %s%s: %s", t->method, t->url, t->target ? t->target : "", m);
}

static void notify_cb(void *ud) {
  tun_t *t = ud;
  t->notify_pending = 0;
  if (t->freed) {
    free(t);
    return;
  }
  int ev = t->notify_ev;
  t->notify_ev = 0;
  if (ev & TUN_EV_HEAD) t->fn(t->ud, t, TUN_EV_HEAD);
  else if (ev & TUN_EV_END) t->fn(t->ud, t, TUN_EV_END);
}

static void notify(tun_t *t, int ev) {
  t->notify_ev |= ev;
  if (t->notify_pending) return;
  t->notify_pending = 1;
  loop_defer(t->lp, notify_cb, t);
}

static void fail_curl(tun_t *t, CURLcode rc) {
  char msg[CURL_ERROR_SIZE + 64];
  snprintf(msg, sizeof msg, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
  const char *kind = http_error_kind(rc, msg);
  long oserr = 0;
  curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &oserr);
  if (rc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED) { /* as http.c says it */
    kind = "refused";
    if (!strstr(msg, "refused")) strncat(msg, ": Connection refused", sizeof msg - strlen(msg) - 1);
  }
  set_error(t, kind, "%s", msg);
}

/* --- the response parser (http-parser) --- */

static int on_begin(http_parser *p) {
  tun_t *t = p->data;
  t->hdr.len = t->body.len = 0;
  t->nh = 0;
  t->last_was_value = 0;
  return 0;
}

static int on_field(http_parser *p, const char *at, size_t len) {
  tun_t *t = p->data;
  if (t->last_was_value || t->nh == 0) {
    if (t->nh > 0 && buf_add(&t->hdr, "", 1)) return -1;
    t->nh++;
    t->last_was_value = 0;
  }
  return buf_add(&t->hdr, at, len);
}

static int on_value(http_parser *p, const char *at, size_t len) {
  tun_t *t = p->data;
  if (!t->last_was_value) {
    if (buf_add(&t->hdr, "", 1)) return -1;
    t->last_was_value = 1;
  }
  return buf_add(&t->hdr, at, len);
}

static int on_headers(http_parser *p) {
  tun_t *t = p->data;
  if (t->nh > 0) {
    if (!t->last_was_value && buf_add(&t->hdr, "", 1)) return -1;
    if (buf_add(&t->hdr, "", 1)) return -1;
  }
  t->status = (int)p->status_code;
  if (p->status_code == 101) {
    t->head_done = 1;
    return 2; /* no body, nothing after it is HTTP */
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  tun_t *t = p->data;
  if (t->body.len + len > BODY_MAX) return -1;
  return buf_add(&t->body, at, len);
}

static int on_complete(http_parser *p) {
  tun_t *t = p->data;
  if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) return 0; /* 100 Continue: go on */
  t->msg_done = 1;
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

static int head_cb(http_parser *p) {
  *(int *)p->data = 1;
  return p->status_code == 101 ? 2 : 1;
}

long tun_upgrade_head(const char *data, size_t len, int *status) {
  static const http_parser_settings hs = {.on_headers_complete = head_cb};
  http_parser p;
  int done = 0;
  http_parser_init(&p, HTTP_RESPONSE);
  p.data = &done;
  *status = 0;
  size_t n = http_parser_execute(&p, &hs, data, len);
  if (!done) return HTTP_PARSER_ERRNO(&p) == HPE_OK ? 0 : -1;
  *status = (int)p.status_code;
  return p.status_code == 101 ? (long)n : -1;
}

/* --- pipes --- */

static int pipe_init(pipe_t *q, size_t cap) {
  q->b = malloc(cap);
  q->head = q->tail = 0;
  q->cap = q->b ? cap : 0;
  return q->b ? 0 : -1;
}

static size_t pipe_pending(const pipe_t *q) { return q->tail - q->head; }

static void pipe_consumed(pipe_t *q, size_t n) {
  q->head += n;
  if (q->head == q->tail) q->head = q->tail = 0;
}

/* --- socket plumbing --- */

static void up_io(void *ud, int fd, short revents);
static void client_io(void *ud, int fd, short revents);
static void pump(tun_t *t);

static void unwatch_curl_fds(tun_t *t) {
  for (int i = 0; i < t->ncfds; i++) loop_unwatch_fd(t->lp, t->cfds[i].fd);
  t->ncfds = 0;
}

/* the end of the tunnel or of the attempt: close both sides, tell the owner */
static void finish(tun_t *t, int ev) {
  if (t->phase == P_DONE) return;
  t->phase = P_DONE;
  unwatch_curl_fds(t);
  if (t->upfd >= 0) loop_unwatch_fd(t->lp, t->upfd);
  if (t->cfd >= 0) {
    loop_unwatch_fd(t->lp, t->cfd);
    close(t->cfd);
    t->cfd = -1;
  }
  if (t->drain_timer) {
    loop_timer_cancel(t->lp, t->drain_timer);
    t->drain_timer = 0;
  }
  notify(t, ev);
}

static int timer_cb(CURLM *m, long ms, void *ud);
static void check_connected(tun_t *t);

static void curl_timer(void *ud) {
  tun_t *t = ud;
  t->timer = 0;
  int running;
  curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_connected(t);
}

static int timer_cb(CURLM *m, long ms, void *ud) {
  tun_t *t = ud;
  (void)m;
  if (t->timer) {
    loop_timer_cancel(t->lp, t->timer);
    t->timer = 0;
  }
  if (ms >= 0 && t->phase == P_CONNECT) t->timer = loop_timer(t->lp, (double)ms / 1000.0, curl_timer, t);
  return 0;
}

static void curl_io(void *ud, int fd, short revents) {
  tun_t *t = ud;
  int flags = (revents & POLLIN ? CURL_CSELECT_IN : 0) | (revents & POLLOUT ? CURL_CSELECT_OUT : 0);
  int running;
  curl_multi_socket_action(t->multi, fd, flags, &running);
  check_connected(t);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *ud, void *sp) {
  tun_t *t = ud;
  (void)e;
  (void)sp;
  if (t->phase != P_CONNECT) return 0; /* the socket is ours now */
  int i;
  for (i = 0; i < t->ncfds; i++)
    if (t->cfds[i].fd == s) break;
  if (what == CURL_POLL_REMOVE) {
    if (i < t->ncfds) {
      loop_unwatch_fd(t->lp, s);
      t->cfds[i] = t->cfds[--t->ncfds];
    }
    return 0;
  }
  short ev = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
  if (i == t->ncfds) {
    if (t->ncfds == MAX_CURL_FDS) return -1;
    t->ncfds++;
  }
  t->cfds[i].fd = s;
  t->cfds[i].ev = ev;
  loop_watch_fd(t->lp, s, ev, curl_io, t);
  return 0;
}

/* the connection is up (or failed): send the request */
static void check_connected(tun_t *t) {
  if (t->phase != P_CONNECT) return;
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(t->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURLcode rc = msg->data.result;
    if (rc != CURLE_OK) {
      fail_curl(t, rc);
      finish(t, TUN_EV_HEAD);
      return;
    }
    curl_socket_t s = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(t->easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK || s == CURL_SOCKET_BAD) {
      set_error(t, "error", "%s", "no socket after connecting");
      finish(t, TUN_EV_HEAD);
      return;
    }
    unwatch_curl_fds(t);
    if (t->timer) {
      loop_timer_cancel(t->lp, t->timer);
      t->timer = 0;
    }
    t->phase = P_REQUEST;
    t->upfd = (int)s;
    size_t need = t->reqhead.len + t->reqbody.len;
    if (pipe_init(&t->to_up, need > PIPE_CAP ? need : PIPE_CAP)) {
      set_error(t, "error", "%s", "out of memory");
      finish(t, TUN_EV_HEAD);
      return;
    }
    memcpy(t->to_up.b, t->reqhead.p, t->reqhead.len);
    if (t->reqbody.len) memcpy(t->to_up.b + t->reqhead.len, t->reqbody.p, t->reqbody.len);
    t->to_up.tail = need;
    buf_free(&t->reqhead);
    buf_free(&t->reqbody);
    pump(t);
    return;
  }
}

static void set_watch(tun_t *t, int fd, short ev, loop_fd_fn fn) {
  if (fd < 0) return;
  if (ev) loop_watch_fd(t->lp, fd, ev, fn, t);
  else loop_unwatch_fd(t->lp, fd);
}

/* send what is pending upstream; -1 on a broken connection */
static int send_up(tun_t *t, int *progress) {
  while (pipe_pending(&t->to_up)) {
    size_t n = 0;
    CURLcode rc = curl_easy_send(t->easy, t->to_up.b + t->to_up.head, pipe_pending(&t->to_up), &n);
    if (rc == CURLE_AGAIN) return 0;
    if (rc != CURLE_OK) {
      fail_curl(t, rc);
      return -1;
    }
    if (t->phase == P_SPLICE) t->up_bytes += n;
    pipe_consumed(&t->to_up, n);
    *progress = 1;
  }
  return 0;
}

/* the answer, before any tunnel: feed http-parser */
static void read_head(tun_t *t) {
  char tmp[16384];
  for (;;) {
    size_t n = 0;
    CURLcode rc = curl_easy_recv(t->easy, tmp, sizeof tmp, &n);
    if (rc == CURLE_AGAIN) return;
    if (rc != CURLE_OK) {
      fail_curl(t, rc);
      finish(t, TUN_EV_HEAD);
      return;
    }
    if (n == 0) { /* EOF: a close-delimited body ends here */
      http_parser_execute(&t->p, &settings, NULL, 0);
      if (!t->msg_done) {
        set_error(t, "closed", "%s", t->status ? "the server closed the connection mid-response"
                                               : "the server closed the connection without answering");
      }
      finish(t, TUN_EV_HEAD);
      return;
    }
    if (!t->head_done && buf_add(&t->raw, tmp, n)) {
      set_error(t, "error", "%s", "out of memory");
      finish(t, TUN_EV_HEAD);
      return;
    }
    size_t used = http_parser_execute(&t->p, &settings, tmp, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&t->p);
    if (t->head_done) {
      /* a 101: raw holds the head and whatever came after it, all for the client */
      (void)used;
      t->phase = P_HEAD;
      if (t->upfd >= 0) loop_unwatch_fd(t->lp, t->upfd);
      notify(t, TUN_EV_HEAD);
      return;
    }
    if (e != HPE_OK) {
      set_error(t, "protocol", "bad response: %s", http_errno_description(e));
      finish(t, TUN_EV_HEAD);
      return;
    }
    if (t->msg_done) {
      finish(t, TUN_EV_HEAD); /* a whole non-101 answer */
      return;
    }
    if (!t->status && t->raw.len > HEAD_MAX) {
      set_error(t, "protocol", "%s", "response head too large");
      finish(t, TUN_EV_HEAD);
      return;
    }
    if (t->raw.len > HEAD_MAX) t->raw.len = 0; /* a long body: the raw copy is not needed */
  }
}

static void drain_timeout(void *ud) {
  tun_t *t = ud;
  t->drain_timer = 0;
  finish(t, TUN_EV_END);
}

static void pump(tun_t *t) {
  if (t->phase == P_REQUEST) {
    int progress = 0;
    if (send_up(t, &progress)) {
      finish(t, TUN_EV_HEAD);
      return;
    }
    read_head(t);
    if (t->phase == P_REQUEST) set_watch(t, t->upfd, (short)(POLLIN | (pipe_pending(&t->to_up) ? POLLOUT : 0)), up_io);
    return;
  }
  if (t->phase != P_SPLICE) return;
  for (;;) {
    int progress = 0;
    /* client -> upstream */
    if (!t->ending && t->to_up.tail < t->to_up.cap) {
      ssize_t n = recv(t->cfd, t->to_up.b + t->to_up.tail, t->to_up.cap - t->to_up.tail, 0);
      if (n > 0) {
        t->to_up.tail += (size_t)n;
        progress = 1;
      } else if (n == 0) {
        t->client_eof = t->ending = 1;
        progress = 1;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        finish(t, TUN_EV_END);
        return;
      }
    }
    if (!t->up_eof && send_up(t, &progress)) {
      finish(t, TUN_EV_END);
      return;
    }
    /* upstream -> client */
    if (!t->ending) {
      pipe_t *q = &t->to_client;
      if (q->tail == q->cap && q->head > 0) { /* room at the front: move the rest there */
        memmove(q->b, q->b + q->head, pipe_pending(q));
        q->tail -= q->head;
        q->head = 0;
      }
      if (q->tail < q->cap) {
        size_t n = 0;
        CURLcode rc = curl_easy_recv(t->easy, q->b + q->tail, q->cap - q->tail, &n);
        if (rc == CURLE_OK && n > 0) {
          q->tail += n;
          progress = 1;
        } else if (rc == CURLE_OK || rc != CURLE_AGAIN) {
          t->up_eof = t->ending = 1; /* EOF, or a broken connection: the end either way */
          progress = 1;
        }
      }
    }
    if (!t->client_eof) {
      while (pipe_pending(&t->to_client)) {
        ssize_t n = send(t->cfd, t->to_client.b + t->to_client.head, pipe_pending(&t->to_client), MSG_NOSIGNAL);
        if (n > 0) {
          t->down_bytes += (unsigned long long)n;
          pipe_consumed(&t->to_client, (size_t)n);
          progress = 1;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        finish(t, TUN_EV_END);
        return;
      }
    }
    if (t->ending) {
      /* one side ended: flush what is pending towards the other, then close both */
      if ((t->client_eof && (t->up_eof || !pipe_pending(&t->to_up))) ||
          (t->up_eof && (t->client_eof || !pipe_pending(&t->to_client)))) {
        finish(t, TUN_EV_END);
        return;
      }
      if (!t->drain_timer) t->drain_timer = loop_timer(t->lp, DRAIN_SECONDS, drain_timeout, t);
    }
    if (!progress) break;
  }
  short cev = 0, uev = 0;
  if (!t->ending && t->to_up.tail < t->to_up.cap) cev |= POLLIN;
  if (!t->client_eof && pipe_pending(&t->to_client)) cev |= POLLOUT;
  if (!t->ending && (t->to_client.tail < t->to_client.cap || t->to_client.head > 0)) uev |= POLLIN;
  if (!t->up_eof && pipe_pending(&t->to_up)) uev |= POLLOUT;
  set_watch(t, t->cfd, cev, client_io);
  set_watch(t, t->upfd, uev, up_io);
}

static void up_io(void *ud, int fd, short revents) {
  (void)fd;
  (void)revents;
  pump(ud);
}

static void client_io(void *ud, int fd, short revents) {
  (void)fd;
  (void)revents;
  pump(ud);
}

/* --- setup --- */


/* the request line and Host from the URL; with server_name, connect to the
 * URL's host but verify (and send SNI for) server_name */
static int build(tun_t *t, const http_opts *o, const char *target) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *scheme = NULL, *nu = NULL;
  int rc = -1;
  if (!u || curl_url_set(u, CURLUPART_URL, t->url, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) goto out;
  int dflt = (strcmp(scheme, "https") == 0 && strcmp(port, "443") == 0) ||
             (strcmp(scheme, "http") == 0 && strcmp(port, "80") == 0);
  char line[512];
  int n = snprintf(line, sizeof line, "%s ", t->method);
  if (buf_add(&t->reqhead, line, (size_t)n) || buf_add(&t->reqhead, target, strlen(target))) goto out;
  n = snprintf(line, sizeof line, " HTTP/1.1\r\nHost: %s%s%s\r\n", host, dflt ? "" : ":", dflt ? "" : port);
  if (buf_add(&t->reqhead, line, (size_t)n)) goto out;
  for (const char *const *h = o->headers; h && *h; h++) {
    const char *colon = strchr(*h, ':');
    if (!colon || colon[1] == 0) continue; /* "Name:" (curl's "remove this header"): nothing to send */
    if (strncasecmp(*h, "Host:", 5) == 0 || strncasecmp(*h, "Content-Length:", 15) == 0) continue;
    if (buf_add(&t->reqhead, *h, strlen(*h)) || buf_add(&t->reqhead, "\r\n", 2)) goto out;
  }
  if (o->body && o->body_len) {
    n = snprintf(line, sizeof line, "Content-Length: %zu\r\n", o->body_len);
    if (buf_add(&t->reqhead, line, (size_t)n) || buf_add(&t->reqbody, o->body, o->body_len)) goto out;
  }
  if (buf_add(&t->reqhead, "\r\n", 2)) goto out;
  if (o->server_name && *o->server_name) {
    if (curl_url_set(u, CURLUPART_HOST, o->server_name, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_URL, &nu, 0) != CURLUE_OK) goto out;
    char ct[512];
    snprintf(ct, sizeof ct, "%s:%s:%s:%s", o->server_name, port, host, port);
    t->connect_to = curl_slist_append(NULL, ct);
    curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, t->connect_to);
    curl_easy_setopt(t->easy, CURLOPT_URL, nu);
  } else {
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
  }
  rc = 0;
out:
  curl_free(host);
  curl_free(port);
  curl_free(scheme);
  curl_free(nu);
  curl_url_cleanup(u);
  return rc;
}

/* TLS sessions shared by every tunnel of the process, so the next upgrade to
 * the same server resumes instead of a full handshake (libcurl keys them by
 * host, port and TLS configuration, client certificate included).  One
 * thread: no locking. */
static CURLSH *ssl_share(void) {
  static CURLSH *sh;
  if (!sh && (sh = curl_share_init())) curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return sh;
}

tun_t *tun_start(loop_t *lp, const http_opts *o, const char *target, tun_fn fn, void *ud, const char **err) {
  if (http_global_init() != 0) {
    *err = "cannot initialise libcurl";
    return NULL;
  }
  tun_t *t = calloc(1, sizeof *t);
  if (!t) {
    *err = "out of memory";
    return NULL;
  }
  t->lp = lp;
  t->fn = fn;
  t->ud = ud;
  t->upfd = t->cfd = -1;
  t->phase = P_CONNECT;
  t->method = strdup(o->method ? o->method : "GET");
  t->url = strdup(o->url ? o->url : "");
  t->target = strdup(target && *target ? target : "/");
  http_parser_init(&t->p, HTTP_RESPONSE);
  t->p.data = t;
  t->multi = curl_multi_init();
  t->easy = curl_easy_init();
  if (!t->method || !t->url || !t->target || !t->multi || !t->easy) {
    *err = "cannot create a transfer";
    tun_free(t);
    return NULL;
  }
  CURL *e = t->easy;
  if (build(t, o, t->target)) {
    *err = "malformed URL";
    tun_free(t);
    return NULL;
  }
  curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
  if (ssl_share()) curl_easy_setopt(e, CURLOPT_SHARE, ssl_share());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  http_set_keepalive(e, o);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  /* ALPN offers http/1.1 only: the request that follows is HTTP/1.1 */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  http_set_tls(e, o);
  if (o->proxy) curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
  /* through an HTTP proxy (given, or from the environment) the request that
   * follows must reach the server itself: always CONNECT */
  curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout > 0 ? (long)(o->connect_timeout * 1000) : 30000L);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
  if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
    *err = "cannot start the connection";
    tun_free(t);
    return NULL;
  }
  return t;
}

void tun_free(tun_t *t) {
  if (!t || t->freed) return;
  t->phase = P_DONE;
  unwatch_curl_fds(t);
  if (t->timer) loop_timer_cancel(t->lp, t->timer);
  if (t->drain_timer) loop_timer_cancel(t->lp, t->drain_timer);
  t->timer = t->drain_timer = 0;
  if (t->upfd >= 0) loop_unwatch_fd(t->lp, t->upfd);
  if (t->cfd >= 0) {
    loop_unwatch_fd(t->lp, t->cfd);
    close(t->cfd);
  }
  if (t->multi && t->easy) curl_multi_remove_handle(t->multi, t->easy); /* closes a CONNECT_ONLY connection */
  if (t->easy) curl_easy_cleanup(t->easy);
  if (t->multi) curl_multi_cleanup(t->multi);
  curl_slist_free_all(t->connect_to);
  free(t->method);
  free(t->url);
  free(t->target);
  buf_free(&t->reqhead);
  buf_free(&t->reqbody);
  buf_free(&t->raw);
  buf_free(&t->hdr);
  buf_free(&t->body);
  free(t->to_up.b);
  free(t->to_client.b);
  if (t->notify_pending) {
    t->freed = 1; /* the deferred notification frees t */
    return;
  }
  free(t);
}

int tun_status(const tun_t *t) { return t->err_kind && !t->msg_done && !t->head_done ? 0 : t->status; }

const char *tun_error(const tun_t *t, const char **kind) {
  if (kind) *kind = t->err_kind;
  return t->err_kind ? t->err_msg : NULL;
}

size_t tun_header_count(const tun_t *t) { return t->nh; }

void tun_header(const tun_t *t, size_t i, const char **name, const char **value) {
  const char *h = t->hdr.p;
  for (size_t k = 0; k < i; k++) {
    h += strlen(h) + 1;
    h += strlen(h) + 1;
  }
  *name = h;
  *value = h + strlen(h) + 1;
}

const char *tun_body(const tun_t *t, size_t *len) {
  *len = t->body.len;
  return t->body.p ? t->body.p : "";
}

int tun_splice(tun_t *t, int client_fd, const char *rest, size_t restlen) {
  if (t->phase != P_HEAD || t->status != 101 || pipe_pending(&t->to_up)) {
    close(client_fd);
    return -1;
  }
  free(t->to_up.b);
  t->to_up.b = NULL;
  if (pipe_init(&t->to_up, restlen > PIPE_CAP ? restlen : PIPE_CAP) ||
      pipe_init(&t->to_client, t->raw.len > PIPE_CAP ? t->raw.len : PIPE_CAP)) {
    close(client_fd);
    return -1;
  }
  if (restlen) memcpy(t->to_up.b, rest, restlen);
  t->to_up.tail = restlen;
  if (t->raw.len) memcpy(t->to_client.b, t->raw.p, t->raw.len);
  t->to_client.tail = t->raw.len;
  buf_free(&t->raw);
  t->cfd = client_fd;
  t->phase = P_SPLICE;
  pump(t);
  return 0;
}

void tun_counts(const tun_t *t, unsigned long long *up, unsigned long long *down) {
  *up = t->up_bytes;
  *down = t->down_bytes;
}
