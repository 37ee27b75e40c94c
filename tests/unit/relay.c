/* Unit tests of the relay (src/core/relay.c) on one loop: an upstream server
 * (server.c) behind a proxy server whose requests are relayed to it with
 * http.c; a client on a raw socket.  Content-Length kept, hop-by-hop headers
 * dropped and names canonical, a 4 MiB chunked body read slowly (the
 * transfer pauses, the bytes waiting stay bounded, the body arrives whole),
 * keep-alive, a client that goes away cancelling the upstream request, and
 * an unreachable upstream answered with a 500. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "relay.h"
#include "server.h"
#include "tap.h"

#define BIG (4u << 20)

static loop_t *lp;
static int up_port;
static size_t big_sent;
static int up_closed; /* the upstream saw its client (the relay) go away */
static int relays_done;
static int last_status, last_complete, last_gone;
static unsigned long long last_bytes;
static size_t last_peak;
static unsigned last_pauses;

/* --- the upstream --- */

static void big_more(srv_conn *c) {
  static char chunk[65536];
  if (!chunk[0]) memset(chunk, 'x', sizeof chunk);
  while (big_sent < BIG) {
    long long q = srv_write(c, chunk, sizeof chunk);
    if (q < 0) return;
    big_sent += sizeof chunk;
    if ((size_t)q > srv_high_water()) return; /* wait for SRV_EV_DRAIN */
  }
  srv_end(c);
  srv_release(c);
}

static void up_event(void *ud, srv_conn *c, int ev) {
  (void)ud;
  if (ev == SRV_EV_CLOSED) {
    up_closed++;
    srv_release(c);
  } else if (big_sent < BIG) {
    big_more(c);
  }
}

static void up_request(void *ud, srv_conn *c) {
  (void)ud;
  const char *t = srv_target(c);
  if (strcmp(t, "/big") == 0) {
    big_sent = 0;
    srv_set_notify(c, up_event, NULL);
    srv_respond(c, 200, NULL, -1);
    big_more(c);
  } else if (strcmp(t, "/hang") == 0) { /* never answered: the relay's client leaves */
    srv_set_notify(c, up_event, NULL);
    srv_respond(c, 200, NULL, -1);
    srv_write(c, "started\n", 8);
  } else {
    const char *h[] = {"content-type: text/plain", "X-Custom-header: 1", "Keep-Alive: timeout=5", NULL};
    srv_respond(c, 200, h, 5);
    srv_write(c, "hello", 5);
    srv_end(c);
    srv_release(c);
  }
}

/* --- the proxy --- */

static void relay_done(void *ud, relay_t *x) {
  srv_conn *c = ud;
  relays_done++;
  last_status = relay_status(x);
  last_complete = relay_complete(x);
  last_gone = relay_client_gone(x);
  last_bytes = relay_bytes(x);
  last_peak = relay_peak(x);
  last_pauses = relay_pauses(x);
  relay_free(x);
  srv_release(c);
}

static void px_request(void *ud, srv_conn *c) {
  int port = *(int *)ud;
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, srv_target(c));
  http_opts o;
  memset(&o, 0, sizeof o);
  o.url = url;
  o.method = srv_method(c);
  o.proxy = "";
  const char *err = NULL;
  if (!relay_start(lp, c, &o, relay_done, c, &err)) {
    srv_respond(c, 500, NULL, 0);
    srv_end(c);
    srv_release(c);
  }
}

static int dial(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
  return fd;
}

/* run the loop, reading fd (at most `per` bytes per turn) until `until` or
 * `want` bytes came, or EOF, for at most 120 s */
static size_t collect(int fd, char *out, size_t cap, const char *until, size_t want, size_t per) {
  size_t n = 0, seen = 0, ul = until ? strlen(until) : 0;
  out[0] = 0;
  /* bounded by time, not turns: under valgrind on a loaded machine 20,000
   * turns of the loop were not always enough for the 4 MiB body */
  for (double end = loop_now() + 120; loop_now() < end;) {
    loop_run_once(lp, 2);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP))) {
      size_t room = cap - 1 - n;
      ssize_t r = recv(fd, out + n, per && per < room ? per : room, 0);
      if (r <= 0) return n;
      n += (size_t)r;
      out[n] = 0;
    }
    /* only the bytes new since the last look (and a match across their
     * start): searching all of a 4 MiB body on every turn took minutes
     * under valgrind */
    if (until && strstr(out + seen, until)) return n;
    if (until) seen = n >= ul ? n - ul + 1 : 0;
    if (want && n >= want) return n;
  }
  return n;
}

