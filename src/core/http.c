/* http.c: transfers on the loop, response headers and trailers, framing of
 * streamed bodies into records, backpressure, and the error words. */
#define _POSIX_C_SOURCE 200809L
#include "http.h"
#include "h2up.h"

#include "buf.h"
#include "startup.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_req {
  loop_t *lp;
  CURL *easy;
  int attached;
  h2stream *h2; /* on h2up.c instead of libcurl (the easy handle waits, for a fallback) */
  int by_socket; /* on the loop's socket-driven multi handle (http_opts.by_socket) */
  char errbuf[CURL_ERROR_SIZE];
  struct curl_slist *hdrs, *connect_to;
  char *method, *url;
  int framing;
  http_sink sink;
  void *sink_ud;
  http_framer framer;
  void *fud;
  buf_t in;   /* bytes not yet framed */
  buf_t body; /* the whole body (no framing) */
  buf_t q;    /* queued records: [u32 len][bytes]... from qhead */
  size_t qhead, nrec, max_queue, peak_queue;
  buf_t cur; /* the record handed out last */
  int paused, send_paused;
  http_source source;
  void *source_ud;
  char **hl[2];
  size_t nh[2], caph[2];
  int headers_done, eof;
  long status;
  int done;
  CURLcode rc;
  const char *err_kind;
  char *err_msg;
  http_notify notify;
  void *ud;
  int notify_pending, freed;
  double t0, t1;
  char httpver[16];
  double idle, last_rx; /* idle_timeout, and when a byte last came */
  uint64_t idle_timer;
  curl_off_t body_len; /* an in-memory body's size (0: none) */
  int resent;          /* times sent again after a lost answer (on_done) */
};


static void set_error(http_req *r, const char *kind, const char *msg) {
  if (r->err_kind) return; /* the first error wins */
  r->err_kind = kind;
  size_t n = strlen(r->method) + strlen(r->url) + strlen(msg) + 8;
  r->err_msg = malloc(n);
  if (r->err_msg) snprintf(r->err_msg, n, "%s %s: %s", r->method, r->url, msg);
}

void http_fail(http_req *r, const char *kind, const char *msg) { set_error(r, kind, msg); }

static int http_inited;

/* Easy handles of finished transfers, reset and kept for the next ones:
 * creating one per request (its structures and download buffer) was a
 * visible part of a short request's cost. */
#define POOL_MAX 32
static CURL *pool[POOL_MAX];
static int npool;

int http_global_init(void) {
  if (http_inited) return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
  http_inited = 1;
  return 0;
}

KSH_STARTUP void http_global_cleanup(void) {
  if (!http_inited) return;
  while (npool > 0) curl_easy_cleanup(pool[--npool]);
  curl_global_cleanup();
  http_inited = 0;
}

const char *http_library_version(void) { return curl_version(); }

/* --- notification, always from the loop (deferred) --- */

static void notify_cb(void *ud) {
  http_req *r = ud;
  r->notify_pending = 0;
  if (r->freed) {
    r->freed = 0;
    http_free(r);
    return;
  }
  if (r->notify) r->notify(r->ud, r);
}

static void notify_soon(http_req *r) {
  if (r->notify_pending || !r->lp) return;
  r->notify_pending = 1;
  loop_defer(r->lp, notify_cb, r);
}

/* --- records --- */

int http_emit(http_req *r, const char *data, size_t len) {
  uint32_t n = (uint32_t)len;
  if (len > UINT32_MAX) return -1;
  if (buf_add(&r->q, (const char *)&n, sizeof n) || buf_add(&r->q, data, len)) return -1;
  r->nrec++;
  if (r->q.len - r->qhead > r->peak_queue) r->peak_queue = r->q.len - r->qhead;
  return 0;
}

size_t http_queued(const http_req *r) { return r->nrec; }
size_t http_queue_peak(const http_req *r) { return r->peak_queue; }

