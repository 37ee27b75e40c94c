/* server.c: HTTP/1.1 server connections on the loop; requests parsed by
 * http-parser, responses framed here. */
#define _GNU_SOURCE
#include "server.h"

#include "buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HIGH_WATER (256 * 1024)
#define DIRECT_MIN (64 * 1024) /* srv_queue: bytes worth a sendmsg of their own */
#define SRV_MAX_INPUT (1024 * 1024) /* unparsed input kept while a response runs */
#define STREAM_MIN (64 * 1024) /* stream_body: bodies over this (or chunked) stream */

static void buf_eat(buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    if (b->p) b->p[0] = 0;
    return;
  }
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
  b->p[b->len] = 0;
}

struct srv {
  loop_t *lp;
  int fd;
  int port;
  char *unix_path;
  size_t max_body;
  int stream_body;
  srv_request_fn on_request;
  void *ud;
  srv_conn *conns; /* every live connection */
  int closed; /* 1: closing, 2: closed, freed with its last connection */
};

enum { C_READ, C_HELD, C_DEAD };

struct srv_conn {
  srv_t *s;
  srv_conn *next, *prev;
  int fd;
  int state;      /* C_READ: parsing; C_HELD: delivered, response pending */
  int held;       /* the upper layer holds c (until srv_release) */
  int close_after; /* close once the output is flushed */
  int flushq;      /* a flush is deferred to the end of the loop turn (srv_queue) */
  int zombie;      /* freed while flushq: the deferred flush frees it */
  uint64_t linger; /* closing with the client still sending: a timer */
  http_parser p;
  buf_t in;  /* bytes read, not yet parsed */
  buf_t out; /* bytes to send */
  size_t outhead;
  /* the request being parsed */
  buf_t url, hdr, body; /* hdr: name\0value\0 pairs */
  size_t nh;
  int last_was_value;
  int complete, too_big, expect_continue;
  int streaming;      /* delivered at its headers: the body is read as it comes */
  size_t bodyhead;    /* streaming: body bytes already taken */
  long long declared; /* Content-Length, -1 if none (chunked) */
  char method[24];
  char remote[64];
  /* the response */
  int responded, chunked, ended, keepalive, head, nobody;
  srv_notify_fn notify;
  void *nud;
};

size_t srv_high_water(void) { return HIGH_WATER; }

const char *srv_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Request Entity Too Large";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Entity";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "";
  }
}

static void conn_io(void *ud, int fd, short revents);
static void conn_parse(srv_conn *c);

static void watch(srv_conn *c) {
  if (c->fd < 0) return;
  short ev = 0;
  /* keep reading while a response runs (a disconnect must be seen), up to a
   * bound of pipelined input */
  if (c->close_after ||
      (c->in.len < SRV_MAX_INPUT && !(c->streaming && !c->complete && c->body.len - c->bodyhead >= HIGH_WATER)))
    ev |= POLLIN;
  /* POLLOUT only when a send would block: queued output waiting for the
   * turn's deferred flush asks for none */
  if (c->out.len > c->outhead && !c->flushq) ev |= POLLOUT;
  if (ev) loop_watch_fd(c->s->lp, c->fd, ev, conn_io, c);
  else loop_unwatch_fd(c->s->lp, c->fd);
}

static void conn_free(srv_conn *c) {
  srv_t *s = c->s;
  if (c->linger) loop_timer_cancel(s->lp, c->linger);
  if (c->prev) c->prev->next = c->next;
  else if (s) s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  buf_free(&c->in);
  buf_free(&c->out);
  buf_free(&c->url);
  buf_free(&c->hdr);
  buf_free(&c->body);
  if (c->flushq) c->zombie = 1; /* the deferred flush still has c: it frees it */
  else free(c);
  if (s && s->closed == 2 && !s->conns) { /* the last connection of a closed server */
    free(s->unix_path);
    free(s);
  }
}

/* The client is gone (or the server closes): close the socket; free the
 * connection unless the upper layer holds it. */
static void conn_kill(srv_conn *c) {
  if (c->fd >= 0) {
    loop_unwatch_fd(c->s->lp, c->fd);
    close(c->fd);
    c->fd = -1;
  }
  c->state = C_DEAD;
  if (!c->held) {
    conn_free(c);
    return;
  }
  if (c->notify) c->notify(c->nud, c, SRV_EV_CLOSED);
}

