/* tunnel.h: an upgraded connection (WebSocket, SPDY) spliced between a
 * client socket and an upstream server, on the loop (no Lua in here).
 *
 * libcurl 7.88 has no upgrade pass-through, so the upstream connection is
 * made by libcurl alone (CURLOPT_CONNECT_ONLY: TCP, TLS, the client
 * certificate and CA), on a private multi handle driven by the loop; the
 * request line and headers are then sent with curl_easy_send and the answer is
 * read with curl_easy_recv through http-parser (a 101 stops it after the
 * headers: what follows is tunnel data).  Any other answer is read whole and
 * handed back as a normal response.  After a 101 the caller gives the client
 * socket (tun_splice) and bytes are copied both ways with backpressure: a side
 * is not read while the other side's pending output is full.  When either side
 * ends, what is pending towards the other is flushed (at most a few seconds),
 * then both are closed.
 */
#ifndef KSH_TUNNEL_H
#define KSH_TUNNEL_H

#include <stddef.h>

#include "http.h"
#include "loop.h"

typedef struct tun tun_t;

enum { TUN_EV_HEAD = 1, TUN_EV_END = 2 };
/* TUN_EV_HEAD: the upstream answered (tun_status; a failure: tun_error), or
 * could not be reached.  TUN_EV_END: a spliced tunnel is over (both sides
 * closed).  Always called from the loop, never inside a libcurl call. */
typedef void (*tun_fn)(void *ud, tun_t *t, int ev);

/* Connect to o->url's scheme, host and port with o's TLS options
 * (cacert*, cert*, key*, insecure, server_name, proxy, connect_timeout) and
 * send "o->method target HTTP/1.1", a Host header from the URL, o->headers and
 * o->body.  Returns NULL with *err set to a static message on setup failure. */
tun_t *tun_start(loop_t *lp, const http_opts *o, const char *target, tun_fn fn, void *ud, const char **err);
/* Close everything and free t (safe at any time, NULL too). */
void tun_free(tun_t *t);

/* The upstream's status code (0 before TUN_EV_HEAD or on failure). */
int tun_status(const tun_t *t);
/* NULL, or the failure with a short kind word (refused, dns, tls, timeout,
 * closed, protocol, error). */
const char *tun_error(const tun_t *t, const char **kind);
/* The response's headers as received; strings live in t. */
size_t tun_header_count(const tun_t *t);
void tun_header(const tun_t *t, size_t i, const char **name, const char **value);
/* The body of a non-101 response (dechunked). */
const char *tun_body(const tun_t *t, size_t *len);

/* After a 101: splice client_fd (now owned by t, closed by it) with the
 * upstream.  rest: bytes the client sent after its request (copied).  The raw
 * 101 head and any bytes after it go to the client first.  Returns 0, or -1
 * (client_fd is closed then). */
int tun_splice(tun_t *t, int client_fd, const char *rest, size_t restlen);
/* Bytes copied so far: client to upstream, upstream to client (the 101 head
 * included). */
void tun_counts(const tun_t *t, unsigned long long *up, unsigned long long *down);

/* The head of an upgrade answer in data: returns its length (what follows is
 * tunnel data) once a whole 101 head is there and *status set to 101; 0 when
 * more bytes are needed; -1 for a malformed head or (with *status set) a
 * status other than 101.  A standalone use of the reader tun_start uses. */
long tun_upgrade_head(const char *data, size_t len, int *status);

#endif