int http_next_record(http_req *r, const char **data, size_t *len) {
  if (r->nrec == 0) return 0;
  uint32_t n;
  memcpy(&n, r->q.p + r->qhead, sizeof n);
  r->cur.len = 0;
  if (buf_add(&r->cur, r->q.p + r->qhead + sizeof n, n)) return 0;
  r->qhead += sizeof n + n;
  r->nrec--;
  if (r->nrec == 0) {
    r->q.len = 0;
    r->qhead = 0;
  } else if (r->qhead > r->q.len / 2) {
    memmove(r->q.p, r->q.p + r->qhead, r->q.len - r->qhead);
    r->q.len -= r->qhead;
    r->qhead = 0;
  }
  *data = r->cur.p;
  *len = r->cur.len;
  if (r->paused && r->q.len - r->qhead < r->max_queue / 2 && r->easy) {
    r->paused = 0;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
  }
  return 1;
}

/* --- framers --- */

long http_frame_lines(void *ud, http_req *r, const char *data, size_t len) {
  (void)ud;
  size_t start = 0;
  for (;;) {
    const char *nl = len > start ? memchr(data + start, '\n', len - start) : NULL;
    if (!nl) break;
    size_t end = (size_t)(nl - data);
    size_t e = end;
    if (e > start && data[e - 1] == '\r') e--;
    if (http_emit(r, data + start, e - start)) return -1;
    start = end + 1;
  }
  if (r->eof && start < len) {
    /* a final record without a newline at a clean end of the body */
    size_t e = len;
    if (data[e - 1] == '\r') e--;
    if (http_emit(r, data + start, e - start)) return -1;
    start = len;
  }
  return (long)start;
}

long http_frame_grpc(void *ud, http_req *r, const char *data, size_t len) {
  (void)ud;
  size_t p = 0;
  while (len - p >= 5) {
    const unsigned char *h = (const unsigned char *)data + p;
    uint32_t n = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
    if (h[0] > 1) {
      http_fail(r, "protocol", "malformed gRPC frame");
      return -1;
    }
    if (h[0] == 1) {
      http_fail(r, "protocol", "compressed gRPC message (not supported)");
      return -1;
    }
    if (len - p - 5 < n) break;
    if (http_emit(r, data + p + 5, n)) return -1;
    p += 5 + n;
  }
  if (r->eof && p < len) {
    http_fail(r, "truncated", "stream ended inside a gRPC message");
    return -1;
  }
  return (long)p;
}

static long frame_raw(void *ud, http_req *r, const char *data, size_t len) {
  (void)ud;
  if (len && http_emit(r, data, len)) return -1;
  return (long)len;
}

static int feed(http_req *r, const char *data, size_t n) {
  long c;
  if (r->in.len == 0 && !r->eof) {
    c = r->framer(r->fud, r, data, n);
    if (c < 0) return -1;
    if ((size_t)c < n && buf_add(&r->in, data + c, n - (size_t)c)) return -1;
  } else {
    if (n && buf_add(&r->in, data, n)) return -1;
    c = r->framer(r->fud, r, r->in.p ? r->in.p : "", r->in.len);
    if (c < 0) return -1;
    if (c > 0) memmove(r->in.p, r->in.p + c, r->in.len - (size_t)c); /* in.p may be NULL when c == 0 */
    r->in.len -= (size_t)c;
  }
  return 0;
}

/* --- curl callbacks: fill buffers, record errors, nothing else --- */