int main(void) {
  http_global_init();
  lp = loop_new();
  char err[256] = "";
  srv_opts o = {.address = "127.0.0.1", .port = 0};
  srv_t *up = srv_listen(lp, &o, up_request, NULL, err, sizeof err);
  ok(up != NULL, "upstream listens (%s)", err);
  up_port = srv_port(up);
  srv_t *px = srv_listen(lp, &o, px_request, &up_port, err, sizeof err);
  ok(px != NULL, "proxy listens (%s)", err);
  int px_port = srv_port(px);
  static char buf[BIG + 65536];

  /* a small answer: status, Content-Length, headers canonical, hop-by-hop gone */
  int fd = dial(px_port, 16384); /* a small window: the 4 MiB body below outruns it */
  const char *g = "GET /small HTTP/1.1\r\nHost: h\r\n\r\n";
  send(fd, g, strlen(g), 0);
  collect(fd, buf, sizeof buf, "hello", 0, 0);
  ok(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "status line");
  ok(strstr(buf, "\r\nContent-Length: 5\r\n") && !strstr(buf, "chunked"), "the upstream's Content-Length kept");
  ok(strstr(buf, "\r\nContent-Type: text/plain\r\n") && strstr(buf, "\r\nX-Custom-Header: 1\r\n"), "names canonical");
  ok(!strstr(buf, "Keep-Alive: timeout"), "hop-by-hop Keep-Alive dropped");
  ok(last_status == 200 && last_complete && last_bytes == 5, "relay: status %d, complete, %llu bytes", last_status,
     last_bytes);

  /* the same connection again (keep-alive), a 4 MiB chunked body read slowly */
  send(fd, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n", 30, 0);
  relays_done = 0;
  size_t n = collect(fd, buf, sizeof buf, "\r\n0\r\n\r\n", 0, 65536);
  ok(relays_done == 1 && last_complete, "the big relay completed on the kept-alive connection");
  ok(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL, "no upstream length: chunked");
  /* dechunk and count */
  char *p = strstr(buf, "\r\n\r\n");
  size_t body = 0;
  int good = p != NULL;
  if (p) p += 4;
  while (good && p < buf + n) {
    char *end;
    unsigned long sz = strtoul(p, &end, 16);
    if (end == p || strncmp(end, "\r\n", 2) != 0) { good = 0; break; }
    if (sz == 0) break;
    p = end + 2;
    for (unsigned long i = 0; i < sz; i++) good &= p[i] == 'x';
    body += sz;
    p += sz + 2;
  }
  ok(good && body == BIG, "the body arrived whole (%zu of %u bytes)", body, BIG);
  ok(last_pauses > 0, "a slow client paused the transfer (%u times)", last_pauses);
  ok(last_peak < srv_high_water() + 512 * 1024, "bytes waiting for the client stayed bounded (peak %zu)", last_peak);
  close(fd);

  /* a client that goes away: the upstream request is cancelled */
  fd = dial(px_port, 0);
  send(fd, "GET /hang HTTP/1.1\r\nHost: h\r\n\r\n", 31, 0);
  relays_done = 0;
  collect(fd, buf, sizeof buf, "started\n", 0, 0);
  ok(strstr(buf, "started\n") != NULL, "a streamed answer flows before it ends");
  up_closed = 0;
  close(fd);
  for (int i = 0; i < 500 && (!relays_done || !up_closed); i++) loop_run_once(lp, 5);
  ok(relays_done == 1 && last_gone && !last_complete, "the relay ends when its client goes away");
  ok(up_closed == 1, "and the upstream sees its request cancelled");

  /* an unreachable upstream: 500 with the error text */
  srv_close(up);
  for (int i = 0; i < 5; i++) loop_run_once(lp, 1);
  fd = dial(px_port, 0);
  send(fd, g, strlen(g), 0);
  collect(fd, buf, sizeof buf, "refused", 0, 0);
  ok(strncmp(buf, "HTTP/1.1 500 ", 13) == 0 && strstr(buf, "Content-Type: text/plain; charset=utf-8") &&
     strstr(buf, "refused"), "unreachable upstream: 500 with the error");
  ok(last_status == 500 && !last_complete, "relay: status 500, not complete");
  close(fd);

  srv_close(px);
  for (int i = 0; i < 10; i++) loop_run_once(lp, 1);
  ok(!loop_pending(lp), "nothing left on the loop");
  loop_free(lp);
  http_global_cleanup();
  return done_testing();
}
