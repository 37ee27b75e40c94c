/* h2up.c: HTTP/2 over TLS to an upstream on nghttp2 and OpenSSL, driven by
 * the loop.  See h2up.h. */
#define _GNU_SOURCE
#include "h2up.h"

#include "buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define STREAM_WINDOW (1 << 20)     /* bytes a stream may have unread by its client */
#define CONN_WINDOW (64 << 20)      /* and all of them together */
#define READ_CHUNK (64 * 1024)

enum { C_TCP, C_TLS, C_READY, C_DEAD };

struct h2stream {
  h2conn *c;
  int32_t id; /* 0: not submitted yet */
  const h2_cbs *cb; /* NULL: cancelled */
  void *ud;
  char *method, *path;
  char **hdr;
  size_t nhdr;
  char *body;
  size_t body_len, body_off;
  buf_t hold; /* body bytes the reader paused on */
  size_t hold_off;
  int paused, closed;
  uint32_t close_code;
  h2stream *next, *prev;
};

struct h2conn {
  loop_t *lp;
  char *key, *authority;
  int fd, state, goaway, flush_pending;
  short events;
  SSL_CTX *ctx;
  SSL *ssl;
  nghttp2_session *ss;
  buf_t out;
  size_t outhead;
  uint64_t timer;
  double connect_timeout;
  h2stream *streams;
  h2conn *next;
};

static h2conn *conns;

static void io_cb(void *ud, int fd, short revents);

/* --- helpers --- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) { return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\1", 1); }

static void unlink_stream(h2stream *s) {
  if (!s->c) return;
  if (s->prev) s->prev->next = s->next;
  else s->c->streams = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->c = NULL;
}

static void free_stream(h2stream *s) {
  unlink_stream(s);
  free(s->method);
  free(s->path);
  for (size_t i = 0; i < s->nhdr; i++) free(s->hdr[i]);
  free(s->hdr);
  free(s->body);
  buf_free(&s->hold);
  free(s);
}

static void conn_watch(h2conn *c) {
  if (c->fd < 0 || c->state == C_DEAD) return;
  short ev = c->events;
  if (c->state == C_READY) ev = (short)(POLLIN | (c->out.len > c->outhead ? POLLOUT : 0));
  /* an idle connection does not keep the process running (a script that
   * used the proxy ends when its work does) */
  (c->streams ? loop_watch_fd : loop_watch_fd_weak)(c->lp, c->fd, ev, io_cb, c);
}

static void conn_free(void *ud) {
  h2conn *c = ud;
  if (c->ss) nghttp2_session_del(c->ss);
  if (c->ssl) SSL_free(c->ssl);
  if (c->ctx) SSL_CTX_free(c->ctx);
  buf_free(&c->out);
  free(c->key);
  free(c->authority);
  free(c);
}

/* The connection is over: every stream ends (fallback: those never sent may
 * go another way), and the connection is freed once the loop is past it. */
static void conn_fail(h2conn *c, const char *msg, int fallback) {
  if (c->state == C_DEAD) return;
  c->state = C_DEAD;
  for (h2conn **p = &conns; *p; p = &(*p)->next)
    if (*p == c) {
      *p = c->next;
      break;
    }
  if (c->timer) loop_timer_cancel(c->lp, c->timer);
  c->timer = 0;
  if (c->fd >= 0) {
    loop_unwatch_fd(c->lp, c->fd);
    close(c->fd);
    c->fd = -1;
  }
  while (c->streams) {
    h2stream *s = c->streams;
    unlink_stream(s);
    const h2_cbs *cb = s->cb;
    void *ud = s->ud;
    int fb = fallback && s->id == 0;
    free_stream(s);
    if (cb) cb->close(ud, msg, fb);
  }
  loop_defer(c->lp, conn_free, c);
}