static void linger_end(void *ud) {
  srv_conn *c = ud;
  c->linger = 0;
  conn_kill(c);
}

/* Send what we can; returns -1 if the connection died (c may be freed). */
static int conn_flush(srv_conn *c) {
  while (c->fd >= 0 && c->out.len > c->outhead) {
    ssize_t n = send(c->fd, c->out.p + c->outhead, c->out.len - c->outhead, MSG_NOSIGNAL);
    if (n > 0) {
      c->outhead += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    conn_kill(c);
    return -1;
  }
  if (c->out.len == c->outhead) {
    c->out.len = c->outhead = 0;
    if (c->close_after && c->state != C_HELD) {
      if (c->streaming && !c->complete && !c->linger && c->fd >= 0) {
        /* answered before the client sent its whole body: closing now would
         * reset the connection and the client might lose the answer (Go's
         * server waits too).  Send our end, read and drop what still comes
         * for at most 2 s, then close. */
        shutdown(c->fd, SHUT_WR);
        c->linger = loop_timer(c->s->lp, 2.0, linger_end, c);
        watch(c);
        return 0;
      }
      if (c->linger) return 0; /* still lingering */
      conn_kill(c);
      return -1;
    }
  } else if (c->outhead > 64 * 1024 && c->outhead * 2 > c->out.len) {
    buf_eat(&c->out, c->outhead);
    c->outhead = 0;
  }
  watch(c);
  return 0;
}

/* The end of the loop turn: what srv_queue gathered goes out in one send,
 * and only a send that would block asks for POLLOUT.  A relay paused on
 * the high-water mark hears of the drain here as from POLLOUT. */
static void conn_deferred_flush(void *ud) {
  srv_conn *c = ud;
  c->flushq = 0;
  if (c->zombie) {
    free(c);
    return;
  }
  if (c->fd < 0) return;
  if (conn_flush(c)) return;
  if (c->held && c->notify && c->out.len - c->outhead < HIGH_WATER) c->notify(c->nud, c, SRV_EV_DRAIN);
}

static void flush_soon(srv_conn *c) {
  if (c->flushq || c->fd < 0) return;
  if (loop_defer(c->s->lp, conn_deferred_flush, c) == 0) c->flushq = 1;
}

/* --- parser callbacks --- */

static int on_begin(http_parser *p) {
  srv_conn *c = p->data;
  c->url.len = c->hdr.len = c->body.len = 0;
  c->nh = 0;
  c->last_was_value = 0;
  c->complete = c->too_big = c->expect_continue = 0;
  c->streaming = 0;
  c->bodyhead = 0;
  c->declared = -1;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  srv_conn *c = p->data;
  return buf_add(&c->url, at, len);
}

static int on_field(http_parser *p, const char *at, size_t len) {
  srv_conn *c = p->data;
  if (c->last_was_value || c->nh == 0) {
    if (c->nh > 0 && buf_add(&c->hdr, "", 1)) return -1; /* end the previous value */
    c->nh++;
    c->last_was_value = 0;
  }
  return buf_add(&c->hdr, at, len);
}

static int on_value(http_parser *p, const char *at, size_t len) {
  srv_conn *c = p->data;
  if (!c->last_was_value) {
    if (buf_add(&c->hdr, "", 1)) return -1; /* end the name */
    c->last_was_value = 1;
  }
  return buf_add(&c->hdr, at, len);
}

static int on_headers(http_parser *p) {
  srv_conn *c = p->data;
  if (c->nh > 0) {
    if (!c->last_was_value && buf_add(&c->hdr, "", 1)) return -1; /* a name with no value */
    if (buf_add(&c->hdr, "", 1)) return -1;
  }
  snprintf(c->method, sizeof c->method, "%s", http_method_str((enum http_method)p->method));
  c->declared = p->content_length != ULLONG_MAX && p->content_length <= LLONG_MAX ? (long long)p->content_length : -1;
  /* a body over STREAM_MIN, or of unknown length, is read as it comes (no
   * limit then: the upstream has its own) */
  if (c->s->stream_body && !p->upgrade && ((p->flags & F_CHUNKED) || c->declared > STREAM_MIN)) c->streaming = 1;
  else if (c->s->max_body && c->declared >= 0 && (unsigned long long)c->declared > c->s->max_body) c->too_big = 1;
  /* Expect: 100-continue gets its interim response now */
  const char *h = c->hdr.p;
  for (size_t i = 0; i < c->nh; i++) {
    const char *v = h + strlen(h) + 1;
    if (strcasecmp(h, "expect") == 0 && strcasecmp(v, "100-continue") == 0 && !c->too_big && p->http_minor >= 1)
      c->expect_continue = 1;
    h = v + strlen(v) + 1;
  }
  if (c->expect_continue) buf_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  srv_conn *c = p->data;
  if (c->streaming) {
    if (c->bodyhead && c->bodyhead == c->body.len) c->body.len = c->bodyhead = 0;
    return buf_add(&c->body, at, len);
  }
  if (c->too_big || c->body.len + len > c->s->max_body) {
    c->too_big = 1;
    return 0;
  }
  return buf_add(&c->body, at, len);
}

static int on_complete(http_parser *p) {
  srv_conn *c = p->data;
  c->complete = 1;
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* a canned response, then close (errors before the upper layer sees c) */
static void conn_fail(srv_conn *c, int status, const char *body) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", status,
                   srv_reason(status), body);
  buf_add(&c->out, head, (size_t)n);
  c->close_after = 1;
  c->state = C_READ;
  conn_flush(c);
}