static size_t on_write(char *data, size_t sz, size_t nm, void *ud) {
  http_req *r = ud;
  size_t n = sz * nm;
  if (r->idle > 0) r->last_rx = loop_now();
  if (r->sink) {
    size_t k = r->sink(r->sink_ud, r, data, n);
    if (k == HTTP_SINK_PAUSE) {
      r->paused = 1;
      return CURL_WRITEFUNC_PAUSE;
    }
    return k == n ? n : 0;
  }
  if (r->framing == HTTP_FRAME_NONE || r->status >= 300) {
    /* error bodies are always collected whole */
    return buf_add(&r->body, data, n) ? 0 : n;
  }
  if (r->err_kind) return 0;
  if (r->q.len - r->qhead >= r->max_queue) {
    r->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  size_t before = r->nrec;
  if (feed(r, data, n)) {
    if (!r->err_kind) set_error(r, "error", "out of memory framing the response");
    return 0;
  }
  if (r->nrec != before) notify_soon(r);
  return n;
}

static size_t on_header(char *line, size_t sz, size_t nm, void *ud) {
  http_req *r = ud;
  size_t n = sz * nm;
  if (r->idle > 0) r->last_rx = loop_now();
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  if (n >= 5 && memcmp(line, "HTTP/", 5) == 0 && !r->headers_done) {
    for (size_t i = 0; i < r->nh[0]; i++) free(r->hl[0][i]);
    r->nh[0] = 0;
    const char *sp = memchr(line, ' ', n);
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    size_t vl = sp ? (size_t)(sp - line) : n;
    if (vl >= sizeof r->httpver) vl = sizeof r->httpver - 1;
    memcpy(r->httpver, line, vl);
    r->httpver[vl] = 0;
    return sz * nm;
  }
  if (n == 0) {
    if (!r->headers_done && r->status >= 200) {
      r->headers_done = 1;
      notify_soon(r);
    }
    return sz * nm;
  }
  int t = r->headers_done ? 1 : 0;
  if (r->nh[t] + 1 > r->caph[t]) {
    size_t c = r->caph[t] ? r->caph[t] * 2 : 16;
    char **p = realloc(r->hl[t], c * sizeof *p);
    if (!p) return 0;
    r->hl[t] = p;
    r->caph[t] = c;
  }
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, line, n);
  s[n] = 0;
  for (char *p = s; *p && *p != ':'; p++) *p = (char)tolower((unsigned char)*p);
  r->hl[t][r->nh[t]++] = s;
  return sz * nm;
}

/* The error kind of a libcurl result, its message (errbuf) disambiguating;
 * shared with tunnel.c so an upgrade fails with the same kinds. */
const char *http_error_kind(int code, const char *msg) {
  CURLcode rc = (CURLcode)code;
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
  case CURLE_COULDNT_CONNECT: return strstr(msg, "refused") ? "refused" : "connect";
  case CURLE_OPERATION_TIMEDOUT: return "timeout";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED: return "tls";
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    if (strstr(msg, "SSL") && (strstr(msg, "alert") || strstr(msg, "certificate"))) return "tls";
    return "closed";
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return "closed";
  case CURLE_ABORTED_BY_CALLBACK: return "interrupted";
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT: return "url";
  default: return "error";
  }
}

/* Whether the response's headers or trailers carry a grpc-status line. */
static int has_grpc_status(const http_req *r) {
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; i < r->nh[t]; i++) {
      const char *l = r->hl[t][i];
      if (l && strncasecmp(l, "grpc-status:", 12) == 0) return 1;
    }
  return 0;
}

static void idle_stop(http_req *r) {
  if (r->idle_timer) loop_timer_cancel(r->lp, r->idle_timer);
  r->idle_timer = 0;
}

/* The idle timeout, timed here: curl's low-speed check averages over a
 * window of several seconds, so a server that sent a little and then
 * stalled was given up on seconds past the limit.  A paused transfer waits
 * for its reader, not for the server, and does not count as idle. */
static void idle_check(void *ud) {
  http_req *r = ud;
  r->idle_timer = 0;
  if (r->done) return;
  double now = loop_now();
  if (r->paused) r->last_rx = now;
  if (now - r->last_rx < r->idle) {
    r->idle_timer = loop_timer(r->lp, r->last_rx + r->idle - now, idle_check, r);
    return;
  }
  if (r->attached) loop_remove_transfer(r->lp, r->easy);
  r->attached = 0;
  h2_cancel(r->h2);
  r->h2 = NULL;
  r->done = 1;
  r->rc = CURLE_OPERATION_TIMEDOUT;
  r->t1 = now;
  char msg[96];
  snprintf(msg, sizeof msg, "no data from the server for %g s: timed out", r->idle);
  set_error(r, "timeout", msg);
  if (!r->headers_done) r->headers_done = 1;
  notify_soon(r);
}

