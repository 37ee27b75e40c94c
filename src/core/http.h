/* http.h: HTTP transfers on the loop's multi handle (no Lua in here).
 *
 * A request either collects its whole body, or is a stream whose body is cut
 * into records by a framer (newline-delimited, gRPC length-prefixed, raw
 * chunks, or one supplied by the caller) whatever the chunk boundaries.  A
 * stream whose record queue is over its limit pauses the transfer until the
 * consumer takes records (backpressure).
 */
#ifndef KSH_HTTP_H
#define KSH_HTTP_H

#include <stddef.h>

#include "loop.h"

typedef struct http_req http_req;

enum { HTTP_FRAME_NONE = 0, HTTP_FRAME_LINES, HTTP_FRAME_GRPC, HTTP_FRAME_RAW, HTTP_FRAME_CUSTOM };

/* A framer consumes bytes and emits records with http_emit(); it returns the
 * number of bytes it consumed (it is called again with the rest once more data
 * arrive), or -1 after http_fail() on malformed input.  At a clean end of the
 * body it is called once more with whatever is left (possibly nothing) and
 * http_eof(r) true: a framer that cannot make a record of the rest fails. */
typedef long (*http_framer)(void *ud, http_req *r, const char *data, size_t len);

/* A sink takes the body as it arrives instead of the framer and the record
 * queue, whatever the status (the headers are complete when it is first
 * called).  It runs inside libcurl's write callback: it must not call libcurl
 * or free the request.  It returns len (taken), HTTP_SINK_PAUSE (the same
 * bytes come again after http_resume), or anything else to abort the
 * transfer. */
typedef size_t (*http_sink)(void *ud, http_req *r, const char *data, size_t len);
#define HTTP_SINK_PAUSE ((size_t)-1)

/* A source gives the request body as it comes: it fills up to len bytes of
 * buf and returns the count, 0 at the end, HTTP_SOURCE_PAUSE when nothing is
 * there yet (call http_resume_send once there is), or HTTP_SOURCE_ABORT.  It
 * runs inside libcurl's read callback: no libcurl calls, no freeing. */
typedef size_t (*http_source)(void *ud, http_req *r, char *buf, size_t len);
#define HTTP_SOURCE_PAUSE ((size_t)-1)
#define HTTP_SOURCE_ABORT ((size_t)-2)

typedef struct {
  const char *method; /* default GET */
  const char *url;
  const char *const *headers; /* NULL-terminated "Name: value" lines */
  const char *body;
  size_t body_len;
  const char *cacert_file, *cert_file, *key_file;
  const char *cacert_pem, *cert_pem, *key_pem; /* in-memory PEM (kubeconfig *-data) */
  size_t cacert_pem_len, cert_pem_len, key_pem_len;
  int insecure;            /* skip TLS verification */
  const char *server_name; /* TLS name to verify when it differs from the host dialled */
  const char *user, *password; /* basic auth */
  const char *proxy;           /* explicit proxy ("" for none); NULL: environment */
  double connect_timeout;      /* seconds, 0: curl's default */
  double keepalive;            /* TCP keep-alive idle and interval, seconds; 0: libcurl's (60 s); < 0: off */
  double timeout;              /* whole transfer, 0: none */
  double idle_timeout;         /* abort when no byte arrives for this long, 0: off */
  int h2c;                     /* HTTP/2 with prior knowledge on http:// */
  int http1;                   /* force HTTP/1.1 */
  int by_socket;               /* run only when its socket is ready (loop_add_transfer_fd), not on
                                  every loop iteration; not with h2c */
  int h2_direct;               /* HTTP/2 on nghttp2 without libcurl (h2up.c) where that applies
                                  (https to an address, no upload stream, no h2c); else as the rest says */
  int compressed;              /* ask for gzip/deflate */
  int framing;                 /* HTTP_FRAME_* */
  http_framer framer;          /* for HTTP_FRAME_CUSTOM */
  void *framer_ud;
  size_t max_queue; /* bytes of queued records before pausing; 0: 4 MiB */
  http_sink sink;   /* the body goes here (see http_sink); framing is ignored */
  void *sink_ud;
  http_source source; /* the request body comes from here instead of body */
  void *source_ud;
  long long source_len; /* its length, -1 unknown (chunked on HTTP/1.1) */
} http_opts;

