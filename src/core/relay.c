/* relay.c: a proxied request from a server.c connection to an http.c
 * transfer and back, with no copy of the body outside the two buffers. */
#define _POSIX_C_SOURCE 200809L
#include "relay.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct relay {
  loop_t *lp;
  srv_conn *c;
  http_req *r;
  relay_fn done;
  void *ud;
  int responded, finished, complete, client_gone, paused, status;
  int upload;      /* the request body streams from c (srv_body_read) */
  unsigned pauses;
  unsigned long long bytes, sent;
  double t0;
  relay_fn on_head;
  void *head_ud;
  int logged; /* on_head was called */
  size_t peak;
};

/* response headers never forwarded (hop-by-hop, or set by server.c) */
static int skip_header(const char *name, size_t n) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                                      "proxy-authorization", "te", "trailer", "transfer-encoding",
                                      "upgrade", "date", "content-length", NULL};
  for (int i = 0; names[i]; i++)
    if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0) return 1;
  return 0;
}

/* Go's textproto.CanonicalMIMEHeaderKey, in place: "content-type" ->
 * "Content-Type"; a name with a byte Go does not accept stays as it is */
static void canonical(char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch == ' ' || ch < 0x21 || ch > 0x7e || ch == ':') return;
  }
  int up = 1;
  for (size_t i = 0; i < n; i++) {
    p[i] = (char)(up ? toupper((unsigned char)p[i]) : tolower((unsigned char)p[i]));
    up = p[i] == '-';
  }
}

/* the status line and headers of the upstream answer, to the client */
static void send_head(relay_t *x) {
  if (x->responded) return;
  x->responded = 1;
  size_t nh = http_header_count(x->r, 0);
  const char *stackv[65];
  const char **hv = nh < 64 ? stackv : malloc((nh + 1) * sizeof *hv);
  size_t total = 0;
  for (size_t i = 0; i < nh; i++) total += strlen(http_header_line(x->r, 0, i)) + 1;
  char stackb[4096];
  char *b = total <= sizeof stackb ? stackb : malloc(total);
  long long cl = -1;
  size_t k = 0, off = 0;
  if (hv && b) {
    for (size_t i = 0; i < nh; i++) {
      const char *line = http_header_line(x->r, 0, i);
      const char *colon = strchr(line, ':');
      if (!colon) continue;
      size_t nl = (size_t)(colon - line);
      if (nl == 14 && strncasecmp(line, "content-length", 14) == 0) {
        char *end;
        long long v = strtoll(colon + 1, &end, 10);
        if (end != colon + 1 && v >= 0) cl = v;
        continue;
      }
      if (skip_header(line, nl)) continue;
      size_t len = strlen(line);
      if (strpbrk(line, "\r\n")) continue;
      memcpy(b + off, line, len + 1);
      canonical(b + off, nl);
      hv[k++] = b + off;
      off += len + 1;
    }
    hv[k] = NULL;
  }
  int status = (int)http_status(x->r);
  if (status < 100 || status > 999) status = 502;
  x->status = status;
  srv_respond(x->c, status, hv && b ? hv : NULL, cl);
  if (x->on_head && !x->logged++) x->on_head(x->head_ud, x);
  if (hv != stackv) free(hv);
  if (b != stackb) free(b);
}

static void finish(relay_t *x) {
  if (x->finished) return;
  x->finished = 1;
  srv_set_notify(x->c, NULL, NULL);
  if (x->on_head && !x->logged++) x->on_head(x->head_ud, x); /* no status: the client went away first */
  x->done(x->ud, x);
}

/* inside libcurl's write callback: queue only, never send (a failed send
 * would run server.c's close notice, which cancels the transfer) */