/* the stream is over and its reader has had every byte */
static void finish_stream(h2stream *s) {
  const h2_cbs *cb = s->cb;
  void *ud = s->ud;
  char msg[160];
  const char *err = NULL;
  int fb = 0;
  if (s->close_code) {
    snprintf(msg, sizeof msg, "the server reset the stream: %s (HTTP/2 error %u)",
             nghttp2_http2_strerror(s->close_code), s->close_code);
    err = msg;
    fb = s->close_code == NGHTTP2_REFUSED_STREAM; /* not processed: safe to send again */
  }
  free_stream(s);
  if (cb) cb->close(ud, err, fb);
}

/* --- writing: every frame nghttp2 has, in as few writes as TLS allows --- */

static void conn_flush(h2conn *c) {
  if (c->state != C_READY) return;
  for (;;) {
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ss, &p)) > 0)
      if (buf_add(&c->out, (const char *)p, (size_t)n)) {
        conn_fail(c, "out of memory", 0);
        return;
      }
    if (n < 0) {
      conn_fail(c, nghttp2_strerror((int)n), 0);
      return;
    }
    if (c->out.len == c->outhead) break;
    ERR_clear_error();
    int w = SSL_write(c->ssl, c->out.p + c->outhead, (int)(c->out.len - c->outhead));
    if (w > 0) {
      c->outhead += (size_t)w;
      if (c->outhead == c->out.len) c->out.len = c->outhead = 0;
      continue;
    }
    int e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
    conn_fail(c, "the connection to the server failed while sending", 0);
    return;
  }
  if (!nghttp2_session_want_read(c->ss) && !nghttp2_session_want_write(c->ss) && c->out.len == c->outhead) {
    conn_fail(c, "the server closed the connection (GOAWAY)", 1);
    return;
  }
  conn_watch(c);
}

static void flush_cb(void *ud) {
  h2conn *c = ud;
  c->flush_pending = 0;
  conn_flush(c);
}

/* frames queued: send them at the end of this loop iteration, together */
static void flush_soon(h2conn *c) {
  if (c->flush_pending || c->state == C_DEAD) return;
  c->flush_pending = 1;
  /* the deferred call may outlive a failed connection: conn_free is
   * deferred after it (FIFO), so c is still there when it runs */
  loop_defer(c->lp, flush_cb, c);
}

/* --- nghttp2 callbacks --- */

static h2stream *stream_of(nghttp2_session *ss, int32_t id) { return nghttp2_session_get_stream_user_data(ss, id); }

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nl, const uint8_t *value,
                     size_t vl, uint8_t flags, void *ud) {
  (void)flags;
  (void)ud;
  if (f->hd.type != NGHTTP2_HEADERS) return 0;
  h2stream *s = stream_of(ss, f->hd.stream_id);
  if (!s || !s->cb) return 0;
  char stackb[512];
  size_t need = nl + vl + 16;
  char *b = need <= sizeof stackb ? stackb : malloc(need);
  if (!b) return NGHTTP2_ERR_CALLBACK_FAILURE;
  int n;
  if (nl == 7 && memcmp(name, ":status", 7) == 0) n = snprintf(b, need, "HTTP/2 %.*s", (int)vl, (const char *)value);
  else if (nl > 0 && name[0] == ':') n = -1;
  else n = snprintf(b, need, "%.*s: %.*s", (int)nl, (const char *)name, (int)vl, (const char *)value);
  if (n > 0) s->cb->header(s->ud, b, (size_t)n);
  if (b != stackb) free(b);
  return 0;
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *ud) {
  h2conn *c = ud;
  if (f->hd.type == NGHTTP2_GOAWAY) c->goaway = 1;
  if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
    h2stream *s = stream_of(ss, f->hd.stream_id);
    if (s && s->cb) s->cb->header(s->ud, "", 0);
  }
  return 0;
}

