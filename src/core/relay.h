/* relay.h: one proxied request run in C (no Lua in here).
 *
 * Once the upper layer has decided where a request held from server.c goes
 * (URL, headers, TLS), relay_start sends it upstream with http.c and the
 * answer goes straight into the client connection's output: the status and
 * headers (hop-by-hop ones dropped, names in Go's canonical form), then the
 * body as libcurl delivers it, framed by server.c (Content-Length when the
 * upstream gave one, else chunked).  Backpressure: the transfer is paused
 * while the client's pending output is over srv_high_water() and resumed
 * when it drains.  A client that goes away cancels the upstream transfer.
 * An upstream failure before the answer is a 500 with the error text.
 * A request body the server streams (srv_body_streaming) goes upstream as it
 * arrives (Content-Length kept, else chunked / HTTP/2 DATA), the transfer's
 * upload paused while none is there; the server stops reading the client
 * while 256 KiB wait (backpressure the other way).
 */
#ifndef KSH_RELAY_H
#define KSH_RELAY_H

#include <stddef.h>

#include "http.h"
#include "loop.h"
#include "server.h"

typedef struct relay relay_t;

/* The relay is over (response ended, cut off, or the client went away).
 * Called once, from the loop; the callee then frees x (relay_free) and
 * releases the connection (srv_release), in either order. */
typedef void (*relay_fn)(void *ud, relay_t *x);

/* Start relaying c's request as o describes it (o->sink and o->framing are
 * the relay's; the body is the caller's, o->body).  The relay takes c's
 * notify callback until done.  Returns NULL with *err set on setup failure
 * (c untouched then). */
relay_t *relay_start(loop_t *lp, srv_conn *c, const http_opts *o, relay_fn done, void *ud, const char **err);
/* Call fn once the status going to the client is known (the upstream's, or
 * 500 for a failure), before any body byte, or at the end when none was
 * (relay_status 0: the client went away first): a request log.  x stays
 * valid. */
void relay_on_head(relay_t *x, relay_fn fn, void *ud);
/* Seconds since relay_start; the upstream method and URL; request body
 * bytes streamed upstream from the client (a large or chunked body). */
double relay_elapsed(const relay_t *x);
const char *relay_method(const relay_t *x);
const char *relay_url(const relay_t *x);
unsigned long long relay_sent(const relay_t *x);
/* Cancel if running and free.  Safe on NULL; does not release the connection. */
void relay_free(relay_t *x);

/* After done: the status sent to the client (0 if none was, e.g. the client
 * went away first), body bytes relayed, the upstream error (NULL if none;
 * kind as http_error's), whether the response was complete, and whether the
 * client went away. */
int relay_status(const relay_t *x);
unsigned long long relay_bytes(const relay_t *x);
const char *relay_error(const relay_t *x, const char **kind);
int relay_complete(const relay_t *x);
int relay_client_gone(const relay_t *x);
/* The most bytes ever pending towards the client (backpressure at work). */
size_t relay_peak(const relay_t *x);
/* Times the transfer was paused for a slow client. */
unsigned relay_pauses(const relay_t *x);

#endif