/* Called (from the loop, never inside a curl callback) when something new is
 * available: headers complete, records queued, or the transfer ended. */
typedef void (*http_notify)(void *ud, http_req *r);

/* Create and start a transfer.  Returns NULL with *err set to a static
 * message on setup failure.  The caller owns the request (http_free). */
/* Process-wide libcurl setup and teardown.  http_global_init is idempotent
 * and runs itself before the first transfer (and the loop's multi handle),
 * so a process that makes no request never pays for libcurl's and OpenSSL's
 * start-up; calling it early (unit tests, fuzz targets) is harmless.
 * http_global_cleanup at exit.  Returns 0, or -1 if libcurl could not
 * initialise. */
int http_global_init(void);
void http_global_cleanup(void);
/* libcurl's version text ("libcurl/7.88.1 OpenSSL/3.0.x ..."); static storage. */
const char *http_library_version(void);

http_req *http_start(loop_t *lp, const http_opts *o, http_notify notify, void *ud, const char **err);
/* Set the TLS options of o (CA, client certificate and key, insecure) on a
 * curl easy handle; shared by transfers and upgrade tunnels. */
void http_set_tls(void *easy, const http_opts *o);

/* Set TCP keep-alive on a transfer from o->keepalive (see http_opts). */
void http_set_keepalive(void *easy, const http_opts *o);
/* The error kind ("dns", "refused", "tls", "timeout", "closed", ...) of a
 * libcurl result code, its error message disambiguating. */
const char *http_error_kind(int code, const char *msg);
/* Abort if running and free everything.  Safe on NULL. */
void http_free(http_req *r);
/* Abort a running transfer (it ends with kind "interrupted"). */
void http_cancel(http_req *r);
/* Resume a transfer whose sink paused it (from the loop, not from a libcurl
 * callback); no-op otherwise. */
void http_resume(http_req *r);
/* Resume the upload of a transfer whose source paused it (from the loop). */
void http_resume_send(http_req *r);

/* State */
int http_done(const http_req *r);         /* transfer finished (ok or not) */
int http_headers_done(const http_req *r); /* final status line and headers received */
long http_status(const http_req *r);
/* Error of a finished transfer: NULL when it succeeded at the transport
 * level.  *kind is a short word: refused, dns, tls, timeout, closed,
 * truncated, interrupted, protocol, error.  Both strings live in r. */
const char *http_error(const http_req *r, const char **kind);
/* Header lines ("name: value", name lowercased) of the final response, and
 * trailer lines (headers after the body: HTTP/2 and chunked trailers). */
size_t http_header_count(const http_req *r, int trailers);
const char *http_header_line(const http_req *r, int trailers, size_t i);
/* The collected body (HTTP_FRAME_NONE), or what the stream had when it failed. */
const char *http_body(const http_req *r, size_t *len);
const char *http_method(const http_req *r);
const char *http_url(const http_req *r);
double http_elapsed(const http_req *r);
const char *http_version_str(const http_req *r);

/* Records: take the oldest one (pointer valid until the next call or free).
 * Returns 1 with data and len set, 0 when none is queued. */
int http_next_record(http_req *r, const char **data, size_t *len);
size_t http_queued(const http_req *r);
/* The most bytes of records ever queued at once (backpressure at work). */
size_t http_queue_peak(const http_req *r);

/* For framers. */
int http_eof(const http_req *r);
int http_emit(http_req *r, const char *data, size_t len);
void http_fail(http_req *r, const char *kind, const char *msg);

/* Built-in framers (also used by the fuzz target). */
long http_frame_lines(void *ud, http_req *r, const char *data, size_t len);
long http_frame_grpc(void *ud, http_req *r, const char *data, size_t len);

/* A request usable only with http_emit/http_next_record (parser tests). */
http_req *http_test_req(void);
/* For parser tests: mark (1) or unmark the end of the body. */
void http_test_eof(http_req *r, int eof);
/* For parser tests: feed one header line (status line, header, blank line);
 * returns n, or 0 when out of memory, as libcurl's header callback does. */
size_t http_test_header(http_req *r, const char *line, size_t n);

#endif