static int on_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud) {
  (void)flags;
  (void)ud;
  h2stream *s = stream_of(ss, id);
  if (!s || !s->cb) {
    nghttp2_session_consume_connection(ss, len);
    return 0;
  }
  if (!s->paused) {
    if (s->cb->data(s->ud, (const char *)data, len) == 0) {
      nghttp2_session_consume(ss, id, len);
      return 0;
    }
    s->paused = 1;
  }
  if (buf_add(&s->hold, (const char *)data, len)) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static int on_stream_close(nghttp2_session *ss, int32_t id, uint32_t code, void *ud) {
  (void)ud;
  h2stream *s = stream_of(ss, id);
  if (!s) return 0;
  nghttp2_session_set_stream_user_data(ss, id, NULL);
  s->closed = 1;
  s->close_code = code;
  if (!s->cb) {
    free_stream(s);
    return 0;
  }
  if (s->hold.len > s->hold_off) return 0; /* finished once its reader has the rest (h2_resume) */
  finish_stream(s);
  return 0;
}

static ssize_t body_read(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud) {
  (void)ss;
  (void)id;
  (void)ud;
  h2stream *s = src->ptr;
  size_t n = s->body_len - s->body_off;
  if (n > len) n = len;
  memcpy(buf, s->body + s->body_off, n);
  s->body_off += n;
  if (s->body_off == s->body_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* --- submitting --- */

static int is_conn_header(const char *name, size_t n) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "host", "te", "content-length", NULL};
  for (int i = 0; names[i]; i++)
    if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0) return 1;
  return 0;
}

#define NV(n, v, nlen, vlen) \
  ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), (nlen), (vlen), NGHTTP2_NV_FLAG_NONE})

/* 0, or -1 when nghttp2 refused it (the caller ends the stream) */
static int do_submit(h2stream *s) {
  h2conn *c = s->c;
  size_t nmax = s->nhdr + 6;
  nghttp2_nv stackv[48];
  nghttp2_nv *nv = nmax <= 48 ? stackv : malloc(nmax * sizeof *nv);
  char cl[32];
  if (!nv) return -1;
  size_t k = 0;
  nv[k++] = NV(":method", s->method, 7, strlen(s->method));
  nv[k++] = NV(":scheme", "https", 7, 5);
  nv[k++] = NV(":authority", c->authority, 10, strlen(c->authority));
  nv[k++] = NV(":path", s->path, 5, strlen(s->path));
  for (size_t i = 0; i < s->nhdr; i++) {
    char *h = s->hdr[i]; /* "name: value", name already lowercase */
    char *colon = strchr(h, ':');
    size_t nl = (size_t)(colon - h);
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!*v || is_conn_header(h, nl)) continue; /* "Name:" leaves it out, as with libcurl */
    nv[k++] = NV(h, v, nl, strlen(v));
  }
  nghttp2_data_provider prd = {.source.ptr = s, .read_callback = body_read};
  if (s->body) {
    int n = snprintf(cl, sizeof cl, "%zu", s->body_len);
    nv[k++] = NV("content-length", cl, 14, (size_t)n);
  }
  int32_t id = nghttp2_submit_request(c->ss, NULL, nv, k, s->body ? &prd : NULL, s);
  if (nv != stackv) free(nv);
  if (id < 0) return -1;
  s->id = id;
  return 0;
}

h2stream *h2_submit(h2conn *c, const char *method, const char *url, const char *const *headers, const char *body,
                    size_t body_len, const h2_cbs *cb, void *ud) {
  if (!c || c->state == C_DEAD) return NULL;
  const char *p = strstr(url, "://");
  p = p ? strchr(p + 3, '/') : NULL;
  h2stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t nh = 0;
  for (const char *const *h = headers; h && *h; h++) nh++;
  s->method = strdup(method ? method : "GET");
  s->path = strdup(p ? p : "/");
  s->hdr = calloc(nh + 1, sizeof *s->hdr);
  int bad = !s->method || !s->path || !s->hdr;
  for (size_t i = 0; i < nh && !bad; i++) {
    const char *colon = strchr(headers[i], ':');
    if (!colon || colon == headers[i]) continue;
    char *h = strdup(headers[i]);
    if (!h) {
      bad = 1;
      break;
    }
    for (char *q = h; *q != ':'; q++) *q = (char)tolower((unsigned char)*q);
    s->hdr[s->nhdr++] = h;
  }
  if (!bad && body) {
    s->body = malloc(body_len ? body_len : 1);
    if (!s->body) bad = 1;
    else {
      if (body_len) memcpy(s->body, body, body_len);
      s->body_len = body_len;
    }
  }
  if (bad) {
    free_stream(s);
    return NULL;
  }
  s->cb = cb;
  s->ud = ud;
  s->c = c;
  s->next = c->streams;
  if (c->streams) c->streams->prev = s;
  c->streams = s;
  if (c->state == C_READY) {
    if (do_submit(s)) {
      free_stream(s);
      return NULL;
    }
    flush_soon(c);
  }
  return s;
}

