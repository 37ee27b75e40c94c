/* server.h: a small HTTP/1.1 server on the loop (no Lua in here).
 *
 * Requests are parsed incrementally by Debian's http-parser (nodejs
 * http-parser 2.9); this file owns the sockets, keep-alive, pipelining (one
 * request at a time per connection: the next is parsed once the response to
 * the previous one has ended) and the response framing (Content-Length or
 * chunked).  A request is delivered whole (headers and body), or, with
 * stream_body, at its headers when its body is large or chunked (the body is
 * then read as it arrives: srv_body_read); its response is streamed:
 * srv_respond, any number of srv_write, srv_end.
 *
 * A connection handed to the upper layer stays valid until srv_release, even
 * when the client goes away meanwhile (the notify callback is told, and
 * writes become no-ops).
 */
#ifndef KSH_SERVER_H
#define KSH_SERVER_H

#include <stddef.h>

#include "loop.h"

typedef struct srv srv_t;
typedef struct srv_conn srv_conn;

/* A complete request is ready on c (the upper layer now holds c). */
typedef void (*srv_request_fn)(void *ud, srv_conn *c);

enum { SRV_EV_DRAIN = 1, SRV_EV_CLOSED = 2, SRV_EV_BODY = 3 };
/* Output fell under the limit (SRV_EV_DRAIN), the client went away, or more
 * of a streamed body arrived (SRV_EV_BODY, also at its end). */
typedef void (*srv_notify_fn)(void *ud, srv_conn *c, int ev);

typedef struct {
  const char *address; /* default 127.0.0.1; a name or an IPv6 literal works */
  int port;            /* 0: a free port (see srv_port) */
  const char *unix_path; /* listen on a Unix socket instead */
  size_t max_body;     /* request bodies over this get 413; 0: 64 MiB */
  int stream_body;     /* deliver a request whose body is chunked or over 64 KiB
                        * at its headers; the body streams (no max_body) */
} srv_opts;

/* Listen and serve on the loop.  Returns NULL with errbuf filled on failure
 * (e.g. "listen tcp 127.0.0.1:8001: bind: address already in use").  The
 * caller owns the server (srv_close). */
srv_t *srv_listen(loop_t *lp, const srv_opts *o, srv_request_fn on_request, void *ud, char *errbuf, size_t errlen);
/* The bound port (TCP), 0 for a Unix socket. */
int srv_port(const srv_t *s);
/* Stop listening and close every connection; connections still held by the
 * upper layer are marked closed and freed by their srv_release. */
void srv_close(srv_t *s);

/* --- a request (the connection that carries it) --- */
const char *srv_method(const srv_conn *c);
const char *srv_target(const srv_conn *c); /* raw request target, unchanged */
size_t srv_header_count(const srv_conn *c);
/* Header i as received (name case kept); both strings live in c. */
void srv_header(const srv_conn *c, size_t i, const char **name, const char **value);
/* The whole body ("" for a streamed one). */
const char *srv_body(const srv_conn *c, size_t *len);
/* The body is streamed: read it with srv_body_read. */
int srv_body_streaming(const srv_conn *c);
/* The request's Content-Length, -1 if it had none (chunked). */
long long srv_body_length(const srv_conn *c);
/* Take up to n bytes of a streamed body into dst: returns the count, 0 at its
 * end, SRV_BODY_WAIT when none is there yet (SRV_EV_BODY tells when more
 * came), -1 if the client went away before the end.  Safe inside another
 * library's callback (never closes, never notifies).  Reading from the client
 * stops while 256 KiB wait here (backpressure). */
long srv_body_read(srv_conn *c, char *dst, size_t n);
#define SRV_BODY_WAIT (-2)
const char *srv_remote(const srv_conn *c); /* "ip:port" of the client */
int srv_http_minor(const srv_conn *c);     /* 1 for HTTP/1.1, 0 for 1.0 */
int srv_is_closed(const srv_conn *c);      /* the client went away */

/* Receive SRV_EV_* for this connection (until srv_release). */
void srv_set_notify(srv_conn *c, srv_notify_fn fn, void *ud);
/* Start the response.  headers: NULL-terminated "Name: value" lines, without
 * Content-Length, Transfer-Encoding or Connection (the server sets those).
 * content_length < 0: chunked (close-delimited for HTTP/1.0).  Returns 0, or
 * -1 if the client is gone or a response was already started. */
int srv_respond(srv_conn *c, int status, const char *const *headers, long long content_length);
/* Queue body bytes; returns the bytes waiting to be sent (the caller waits
 * for SRV_EV_DRAIN while it is over srv_high_water), or -1 if the client is gone. */
long long srv_write(srv_conn *c, const char *data, size_t len);
/* As srv_write, but safe inside another library's callback: it never closes
 * the connection nor runs the notify callback (a failed send is found by the
 * loop later).  Small writes gather in the output buffer for the loop to
 * send; once 64 KiB are there they and the data go out in one sendmsg from
 * the caller's memory; what the socket does not take is queued. */
long long srv_queue(srv_conn *c, const char *data, size_t len);
/* Bytes of output waiting to be sent. */
size_t srv_pending(const srv_conn *c);
/* End the response (the last chunk); returns -1 if the client is gone. */
int srv_end(srv_conn *c);
/* Bytes of output over which a writer should wait for SRV_EV_DRAIN. */
size_t srv_high_water(void);
/* The upper layer is done with c: after srv_end the connection goes on to the
 * next request (keep-alive); without it, the connection is closed. */
void srv_release(srv_conn *c);

/* Take the client's socket away from the server (an upgraded connection):
 * returns the fd, now the caller's to close, and in *rest (malloc'd, the
 * caller frees it; NULL when empty) the bytes the client sent after the
 * request.  c stays held (srv_release frees it) but is closed for the server.
 * Returns -1 if the client is gone, a response was started, or output is
 * still queued. */
int srv_takeover(srv_conn *c, char **rest, size_t *restlen);

/* The reason phrase of a status code ("Not Found"), "" if unknown. */
const char *srv_reason(int status);

#endif