static void on_done(void *ud, void *easy, int rcode) {
  http_req *r = ud;
  CURLcode rc = (CURLcode)rcode;
  (void)easy;
  idle_stop(r);
  /* A gRPC server may reset the stream (RST_STREAM) right after a complete
   * answer: etcd 3.4 does for a method it does not know, after its
   * trailers-only response with grpc-status.  libcurl 7.88 then reports
   * CURLE_HTTP2_STREAM for a response it has received whole; the answer
   * stands (the status is in it), the reset is not a failure. */
  if (rc == CURLE_HTTP2_STREAM && r->headers_done && has_grpc_status(r)) rc = CURLE_OK;
  /* libcurl 7.88 drops a response it has already read when the stream's
   * RST_STREAM(NO_ERROR) is read before the transfer runs: Go's HTTP/2
   * server (the API server) answers some requests before reading all of
   * their body (an APF 429, an authorization 403) and then resets the
   * stream.  The transfer fails with CURLE_HTTP2_STREAM at its next body
   * send, having seen nothing of the answer.  The server never got the
   * whole body, so it cannot have acted on it: send the request again (at
   * most twice) rather than report a failure for an answer that came.  A
   * streamed body cannot be sent again, and a body sent whole is never
   * resent (the server may have acted on it). */
  if (rc == CURLE_HTTP2_STREAM && !r->headers_done && r->status == 0 && r->nh[0] == 0 && r->body_len > 0 &&
      !r->source && r->resent < 2 && r->body.len == 0 && r->in.len == 0 && !r->err_kind) {
    curl_off_t up = 0;
    curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    if (up < r->body_len && (r->by_socket ? loop_add_transfer_fd : loop_add_transfer)(r->lp, r->easy, on_done, r) == 0) {
      r->resent++;
      r->errbuf[0] = 0;
      if (r->idle > 0) {
        r->last_rx = loop_now();
        r->idle_timer = loop_timer(r->lp, r->idle, idle_check, r);
      }
      return;
    }
  }
  r->attached = 0;
  r->done = 1;
  r->rc = rc;
  r->t1 = loop_now();
  if (rc == CURLE_OK) {
    if (r->status >= 200 && r->status < 300 && r->framing != HTTP_FRAME_NONE && !r->sink) {
      r->eof = 1;
      feed(r, NULL, 0);
    }
  } else if (!r->err_kind) {
    char msg[CURL_ERROR_SIZE + 64];
    snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    long oserr = 0;
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
    const char *kind = http_error_kind(rc, msg);
    if (strcmp(kind, "closed") == 0 && rc != CURLE_HTTP2_STREAM && !r->headers_done &&
        strncmp(r->url, "https:", 6) == 0) {
      /* With TLS 1.3 a server that rejects the client certificate closes the
       * connection after the handshake: it surfaces as a reset before any
       * response, and it is a TLS failure, not a dropped stream.  A stream
       * the server reset (CURLE_HTTP2_STREAM, RST_STREAM) came from its
       * HTTP/2 layer over a working TLS connection: that one stays closed. */
      kind = "tls";
      strncat(msg, " (the server closed the TLS connection before answering: client certificate rejected?)",
              sizeof msg - strlen(msg) - 1);
    }
    if (rc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED) {
      kind = "refused";
      if (!strstr(msg, "refused")) strncat(msg, ": Connection refused", sizeof msg - strlen(msg) - 1);
    }
    set_error(r, kind, msg);
  }
  if (!r->headers_done) r->headers_done = 1;
  notify_soon(r);
}

/* --- h2up.c streams: the same callbacks as libcurl's --- */

static void h2_header(void *ud, const char *line, size_t n) { on_header((char *)line, 1, n, ud); }

static int h2_data(void *ud, const char *p, size_t n) {
  http_req *r = ud;
  size_t k = on_write((char *)p, 1, n, r);
  if (k == CURL_WRITEFUNC_PAUSE) return 1;
  if (k != n) { /* the sink refused it: the transfer ends */
    h2_cancel(r->h2);
    r->h2 = NULL;
    idle_stop(r);
    r->done = 1;
    r->t1 = loop_now();
    set_error(r, "error", "the response could not be taken");
    if (!r->headers_done) r->headers_done = 1;
    notify_soon(r);
  }
  return 0;
}