void h2_resume(h2stream *s) {
  if (!s || !s->paused || !s->cb) return;
  s->paused = 0;
  size_t n = s->hold.len - s->hold_off;
  if (n) {
    if (s->cb->data(s->ud, s->hold.p + s->hold_off, n)) {
      s->paused = 1;
      return;
    }
    s->hold.len = s->hold_off = 0;
    h2conn *c = s->c;
    if (c && c->state == C_READY) {
      if (s->closed) nghttp2_session_consume_connection(c->ss, n);
      else nghttp2_session_consume(c->ss, s->id, n);
      flush_soon(c);
    }
  }
  if (s->closed) finish_stream(s);
}

void h2_cancel(h2stream *s) {
  if (!s) return;
  h2conn *c = s->c;
  s->cb = NULL;
  size_t held = s->hold.len - s->hold_off;
  if (!c || c->state == C_DEAD || s->id == 0 || s->closed) {
    if (c && c->state == C_READY && held) {
      nghttp2_session_consume_connection(c->ss, held);
      flush_soon(c);
    }
    free_stream(s);
    return;
  }
  /* freed at its close (on_stream_close), which the reset brings */
  if (held) nghttp2_session_consume_connection(c->ss, held);
  buf_free(&s->hold);
  s->hold_off = 0;
  nghttp2_submit_rst_stream(c->ss, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
  flush_soon(c);
}

/* --- the connection --- */

static int conn_ready(h2conn *c) {
  const unsigned char *alpn = NULL;
  unsigned alen = 0;
  SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
  if (alen != 2 || memcmp(alpn, "h2", 2) != 0) return -1;
  nghttp2_session_callbacks *cbs;
  if (nghttp2_session_callbacks_new(&cbs)) return -1;
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt)) {
    nghttp2_session_callbacks_del(cbs);
    return -1;
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  int rv = nghttp2_session_client_new2(&c->ss, cbs, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv) return -1;
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
                                 {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
  if (nghttp2_submit_settings(c->ss, NGHTTP2_FLAG_NONE, iv, 3)) return -1;
  if (nghttp2_session_set_local_window_size(c->ss, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW)) return -1;
  c->state = C_READY;
  if (c->timer) loop_timer_cancel(c->lp, c->timer);
  c->timer = 0;
  /* the streams that waited, oldest first (the list is newest first) */
  h2stream *last = c->streams;
  while (last && last->next) last = last->next;
  for (h2stream *s = last; s;) {
    h2stream *prev = s->prev;
    if (s->id == 0 && do_submit(s)) {
      s->close_code = NGHTTP2_INTERNAL_ERROR;
      finish_stream(s);
    }
    s = prev;
  }
  return 0;
}

static void conn_read(h2conn *c) {
  char buf[READ_CHUNK];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, sizeof buf);
    if (n > 0) {
      ssize_t r = nghttp2_session_mem_recv(c->ss, (const uint8_t *)buf, (size_t)n);
      if (r < 0) {
        conn_fail(c, nghttp2_strerror((int)r), 0);
        return;
      }
      if (c->state == C_DEAD) return;
      /* all that the last read brought is taken: the poll says when more
       * comes (level-triggered), so no read ends in EAGAIN each turn */
      if (!SSL_has_pending(c->ssl)) return;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
    conn_fail(c, "the server closed the connection", 0);
    return;
  }
}