static void conn_parse(srv_conn *c) {
  /* a streamed body still coming for a delivered request */
  int more = c->state == C_HELD && c->streaming && !c->complete;
  if ((c->state != C_READ && !more) || c->in.len == 0) return;
  size_t n = http_parser_execute(&c->p, &settings, c->in.p, c->in.len);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
  if (e == HPE_PAUSED) {
    http_parser_pause(&c->p, 0);
    e = HPE_OK;
  }
  buf_eat(&c->in, n);
  if (more) {
    if (e != HPE_OK) { /* a broken body: the request cannot end well */
      conn_kill(c);
      return;
    }
    watch(c);
    if (c->notify) c->notify(c->nud, c, SRV_EV_BODY);
    return;
  }
  if (e != HPE_OK) {
    c->in.len = 0;
    if (e == HPE_HEADER_OVERFLOW) conn_fail(c, 431, "431 Request Header Fields Too Large");
    else conn_fail(c, 400, "400 Bad Request");
    return;
  }
  if (c->expect_continue && !c->complete) {
    c->expect_continue = 0;
    if (conn_flush(c)) return;
  }
  if (c->too_big) { /* declared or grown over the limit: answer now, read no more */
    conn_fail(c, 413, "413 Request Entity Too Large");
    return;
  }
  if (!c->complete && !c->streaming) return;
  if (c->complete) c->streaming = 0; /* all there already: a whole request */
  c->state = C_HELD;
  c->held = 1;
  c->responded = c->ended = c->chunked = 0;
  c->keepalive = http_should_keep_alive(&c->p) && !c->p.upgrade; /* no upgrades: close after */
  c->head = strcmp(c->method, "HEAD") == 0;
  c->notify = NULL;
  c->nud = NULL;
  watch(c);
  c->s->on_request(c->s->ud, c);
}

static void conn_io(void *ud, int fd, short revents) {
  srv_conn *c = ud;
  (void)fd;
  if (revents & POLLOUT) {
    if (conn_flush(c)) return;
    if (c->held && c->notify && c->out.len - c->outhead < HIGH_WATER) c->notify(c->nud, c, SRV_EV_DRAIN);
    if (c->fd < 0) return;
  }
  if (revents & POLLIN) {
    char tmp[16384];
    for (;;) {
      ssize_t n = recv(c->fd, tmp, sizeof tmp, 0);
      if (n > 0) {
        if (c->close_after) continue; /* draining a connection we close */
        if (buf_add(&c->in, tmp, (size_t)n)) {
          conn_kill(c);
          return;
        }
        if ((size_t)n < sizeof tmp || c->in.len >= SRV_MAX_INPUT) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      conn_kill(c); /* EOF or error: the client is gone */
      return;
    }
    if (c->state == C_READ || (c->streaming && !c->complete)) conn_parse(c);
    else watch(c);
  }
}

static void on_accept(void *ud, int fd, short revents) {
  srv_t *s = ud;
  (void)revents;
  for (;;) {
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    int cfd = accept4(fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) return; /* EAGAIN, or EMFILE: try again at the next readiness */
    srv_conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(cfd);
      continue;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->s = s;
    c->fd = cfd;
    c->state = C_READ;
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    char host[INET6_ADDRSTRLEN] = "";
    if (sa.ss_family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)&sa;
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      snprintf(c->remote, sizeof c->remote, "%s:%d", host, ntohs(in->sin_port));
    } else if (sa.ss_family == AF_INET6) {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
      inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
      snprintf(c->remote, sizeof c->remote, "[%s]:%d", host, ntohs(in6->sin6_port));
    } else
      snprintf(c->remote, sizeof c->remote, "@");
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    watch(c);
  }
}