static size_t relay_sink(void *ud, http_req *r, const char *data, size_t len) {
  relay_t *x = ud;
  (void)r;
  if (x->finished || srv_is_closed(x->c)) return 0;
  send_head(x);
  size_t pending = srv_pending(x->c);
  if (pending > x->peak) x->peak = pending;
  if (pending > srv_high_water()) {
    x->paused = 1;
    x->pauses++;
    return HTTP_SINK_PAUSE;
  }
  if (srv_queue(x->c, data, len) < 0) return 0;
  x->bytes += len;
  return len;
}

/* from the loop: headers complete, or the transfer ended */
static void relay_http(void *ud, http_req *r) {
  relay_t *x = ud;
  if (x->finished) return;
  if (!http_done(r)) {
    if (http_headers_done(r) && http_status(r) > 0) send_head(x);
    return;
  }
  const char *kind;
  const char *err = http_error(r, &kind);
  if (!err) {
    send_head(x); /* an empty body */
    srv_end(x->c);
    x->complete = 1;
  } else if (!x->responded) {
    x->responded = 1;
    x->status = 500;
    static const char *const h[] = {"Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff",
                                    NULL};
    size_t n = strlen(err);
    if (x->on_head && !x->logged++) x->on_head(x->head_ud, x);
    if (srv_respond(x->c, 500, h, (long long)n + 1) == 0) {
      srv_queue(x->c, err, n); /* never sends here: c stays ours until finish */
      srv_queue(x->c, "\n", 1);
      srv_end(x->c);
    }
  } /* else cut off mid-body: releasing the unfinished response closes it */
  finish(x);
}

/* inside libcurl's read callback: the client's body as it arrives */
static size_t relay_source(void *ud, http_req *r, char *buf, size_t len) {
  relay_t *x = ud;
  (void)r;
  long n = srv_body_read(x->c, buf, len);
  if (n == SRV_BODY_WAIT) return HTTP_SOURCE_PAUSE;
  if (n < 0) return HTTP_SOURCE_ABORT;
  x->sent += (unsigned long long)n;
  return (size_t)n;
}

static void relay_srv(void *ud, srv_conn *c, int ev) {
  relay_t *x = ud;
  (void)c;
  if (x->finished) return;
  if (ev == SRV_EV_BODY) {
    if (x->upload) http_resume_send(x->r);
    return;
  }
  if (ev == SRV_EV_DRAIN) {
    if (x->paused && srv_pending(x->c) <= srv_high_water()) {
      x->paused = 0;
      http_resume(x->r);
    }
    return;
  }
  /* the client went away: stop the upstream at once (a watch ends there) */
  x->client_gone = 1;
  http_cancel(x->r);
  finish(x);
}

/* A GET of a collection (/api/v1/pods, /apis/G/V/namespaces/NS/R): the
 * answers that are large.  The path of url, before any query. */
static int is_list(const char *method, const char *url) {
  if (strcmp(method ? method : "GET", "GET") != 0) return 0;
  const char *p = strstr(url, "://");
  p = p ? strchr(p + 3, '/') : NULL;
  if (!p) return 0;
  size_t n = strcspn(p, "?");
  const char *segs[8];
  size_t lens[8], k = 0;
  for (const char *s = p; s < p + n && k < 8;) {
    while (s < p + n && *s == '/') s++;
    if (s >= p + n) break;
    size_t l = strcspn(s, "/?");
    segs[k] = s;
    lens[k++] = l;
    s += l;
  }
  size_t gv; /* segments before the resource: api/v1 or apis/G/V */
  if (k >= 2 && lens[0] == 3 && memcmp(segs[0], "api", 3) == 0) gv = 2;
  else if (k >= 3 && lens[0] == 4 && memcmp(segs[0], "apis", 4) == 0) gv = 3;
  else return 0;
  size_t r = k - gv;
  return r == 1 || (r == 3 && lens[gv] == 10 && memcmp(segs[gv], "namespaces", 10) == 0);
}