static void io_cb(void *ud, int fd, short revents) {
  h2conn *c = ud;
  (void)fd;
  if (c->state == C_TCP) {
    int err = 0;
    socklen_t l = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
      conn_fail(c, "connect failed", 1);
      return;
    }
    c->state = C_TLS;
  }
  if (c->state == C_TLS) {
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
      if (conn_ready(c)) {
        conn_fail(c, "no HTTP/2 on this connection", 1);
        return;
      }
      conn_flush(c);
      return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) c->events = POLLIN;
    else if (e == SSL_ERROR_WANT_WRITE) c->events = POLLOUT;
    else {
      conn_fail(c, "TLS handshake failed", 1); /* libcurl then says why */
      return;
    }
    conn_watch(c);
    return;
  }
  if (c->state != C_READY) return;
  if (revents & POLLIN) conn_read(c);
  if (c->state == C_READY) conn_flush(c);
}

static void connect_timeout(void *ud) {
  h2conn *c = ud;
  c->timer = 0;
  if (c->state != C_READY) conn_fail(c, "connection timed out", 1);
}

static int load_pem_certs(SSL_CTX *ctx, const char *pem, size_t len, int ca) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return -1;
  int n = 0, rc = 0;
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    if (ca) rc = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x) == 1 ? 0 : -1;
    else if (n == 0) rc = SSL_CTX_use_certificate(ctx, x) == 1 ? 0 : -1;
    else {
      rc = SSL_CTX_add_extra_chain_cert(ctx, x) == 1 ? 0 : -1;
      if (rc == 0) x = NULL; /* the context owns it now */
    }
    if (x) X509_free(x);
    n++;
    if (rc) break;
  }
  ERR_clear_error(); /* the end of the PEM data */
  BIO_free(b);
  return rc || n == 0 ? -1 : 0;
}