srv_t *srv_listen(loop_t *lp, const srv_opts *o, srv_request_fn on_request, void *ud, char *errbuf, size_t errlen) {
  int fd = -1, port = 0;
  if (o->unix_path) {
    struct sockaddr_un su;
    memset(&su, 0, sizeof su);
    su.sun_family = AF_UNIX;
    if (strlen(o->unix_path) >= sizeof su.sun_path) {
      snprintf(errbuf, errlen, "listen unix %s: path too long", o->unix_path);
      return NULL;
    }
    strcpy(su.sun_path, o->unix_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&su, sizeof su) < 0 || listen(fd, 1024) < 0) {
      snprintf(errbuf, errlen, "listen unix %s: %s", o->unix_path, strerror(errno));
      if (fd >= 0) close(fd);
      return NULL;
    }
  } else {
    const char *addr = o->address && *o->address ? o->address : "127.0.0.1";
    char ps[16];
    snprintf(ps, sizeof ps, "%d", o->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gr = getaddrinfo(addr, ps, &hints, &res);
    if (gr != 0) {
      snprintf(errbuf, errlen, "listen tcp %s:%d: %s", addr, o->port, gai_strerror(gr));
      return NULL;
    }
    const char *step = "socket";
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
      fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        saved = errno;
        continue;
      }
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      step = "bind";
      if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        step = "listen";
        if (listen(fd, 1024) == 0) break;
      }
      saved = errno;
      close(fd);
      fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
      char msg[128];
      snprintf(msg, sizeof msg, "%s", strerror(saved));
      msg[0] = (char)tolower((unsigned char)msg[0]); /* Go's wording: "address already in use" */
      snprintf(errbuf, errlen, "listen tcp %s:%d: %s: %s", addr, o->port, step, msg);
      return NULL;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
      port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port : ((struct sockaddr_in *)&sa)->sin_port);
  }
  srv_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    snprintf(errbuf, errlen, "out of memory");
    return NULL;
  }
  s->lp = lp;
  s->fd = fd;
  s->port = port;
  s->unix_path = o->unix_path ? strdup(o->unix_path) : NULL;
  s->max_body = o->max_body ? o->max_body : 64u * 1024 * 1024;
  s->stream_body = o->stream_body;
  s->on_request = on_request;
  s->ud = ud;
  if (loop_watch_fd(lp, fd, POLLIN, on_accept, s) < 0) {
    close(fd);
    free(s->unix_path);
    free(s);
    snprintf(errbuf, errlen, "out of memory");
    return NULL;
  }
  return s;
}

int srv_port(const srv_t *s) { return s->port; }

void srv_close(srv_t *s) {
  if (!s || s->closed) return;
  s->closed = 1;
  loop_unwatch_fd(s->lp, s->fd);
  close(s->fd);
  if (s->unix_path) unlink(s->unix_path);
  srv_conn *c = s->conns;
  while (c) {
    srv_conn *next = c->next;
    conn_kill(c);
    c = next;
  }
  s->closed = 2; /* from now on the last connection freed frees s */
  if (!s->conns) {
    free(s->unix_path);
    free(s);
  }
}

const char *srv_method(const srv_conn *c) { return c->method; }
const char *srv_target(const srv_conn *c) { return c->url.p ? c->url.p : ""; }
size_t srv_header_count(const srv_conn *c) { return c->nh; }

