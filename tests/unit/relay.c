/* Unit tests of the relay (src/core/relay.c) on one loop: an upstream server
 * (server.c) behind a proxy server whose requests are relayed to it with
 * http.c; a client on a raw socket.  Content-Length kept, hop-by-hop headers
 * dropped and names canonical, a 4 MiB chunked body read slowly (the
 * transfer pauses, the bytes waiting stay bounded, the body arrives whole),
 * keep-alive, a client that goes away cancelling the upstream request, an
 * unreachable upstream answered with a 500, and a 16 MiB upload streamed to
 * an upstream that does not read at first (the client is stopped long
 * before the whole body is taken: backpressure) arriving intact. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
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

#define UP_BODY (16ull << 20)
static srv_conn *up_conn; /* the upload being received */
static int up_reading;    /* it reads the body (else leaves it waiting) */
static unsigned long long up_got;
static uint64_t up_sum; /* FNV-1a of the body */

static unsigned char pattern(unsigned long long i) { return (unsigned char)((i * 7 + (i >> 12)) & 0xff); }

static void up_drain(void) {
  static char tmp[65536];
  if (!up_conn || !up_reading) return;
  for (;;) {
    long n = srv_body_read(up_conn, tmp, sizeof tmp);
    if (n > 0) {
      for (long i = 0; i < n; i++) up_sum = (up_sum ^ (unsigned char)tmp[i]) * 1099511628211ull;
      up_got += (unsigned long long)n;
      continue;
    }
    if (n == 0) {
      char b[64];
      int bl = snprintf(b, sizeof b, "%llu %llx", up_got, (unsigned long long)up_sum);
      srv_respond(up_conn, 200, NULL, bl);
      srv_write(up_conn, b, (size_t)bl);
      srv_end(up_conn);
      srv_release(up_conn);
      up_conn = NULL;
    }
    return;
  }
}

static void up_body_event(void *ud, srv_conn *c, int ev) {
  (void)ud;
  if (ev == SRV_EV_CLOSED) {
    srv_release(c);
    up_conn = NULL;
  } else if (ev == SRV_EV_BODY) {
    up_drain();
  }
}

static int big_ended = 1; /* no /big answer is running */
static void big_more(srv_conn *c) {
  static char chunk[65536];
  if (!chunk[0]) memset(chunk, 'x', sizeof chunk);
  while (big_sent < BIG) {
    long long q = srv_write(c, chunk, sizeof chunk);
    if (q < 0) return;
    big_sent += sizeof chunk;
    if ((size_t)q > srv_high_water()) return; /* wait for SRV_EV_DRAIN */
  }
  /* also after the last chunk left the queue over the high-water mark: the
   * answer ends on that drain (valgrind's pace made it common, and the
   * relay then waited for a last chunk the upstream never sent) */
  if (!big_ended) {
    big_ended = 1;
    srv_end(c);
    srv_release(c);
  }
}

static void up_event(void *ud, srv_conn *c, int ev) {
  (void)ud;
  if (ev == SRV_EV_CLOSED) {
    up_closed++;
    srv_release(c);
  } else if (!big_ended) {
    big_more(c);
  }
}

static void up_request(void *ud, srv_conn *c) {
  (void)ud;
  const char *t = srv_target(c);
  if (strcmp(t, "/big") == 0) {
    big_sent = 0;
    big_ended = 0;
    srv_set_notify(c, up_event, NULL);
    srv_respond(c, 200, NULL, -1);
    big_more(c);
  } else if (strcmp(t, "/upload") == 0) {
    up_conn = c;
    up_got = 0;
    up_sum = 14695981039346656037ull;
    srv_set_notify(c, up_body_event, NULL);
    up_drain();
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
  srv_opts o = {.address = "127.0.0.1", .port = 0, .stream_body = 1};
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
  /* the relay ends on a loop turn after its last bytes left (later under valgrind) */
  for (double end = loop_now() + 60; !relays_done && loop_now() < end;) loop_run_once(lp, 5);
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
  for (double end = loop_now() + 60; (!relays_done || !up_closed) && loop_now() < end;) loop_run_once(lp, 5);
  ok(relays_done == 1 && last_gone && !last_complete, "the relay ends when its client goes away");
  ok(up_closed == 1, "and the upstream sees its request cancelled");

  /* an upload of 16 MiB to an upstream that reads nothing at first: the
   * client is stopped well before it has sent it all, then it all arrives */
  {
    fd = dial(px_port, 0);
    int sndbuf = 65536;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    char head[128];
    int hl = snprintf(head, sizeof head, "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: %llu\r\n\r\n", UP_BODY);
    send(fd, head, (size_t)hl, 0);
    static char out[65536];
    unsigned long long sent = 0, before = 0;
    uint64_t sum = 14695981039346656037ull;
    double stalled = 0;
    up_reading = 0;
    relays_done = 0;
    for (double end = loop_now() + 120; loop_now() < end && sent < UP_BODY;) {
      loop_run_once(lp, 1);
      size_t len = sizeof out;
      if (len > UP_BODY - sent) len = (size_t)(UP_BODY - sent);
      for (size_t i = 0; i < len; i++) out[i] = (char)pattern(sent + i);
      ssize_t w = send(fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0) {
        for (ssize_t i = 0; i < w; i++) sum = (sum ^ (unsigned char)out[i]) * 1099511628211ull;
        sent += (unsigned long long)w;
        stalled = 0;
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!up_reading && stalled == 0) stalled = loop_now();
        if (!up_reading && loop_now() - stalled > 1.0) { /* stuck: now let the upstream read */
          before = sent;
          up_reading = 1;
          up_drain();
        }
      } else {
        break;
      }
    }
    if (!up_reading) { /* never stopped: the proxy took it all */
      before = sent;
      up_reading = 1;
      up_drain();
    }
    ok(sent == UP_BODY, "the client sent the whole body (%llu bytes)", sent);
    ok(before > 0 && before < 12ull << 20,
       "with the upstream not reading, the client was stopped after %llu of %llu bytes", before, UP_BODY);
    char want[64];
    snprintf(want, sizeof want, "%llu %llx", UP_BODY, (unsigned long long)sum);
    collect(fd, buf, sizeof buf, want, 0, 0);
    ok(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf, want), "the upstream got it all, intact (%s)", want);
    for (int i = 0; i < 500 && !relays_done; i++) loop_run_once(lp, 5);
    ok(relays_done == 1 && last_complete && last_status == 200, "the upload's relay completed");
    close(fd);
  }

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
