/* h2up.h: HTTP/2 over TLS to an upstream, on nghttp2 and OpenSSL directly,
 * driven by the loop (no libcurl).
 *
 * For the proxy's relayed requests: libcurl 7.88 runs every stream of an
 * HTTP/2 connection whenever its socket is read, and each polls the socket;
 * here one read of the socket feeds every stream's frames to nghttp2 and
 * one write sends every stream's frames, so a request costs a fraction of
 * the system calls.  One connection per upstream and TLS identity, reused
 * while it lives; streams wait for it while it connects.
 *
 * Flow control does the backpressure: a stream's window is given back only
 * as its reader takes the data (h2_resume after a pause), so a slow client
 * stops its stream at the server, never the others.
 */
#ifndef KSH_H2UP_H
#define KSH_H2UP_H

#include <stddef.h>

#include "http.h"
#include "loop.h"

typedef struct h2conn h2conn;
typedef struct h2stream h2stream;

typedef struct {
  /* a header line of the answer: "HTTP/2 200", then "name: value" lines,
   * then "" when they are complete (as libcurl's header callback gives them) */
  void (*header)(void *ud, const char *line, size_t n);
  /* body bytes: returns 0 when taken, 1 to pause (the bytes are kept and
   * given again after h2_resume) */
  int (*data)(void *ud, const char *p, size_t n);
  /* the stream is over: err NULL for a complete answer; fallback 1 when
   * nothing was sent (the connection never came up): send it another way */
  void (*close)(void *ud, const char *err, int fallback);
} h2_cbs;

/* The connection for url's scheme://host:port with o's TLS settings, made
 * (connecting) if there is none.  NULL when this path does not apply (not
 * https, a host name rather than an address, a client certificate or
 * setting it does not handle): use libcurl then. */
h2conn *h2_conn(loop_t *lp, const char *url, const http_opts *o);
/* Send a request on c: method, url (its path and query go), header lines
 * ("Name: value"; "Name:" with nothing after it is left out), body (copied).
 * Callbacks run from the loop, never after h2_cancel. */
h2stream *h2_submit(h2conn *c, const char *method, const char *url, const char *const *headers,
                    const char *body, size_t body_len, const h2_cbs *cb, void *ud);
/* Give the kept bytes again (after data returned 1). */
void h2_resume(h2stream *s);
/* Stop a stream (RST_STREAM CANCEL if it was sent) and forget its callbacks. */
void h2_cancel(h2stream *s);

#endif