static void h2_close(void *ud, const char *err, int fallback) {
  http_req *r = ud;
  r->h2 = NULL;
  if (fallback && !r->headers_done && !r->done) { /* never sent: libcurl sends it (and says why if it fails) */
    if ((r->by_socket ? loop_add_transfer_fd : loop_add_transfer)(r->lp, r->easy, on_done, r) == 0) {
      r->attached = 1;
      return;
    }
  }
  idle_stop(r);
  r->done = 1;
  r->t1 = loop_now();
  r->rc = err ? CURLE_RECV_ERROR : CURLE_OK;
  if (err) set_error(r, "closed", err);
  if (!r->headers_done) r->headers_done = 1;
  notify_soon(r);
}

static const h2_cbs h2cb = {h2_header, h2_data, h2_close};

/* Rewrite the URL's host to server_name and connect to the original host. */
static int apply_server_name(http_req *r, const char *server_name) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *nu = NULL;
  int ok = -1;
  if (!u || curl_url_set(u, CURLUPART_URL, r->url, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) goto out;
  if (curl_url_set(u, CURLUPART_HOST, server_name, 0) != CURLUE_OK) goto out;
  if (curl_url_get(u, CURLUPART_URL, &nu, 0) != CURLUE_OK) goto out;
  char ct[512];
  snprintf(ct, sizeof ct, "%s:%s:%s:%s", server_name, port, host, port);
  r->connect_to = curl_slist_append(NULL, ct);
  curl_easy_setopt(r->easy, CURLOPT_CONNECT_TO, r->connect_to);
  curl_easy_setopt(r->easy, CURLOPT_URL, nu);
  ok = 0;
out:
  curl_free(host);
  curl_free(port);
  curl_free(nu);
  curl_url_cleanup(u);
  return ok;
}

static void blob(CURL *e, CURLoption opt, const char *p, size_t n) {
  struct curl_blob b = {(void *)p, n, CURL_BLOB_COPY};
  curl_easy_setopt(e, opt, &b);
}

/* TCP keep-alive of a transfer's connection from o->keepalive: off when
 * negative, probes after that many idle seconds (and as often) when
 * positive, libcurl's 60 s when 0.  tunnel.c connects its upgrades with it. */
void http_set_keepalive(void *easy, const http_opts *o) {
  CURL *e = easy;
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, o->keepalive < 0 ? 0L : 1L);
  if (o->keepalive > 0) {
    long s = o->keepalive < 1 ? 1L : o->keepalive > 86400 ? 86400L : (long)o->keepalive;
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, s);
  }
}

/* A client certificate goes out with the chain its PEM holds and nothing
 * more, as Go's client sends it.  OpenSSL would otherwise complete the chain
 * from the verify store (the server's CA), and the API server verifies the
 * longer chain on every request (0.39 ms of its CPU per proxied /version
 * against 0.26 without). */
static CURLcode own_chain(CURL *e, void *ctx, void *ud) {
  (void)e;
  (void)ud;
  SSL_CTX_set_mode((SSL_CTX *)ctx, SSL_MODE_NO_AUTO_CHAIN);
  return CURLE_OK;
}

/* The TLS of a transfer from o: the CA, the client certificate and key
 * (files or in-memory PEM, copied by curl), verification off only when
 * o->insecure.  tunnel.c connects its upgrades with it too. */
void http_set_tls(void *easy, const http_opts *o) {
  CURL *e = easy;
  if (o->cacert_pem) blob(e, CURLOPT_CAINFO_BLOB, o->cacert_pem, o->cacert_pem_len);
  else if (o->cacert_file) curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert_file);
#if LIBCURL_VERSION_NUM >= 0x075700
  /* a CA file rotated on disk applies to the next new connection: libcurl
   * 7.87+ would otherwise keep the parsed store for 24 hours */
  curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
  if (o->cert_pem) {
    blob(e, CURLOPT_SSLCERT_BLOB, o->cert_pem, o->cert_pem_len);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (o->cert_file) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert_file);
  }
  if (o->cert_pem || o->cert_file) curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, own_chain);
  if (o->key_pem) {
    blob(e, CURLOPT_SSLKEY_BLOB, o->key_pem, o->key_pem_len);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (o->key_file) {
    curl_easy_setopt(e, CURLOPT_SSLKEY, o->key_file);
  }
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

/* libcurl's read callback: the request body from the source */
static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  http_req *r = ud;
  size_t k = r->source(r->source_ud, r, buf, size * nitems);
  if (k == HTTP_SOURCE_PAUSE) {
    r->send_paused = 1;
    return CURL_READFUNC_PAUSE;
  }
  if (k == HTTP_SOURCE_ABORT) return CURL_READFUNC_ABORT;
  return k;
}