static SSL_CTX *make_ctx(const http_opts *o) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return NULL;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  /* NO_AUTO_CHAIN: the client certificate's own chain only (http.c's
   * own_chain says why) */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
  /* records read ahead in big reads: conn_read goes on while any of it
   * waits in OpenSSL's buffer (SSL_has_pending), so none waits unseen */
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, READ_CHUNK);
  static const unsigned char alpn[] = {2, 'h', '2'};
  int ok = SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn) == 0;
  if (o->insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (o->cacert_pem) ok = ok && load_pem_certs(ctx, o->cacert_pem, o->cacert_pem_len, 1) == 0;
    else if (o->cacert_file) ok = ok && SSL_CTX_load_verify_locations(ctx, o->cacert_file, NULL) == 1;
    else ok = ok && SSL_CTX_set_default_verify_paths(ctx) == 1;
  }
  if (o->cert_pem) ok = ok && load_pem_certs(ctx, o->cert_pem, o->cert_pem_len, 0) == 0;
  else if (o->cert_file) ok = ok && SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) == 1;
  if (o->key_pem) {
    BIO *b = BIO_new_mem_buf(o->key_pem, (int)o->key_pem_len);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    ok = ok && k && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    BIO_free(b);
  } else if (o->key_file) {
    ok = ok && SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) == 1;
  }
  if ((o->cert_pem || o->cert_file) && !(o->key_pem || o->key_file)) ok = 0; /* key in the cert file: libcurl */
  if (ok && (o->key_pem || o->key_file)) ok = SSL_CTX_check_private_key(ctx) == 1;
  ERR_clear_error();
  if (!ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* an https URL with a literal address: host and port; 0 otherwise */
static int parse_url(const char *url, char *host, size_t hostlen, int *port) {
  if (strncmp(url, "https://", 8) != 0) return 0;
  const char *h = url + 8, *end = h + strcspn(h, "/?#");
  if (memchr(h, '@', (size_t)(end - h))) return 0;
  const char *hs = h, *he, *pp;
  if (*h == '[') {
    hs = h + 1;
    he = memchr(hs, ']', (size_t)(end - hs));
    if (!he) return 0;
    pp = he + 1;
  } else {
    he = memchr(h, ':', (size_t)(end - h));
    if (!he) he = end;
    pp = he;
  }
  if ((size_t)(he - hs) >= hostlen || he == hs) return 0;
  memcpy(host, hs, (size_t)(he - hs));
  host[he - hs] = 0;
  *port = 443;
  if (pp < end) {
    if (*pp != ':') return 0;
    char *e;
    long v = strtol(pp + 1, &e, 10);
    if (e != end || v <= 0 || v > 65535) return 0;
    *port = (int)v;
  }
  unsigned char a[16];
  return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static int env_proxy(void) {
  static const char *const names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
  for (int i = 0; names[i]; i++) {
    const char *v = getenv(names[i]);
    if (v && *v) return 1;
  }
  return 0;
}

h2conn *h2_conn(loop_t *lp, const char *url, const http_opts *o) {
  char host[64];
  int port;
  if (!parse_url(url, host, sizeof host, &port)) return NULL;
  if (o->server_name || o->user || (o->proxy ? *o->proxy != 0 : env_proxy())) return NULL;
  uint64_t h = 1469598103934665603ULL;
  h = fnv_str(h, host);
  h = fnv(h, &port, sizeof port);
  h = fnv(h, &o->insecure, sizeof o->insecure);
  h = fnv_str(h, o->cacert_file);
  h = fnv_str(h, o->cert_file);
  h = fnv_str(h, o->key_file);
  h = o->cacert_pem ? fnv(h, o->cacert_pem, o->cacert_pem_len) : fnv(h, "-", 1);
  h = o->cert_pem ? fnv(h, o->cert_pem, o->cert_pem_len) : fnv(h, "-", 1);
  h = o->key_pem ? fnv(h, o->key_pem, o->key_pem_len) : fnv(h, "-", 1);
  char key[96];
  snprintf(key, sizeof key, "%s|%d|%016llx", host, port, (unsigned long long)h);
  for (h2conn *c = conns; c; c = c->next)
    if (c->lp == lp && !c->goaway && c->state != C_DEAD && strcmp(c->key, key) == 0) return c;
  SSL_CTX *ctx = make_ctx(o);
  if (!ctx) return NULL;
  h2conn *c = calloc(1, sizeof *c);
  if (!c) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  c->lp = lp;
  c->ctx = ctx;
  c->fd = -1;
  c->key = strdup(key);
  size_t al = strlen(host) + 16;
  c->authority = malloc(al);
  if (c->authority) {
    if (strchr(host, ':')) snprintf(c->authority, al, "[%s]:%d", host, port);
    else snprintf(c->authority, al, "%s:%d", host, port);
  }
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  socklen_t sl;
  int fam;
  if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&sa)->sin_addr) == 1) {
    fam = AF_INET;
    ((struct sockaddr_in *)&sa)->sin_family = AF_INET;
    ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
    sl = sizeof(struct sockaddr_in);
  } else {
    fam = AF_INET6;
    inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&sa)->sin6_addr);
    ((struct sockaddr_in6 *)&sa)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
    sl = sizeof(struct sockaddr_in6);
  }
  c->fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  c->ssl = c->fd >= 0 ? SSL_new(ctx) : NULL;
  int one = 1;
  if (!c->key || !c->authority || !c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
      (!o->insecure && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host) != 1)) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    conn_free(c);
    return NULL;
  }
  SSL_set_connect_state(c->ssl);
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o->keepalive >= 0) {
    int idle = o->keepalive > 0 ? (int)o->keepalive : 60;
    setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
  }
  c->state = C_TCP;
  c->next = conns;
  conns = c;
  /* a connect refused at once shows at the first POLLOUT: the streams then
   * go to libcurl, which says why */
  (void)connect(c->fd, (struct sockaddr *)&sa, sl);
  c->events = POLLOUT;
  conn_watch(c);
  c->timer = loop_timer(lp, o->connect_timeout > 0 ? o->connect_timeout : 30, connect_timeout, c);
  return c;
}