void srv_header(const srv_conn *c, size_t i, const char **name, const char **value) {
  const char *h = c->hdr.p;
  for (size_t k = 0; k < i; k++) {
    h += strlen(h) + 1;
    h += strlen(h) + 1;
  }
  *name = h;
  *value = h + strlen(h) + 1;
}

const char *srv_body(const srv_conn *c, size_t *len) {
  if (c->streaming) {
    *len = 0;
    return "";
  }
  *len = c->body.len;
  return c->body.p ? c->body.p : "";
}

int srv_body_streaming(const srv_conn *c) { return c->streaming; }
long long srv_body_length(const srv_conn *c) { return c->declared; }

long srv_body_read(srv_conn *c, char *dst, size_t n) {
  if (!c->streaming) return 0;
  size_t have = c->body.len - c->bodyhead;
  if (have == 0) {
    if (c->complete) return 0;
    return c->state == C_DEAD ? -1 : SRV_BODY_WAIT;
  }
  if (n > have) n = have;
  memcpy(dst, c->body.p + c->bodyhead, n);
  c->bodyhead += n;
  if (c->bodyhead == c->body.len) c->body.len = c->bodyhead = 0;
  else if (c->bodyhead >= HIGH_WATER) {
    buf_eat(&c->body, c->bodyhead);
    c->bodyhead = 0;
  }
  if (!c->complete && c->state == C_HELD && c->body.len - c->bodyhead < HIGH_WATER) watch(c); /* read again */
  return (long)n;
}

const char *srv_remote(const srv_conn *c) { return c->remote; }
int srv_http_minor(const srv_conn *c) { return c->p.http_minor; }
int srv_is_closed(const srv_conn *c) { return c->state == C_DEAD; }

void srv_set_notify(srv_conn *c, srv_notify_fn fn, void *ud) {
  c->notify = fn;
  c->nud = ud;
}

static const char *http_date(void) {
  static char buf[64];
  static time_t last;
  time_t now = time(NULL);
  if (now != last) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    last = now;
  }
  return buf;
}

int srv_respond(srv_conn *c, int status, const char *const *headers, long long content_length) {
  if (c->state == C_DEAD || c->responded) return -1;
  c->responded = 1;
  if (c->streaming && !c->complete) c->keepalive = 0; /* the rest of the body is not read */
  c->nobody = c->head || status == 204 || status == 304 || (status >= 100 && status < 200);
  char line[160];
  const char *reason = srv_reason(status);
  int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, *reason ? reason : "status code");
  buf_add(&c->out, line, (size_t)n);
  for (size_t i = 0; headers && headers[i]; i++) {
    buf_add(&c->out, headers[i], strlen(headers[i]));
    buf_add(&c->out, "\r\n", 2);
  }
  n = snprintf(line, sizeof line, "Date: %s\r\n", http_date());
  buf_add(&c->out, line, (size_t)n);
  if (content_length >= 0) {
    if (!(status == 204 || status == 304)) {
      n = snprintf(line, sizeof line, "Content-Length: %lld\r\n", content_length);
      buf_add(&c->out, line, (size_t)n);
    }
  } else if (!c->nobody) {
    if (c->p.http_minor >= 1) {
      c->chunked = 1;
      buf_add(&c->out, "Transfer-Encoding: chunked\r\n", 28);
    } else
      c->keepalive = 0; /* HTTP/1.0: the end of the body is the end of the connection */
  }
  if (!c->keepalive) buf_add(&c->out, "Connection: close\r\n", 19);
  else if (c->p.http_minor == 0) buf_add(&c->out, "Connection: keep-alive\r\n", 24);
  buf_add(&c->out, "\r\n", 2);
  return 0;
}

/* Send what is pending plus a chunk (its framing around it) in one sendmsg,
 * straight from the caller's memory; what the socket does not take is
 * queued.  Never closes: a failed send is left for the loop to find. */