relay_t *relay_start(loop_t *lp, srv_conn *c, const http_opts *o, relay_fn done, void *ud, const char **err) {
  relay_t *x = calloc(1, sizeof *x);
  if (!x) {
    *err = "out of memory";
    return NULL;
  }
  x->lp = lp;
  x->c = c;
  x->done = done;
  x->ud = ud;
  x->t0 = loop_now();
  http_opts ho = *o;
  if (!o->body && srv_body_streaming(c)) {
    x->upload = 1;
    ho.source = relay_source;
    ho.source_ud = x;
    ho.source_len = srv_body_length(c);
    /* HTTP/1.1: an API server answering before the whole body came (413
     * over its 3 MiB limit) resets an HTTP/2 stream, and libcurl 7.88 then
     * loses part of the answer; over HTTP/1.1 it reads it whole */
    if (!ho.h2c) ho.http1 = 1;
  }
  /* run by socket readiness: with the loop's polled multi handle libcurl
   * 7.88 runs every stream of the connection on each wakeup, each polling
   * the socket itself (8 to 23 polls per proxied request with 50 clients).
   * A watch (h2c: a connection of its own, closed when cancelled) stays on
   * the polled one. */
  ho.by_socket = 1;
  /* a list over libcurl's HTTP/1.1 (a connection per answer): over HTTP/2
   * libcurl 7.88 runs every stream of the connection at each read of the
   * socket (32 KiB), so a large answer wakes all the others dozens of times
   * (1.6 to 1.9 ms of CPU per list of 60 pods with 50 clients, against 1.3
   * to 1.4 over HTTP/1.1).  Not on h2up either: there the API server's
   * frames of 50 answers come interleaved, a few KiB of each per turn of
   * the loop, and each goes to its client in a send of its own (46 sends
   * and 27 reads per 331 KB list: 2.2 to 2.9 ms of CPU per list, against
   * 1.7 to 1.9 for kubectl proxy), and the API server spent more on them
   * (5.2 to 6.8 ms per list, 4.8 to 6.0 for kubectl proxy's).
   * The rest over HTTP/2 on nghttp2 directly where it applies (h2up.c):
   * one read of the connection feeds every stream, one write sends them
   * all; libcurl's HTTP/2 otherwise, whose tail is shorter than its
   * HTTP/1.1 (p99 34 ms against 106 to 135 on /version). */
  if (is_list(o->method, o->url)) ho.http1 = 1;
  else ho.h2_direct = 1;
  ho.framing = HTTP_FRAME_NONE;
  ho.sink = relay_sink;
  ho.sink_ud = x;
  x->r = http_start(lp, &ho, relay_http, x, err);
  if (!x->r) {
    free(x);
    return NULL;
  }
  srv_set_notify(c, relay_srv, x);
  return x;
}

void relay_free(relay_t *x) {
  if (!x) return;
  if (!x->finished && x->c) srv_set_notify(x->c, NULL, NULL);
  http_free(x->r);
  free(x);
}

void relay_on_head(relay_t *x, relay_fn fn, void *ud) {
  x->on_head = fn;
  x->head_ud = ud;
}

double relay_elapsed(const relay_t *x) { return loop_now() - x->t0; }
const char *relay_method(const relay_t *x) { return http_method(x->r); }
const char *relay_url(const relay_t *x) { return http_url(x->r); }
unsigned long long relay_sent(const relay_t *x) { return x->sent; }
int relay_status(const relay_t *x) { return x->status; }
unsigned long long relay_bytes(const relay_t *x) { return x->bytes; }
int relay_complete(const relay_t *x) { return x->complete; }
int relay_client_gone(const relay_t *x) { return x->client_gone; }
size_t relay_peak(const relay_t *x) { return x->peak; }
unsigned relay_pauses(const relay_t *x) { return x->pauses; }

const char *relay_error(const relay_t *x, const char **kind) {
  if (x->client_gone) {
    *kind = "closed";
    return "the client closed the connection";
  }
  return http_error(x->r, kind);
}