http_req *http_start(loop_t *lp, const http_opts *o, http_notify notify, void *ud, const char **err) {
  http_req *r = calloc(1, sizeof *r);
  if (!r) {
    *err = "out of memory";
    return NULL;
  }
  r->lp = lp;
  r->notify = notify;
  r->ud = ud;
  r->method = strdup(o->method ? o->method : "GET");
  r->url = strdup(o->url ? o->url : "");
  r->framing = o->framing;
  r->sink = o->sink;
  r->sink_ud = o->sink_ud;
  r->max_queue = o->max_queue ? o->max_queue : 4u << 20;
  switch (o->framing) {
  case HTTP_FRAME_LINES: r->framer = http_frame_lines; break;
  case HTTP_FRAME_GRPC: r->framer = http_frame_grpc; break;
  case HTTP_FRAME_RAW: r->framer = frame_raw; break;
  case HTTP_FRAME_CUSTOM:
    r->framer = o->framer;
    r->fud = o->framer_ud;
    break;
  default: break;
  }
  if (o->framing == HTTP_FRAME_CUSTOM && !o->framer) {
    *err = "custom framing without a framer";
    http_free(r);
    return NULL;
  }
  CURL *e = r->easy = http_global_init() != 0 ? NULL : npool > 0 ? pool[--npool] : curl_easy_init();
  if (!e || !r->method || !r->url) {
    *err = "cannot create a transfer";
    http_free(r);
    return NULL;
  }
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  http_set_keepalive(e, o);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (strcmp(r->method, "GET") != 0) {
    if (strcmp(r->method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
  if (o->source) { /* a streamed body: POST as POST, other methods as an upload */
    r->source = o->source;
    r->source_ud = o->source_ud;
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    if (strcmp(r->method, "POST") == 0) {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->source_len >= 0 ? o->source_len : -1));
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
      curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(o->source_len >= 0 ? o->source_len : -1));
    }
  } else if (o->body) {
    r->body_len = (curl_off_t)o->body_len;
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body);
    if (strcmp(r->method, "POST") == 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
  }
  for (const char *const *h = o->headers; h && *h; h++) r->hdrs = curl_slist_append(r->hdrs, *h);
  /* libcurl adds "Expect: 100-continue" to large POSTs: a wasted round trip */
  r->hdrs = curl_slist_append(r->hdrs, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  if (o->h2c) {
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    /* libcurl 7.88.1 (Debian 12) cannot reuse a prior-knowledge HTTP/2
     * connection from the multi cache: the next transfer fails at once with
     * "Error in the HTTP2 framing layer".  One connection per transfer. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    /* and no waiting for a connection to multiplex on: there will be none */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 0L);
  }
  else if (o->http1) curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  else curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  if (o->compressed) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  http_set_tls(e, o);
  if (o->user) {
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, o->user);
    curl_easy_setopt(e, CURLOPT_PASSWORD, o->password ? o->password : "");
  }
  if (o->proxy) curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
  if (o->connect_timeout > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout * 1000));
  if (o->timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000));
  if (o->server_name && *o->server_name && apply_server_name(r, o->server_name)) {
    *err = "malformed URL";
    http_free(r);
    return NULL;
  }
  r->t0 = loop_now();
  r->by_socket = o->by_socket && !o->h2c;
  h2conn *hc = o->h2_direct && !o->h2c && !o->source ? h2_conn(lp, r->url, o) : NULL;
  if (hc) r->h2 = h2_submit(hc, r->method, r->url, o->headers, o->body, o->body ? o->body_len : 0, &h2cb, r);
  if (!r->h2 && (r->by_socket ? loop_add_transfer_fd : loop_add_transfer)(lp, e, on_done, r)) {
    *err = "cannot add the transfer to the loop";
    http_free(r);
    return NULL;
  }
  r->attached = !r->h2;
  if (o->idle_timeout > 0) {
    r->idle = o->idle_timeout;
    r->last_rx = r->t0;
    r->idle_timer = loop_timer(lp, r->idle, idle_check, r);
  }
  return r;
}