static long long conn_send_direct(srv_conn *c, const char *sz, size_t szl, const char *data, size_t len) {
  struct iovec iov[4];
  int n = 0;
  size_t pending = c->out.len - c->outhead;
  if (pending) iov[n++] = (struct iovec){c->out.p + c->outhead, pending};
  if (szl) iov[n++] = (struct iovec){(void *)sz, szl};
  iov[n++] = (struct iovec){(void *)data, len};
  if (c->chunked) iov[n++] = (struct iovec){(void *)"\r\n", 2};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = (size_t)n;
  ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  size_t k = w > 0 ? (size_t)w : 0;
  int i = 0;
  if (pending) {
    size_t t = k < pending ? k : pending;
    c->outhead += t;
    k -= t;
    i = 1;
    if (c->outhead == c->out.len) c->out.len = c->outhead = 0;
  }
  for (; i < n; i++) { /* queue the rest */
    size_t t = k < iov[i].iov_len ? k : iov[i].iov_len;
    k -= t;
    if (t < iov[i].iov_len && buf_add(&c->out, (const char *)iov[i].iov_base + t, iov[i].iov_len - t)) return -1;
  }
  watch(c); /* POLLOUT while anything is left; a failed send fails again there */
  return (long long)(c->out.len - c->outhead);
}

static long long conn_write(srv_conn *c, const char *data, size_t len, int may_flush) {
  if (c->state == C_DEAD) return -1;
  if (!c->responded || c->ended) return -1;
  if (len == 0 || c->nobody) return (long long)(c->out.len - c->outhead);
  char sz[24];
  size_t szl = c->chunked ? (size_t)snprintf(sz, sizeof sz, "%zx\r\n", len) : 0;
  /* srv_queue: small writes gather in the buffer (the loop sends them when
   * it comes round); once 64 KiB are there, they and the data go to the
   * socket in one sendmsg (the data not copied); a slow client's bytes
   * queue up */
  size_t pending = c->out.len - c->outhead;
  if (!may_flush && c->fd >= 0 && pending < HIGH_WATER && pending + szl + len + 2 >= DIRECT_MIN)
    return conn_send_direct(c, sz, szl, data, len);
  if (szl) buf_add(&c->out, sz, szl);
  if (buf_add(&c->out, data, len)) return -1;
  if (c->chunked) buf_add(&c->out, "\r\n", 2);
  /* send now only once a good amount is queued: small writes coalesce until
   * the end of the loop turn (srv_queue) or until the loop comes round
   * (srv_write: watch() asks for POLLOUT) */
  if (may_flush && c->out.len - c->outhead >= 16384 && conn_flush(c)) return -1;
  if (!may_flush) flush_soon(c);
  watch(c);
  return (long long)(c->out.len - c->outhead);
}

long long srv_write(srv_conn *c, const char *data, size_t len) { return conn_write(c, data, len, 1); }
long long srv_queue(srv_conn *c, const char *data, size_t len) { return conn_write(c, data, len, 0); }
size_t srv_pending(const srv_conn *c) { return c->out.len - c->outhead; }

int srv_end(srv_conn *c) {
  if (c->state == C_DEAD) return -1;
  if (!c->responded || c->ended) return -1;
  c->ended = 1;
  if (c->chunked) buf_add(&c->out, "0\r\n\r\n", 5);
  return 0;
}

void srv_release(srv_conn *c) {
  c->held = 0;
  c->notify = NULL;
  if (c->state == C_DEAD) {
    conn_free(c);
    return;
  }
  if (!c->ended || !c->keepalive) {
    /* an unfinished response can only end by closing; a finished one without
     * keep-alive closes after the flush */
    if (!c->ended) {
      conn_kill(c);
      return;
    }
    c->close_after = 1;
  }
  c->state = C_READ;
  if (conn_flush(c)) return;
  if (c->close_after) return;
  conn_parse(c);
}

int srv_takeover(srv_conn *c, char **rest, size_t *restlen) {
  *rest = NULL;
  *restlen = 0;
  if (c->state != C_HELD || c->fd < 0 || c->responded || c->out.len > c->outhead) return -1;
  if (c->in.len) {
    *rest = malloc(c->in.len);
    if (!*rest) return -1;
    memcpy(*rest, c->in.p, c->in.len);
    *restlen = c->in.len;
    c->in.len = 0;
  }
  int fd = c->fd;
  loop_unwatch_fd(c->s->lp, fd);
  c->fd = -1;
  c->state = C_DEAD; /* no notice: the caller knows */
  return fd;
}