void http_cancel(http_req *r) {
  if (!r || r->done) return;
  idle_stop(r);
  h2_cancel(r->h2);
  r->h2 = NULL;
  if (r->attached) loop_remove_transfer(r->lp, r->easy);
  r->attached = 0;
  r->done = 1;
  r->t1 = loop_now();
  set_error(r, "interrupted", "interrupted");
}

void http_resume(http_req *r) {
  if (r && r->h2 && r->paused && !r->done) {
    r->paused = 0;
    h2_resume(r->h2);
    return;
  }
  if (!r || !r->paused || r->done || !r->easy) return;
  r->paused = 0;
  curl_easy_pause(r->easy, r->send_paused ? CURLPAUSE_SEND : CURLPAUSE_CONT);
}

void http_resume_send(http_req *r) {
  if (!r || !r->send_paused || r->done || !r->easy) return;
  r->send_paused = 0;
  curl_easy_pause(r->easy, r->paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
}

void http_free(http_req *r) {
  if (!r) return;
  idle_stop(r);
  h2_cancel(r->h2);
  r->h2 = NULL;
  if (r->attached) loop_remove_transfer(r->lp, r->easy);
  r->attached = 0;
  if (r->notify_pending) {
    /* a deferred notification still points at us: free when it runs */
    r->freed = 1;
    r->notify = NULL;
    return;
  }
  if (r->easy) {
    if (npool < POOL_MAX && http_inited) {
      curl_easy_reset(r->easy); /* every option back to its default */
      pool[npool++] = r->easy;
    } else {
      curl_easy_cleanup(r->easy);
    }
  }
  curl_slist_free_all(r->hdrs);
  curl_slist_free_all(r->connect_to);
  for (int t = 0; t < 2; t++) {
    for (size_t i = 0; i < r->nh[t]; i++) free(r->hl[t][i]);
    free(r->hl[t]);
  }
  buf_free(&r->in);
  buf_free(&r->body);
  buf_free(&r->q);
  buf_free(&r->cur);
  free(r->err_msg);
  free(r->method);
  free(r->url);
  free(r);
}

int http_done(const http_req *r) { return r->done; }
int http_eof(const http_req *r) { return r->eof; }
int http_headers_done(const http_req *r) { return r->headers_done; }
long http_status(const http_req *r) { return r->status; }
const char *http_method(const http_req *r) { return r->method; }
const char *http_url(const http_req *r) { return r->url; }
const char *http_version_str(const http_req *r) { return r->httpver; }
double http_elapsed(const http_req *r) { return (r->t1 ? r->t1 : loop_now()) - r->t0; }

const char *http_error(const http_req *r, const char **kind) {
  if (!r->err_kind) return NULL;
  *kind = r->err_kind;
  return r->err_msg ? r->err_msg : r->err_kind;
}

size_t http_header_count(const http_req *r, int trailers) { return r->nh[trailers ? 1 : 0]; }

const char *http_header_line(const http_req *r, int trailers, size_t i) {
  int t = trailers ? 1 : 0;
  return i < r->nh[t] ? r->hl[t][i] : NULL;
}

const char *http_body(const http_req *r, size_t *len) {
  *len = r->body.len;
  return r->body.p ? r->body.p : "";
}

http_req *http_test_req(void) {
  http_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->method = strdup("TEST");
  r->url = strdup("test:");
  r->max_queue = 4u << 20;
  return r;
}

void http_test_eof(http_req *r, int eof) { r->eof = eof; }

/* For parser tests: one response header line as libcurl hands it over. */
size_t http_test_header(http_req *r, const char *line, size_t n) { return on_header((char *)line, 1, n, r); }
