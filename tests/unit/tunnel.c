/* Unit tests of the upgrade tunnel: the 101 reader (heads split at every
 * byte, other statuses, garbage), then a tunnel end to end against an
 * upstream in a thread: the request as sent, the raw 101 head and early data
 * passed on, bytes both ways, backpressure (an upstream sending 32 MiB to a
 * client that does not read is stopped), and the end when the client closes;
 * a non-101 answer read whole (chunked); a refused connection. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "tap.h"
#include "tunnel.h"

static const char head101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static void reader_tests(void) {
  char buf[512];
  size_t hl = strlen(head101);
  snprintf(buf, sizeof buf, "%s\x81\x05hello", head101);
  int st;
  ok(tun_upgrade_head(buf, strlen(buf), &st) == (long)hl && st == 101, "a 101 head: its length, tunnel data after it");
  int good = 1;
  for (size_t i = 0; i < hl; i++)
    if (tun_upgrade_head(buf, i, &st) != 0) good = 0;
  ok(good, "every shorter prefix asks for more bytes");
  const char *h403 = "HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nForbidden\n";
  ok(tun_upgrade_head(h403, strlen(h403), &st) == -1 && st == 403, "a 403: not an upgrade, status 403");
  ok(tun_upgrade_head("SSH-2.0-OpenSSH\r\n\r\n", 19, &st) == -1, "garbage is refused");
  const char *nohdr = "HTTP/1.1 101 Switching Protocols\r\n\r\nDATA";
  ok(tun_upgrade_head(nohdr, strlen(nohdr), &st) == (long)strlen(nohdr) - 4 && st == 101,
     "a 101 without Upgrade headers still ends at its head");
}

/* --- an upstream in a thread (blocking I/O) --- */

static int lfd, port;
static int mode; /* 0: 101 then echo; 1: 101 then 32 MiB; 2: 404 chunked */
static char got_request[2048];
static atomic_long sent;
static atomic_int upstream_eof;

#define BIG (32L << 20)

static void *upstream(void *arg) {
  (void)arg;
  int c = accept(lfd, NULL, NULL);
  if (c < 0) return NULL;
  size_t n = 0;
  while (n < sizeof got_request - 1 && !strstr(got_request, "\r\n\r\n")) {
    ssize_t r = recv(c, got_request + n, sizeof got_request - 1 - n, 0);
    if (r <= 0) break;
    n += (size_t)r;
    got_request[n] = 0;
  }
  if (mode == 2) {
    const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "4\r\nnope\r\n1\r\n\n\r\n0\r\n\r\n";
    send(c, resp, strlen(resp), MSG_NOSIGNAL);
    char b[64];
    while (recv(c, b, sizeof b, 0) > 0) {}
    close(c);
    return NULL;
  }
  char first[512];
  snprintf(first, sizeof first, "%sEARLY", head101);
  send(c, first, strlen(first), MSG_NOSIGNAL);
  if (mode == 1) {
    static char chunk[65536];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)('a' + i % 26);
    while (sent < BIG) {
      ssize_t w = send(c, chunk, sizeof chunk, MSG_NOSIGNAL);
      if (w <= 0) break;
      sent += w;
    }
  }
  char b[65536];
  ssize_t r;
  while ((r = recv(c, b, sizeof b, 0)) > 0)
    if (mode == 0) send(c, b, (size_t)r, MSG_NOSIGNAL);
  upstream_eof = 1;
  close(c);
  return NULL;
}

static loop_t *lp;
static int heads, ends, cfd[2];
static tun_t *cur;

static void on_tun(void *ud, tun_t *t, int ev) {
  (void)ud;
  if (ev == TUN_EV_HEAD) {
    heads++;
    if (tun_status(t) == 101) tun_splice(t, cfd[0], "rest:", 5);
  } else
    ends++;
}

static void run_until(int *flag, int want, double secs) {
  double end = loop_now() + secs;
  while (*flag < want && loop_now() < end) loop_run_once(lp, 20);
}

/* read from the client's end while the loop runs, until n bytes or timeout */
static size_t client_read(char *out, size_t n, double secs) {
  size_t got = 0;
  double end = loop_now() + secs;
  while (got < n && loop_now() < end) {
    loop_run_once(lp, 5);
    ssize_t r;
    while (got < n && (r = recv(cfd[1], out + got, n - got, MSG_DONTWAIT)) > 0) got += (size_t)r;
  }
  return got;
}

static tun_t *start(int m) {
  mode = m;
  sent = 0;
  upstream_eof = 0;
  got_request[0] = 0;
  heads = ends = 0;
  pthread_t th;
  pthread_create(&th, NULL, upstream, NULL);
  pthread_detach(th);
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, cfd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  const char *hdrs[] = {"Connection: Upgrade", "Upgrade: websocket", "Authorization: Bearer T", "User-Agent:", NULL};
  http_opts o;
  memset(&o, 0, sizeof o);
  o.url = url;
  o.headers = hdrs;
  const char *err = NULL;
  return tun_start(lp, &o, "/ws?watch=true", on_tun, NULL, &err);
}

int main(void) {
  reader_tests();
  http_global_init();
  lp = loop_new();
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  bind(lfd, (struct sockaddr *)&sa, sizeof sa);
  listen(lfd, 4);
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  port = ntohs(sa.sin_port);

  /* 101, early data, echo, the client closes */
  cur = start(0);
  run_until(&heads, 1, 10);
  ok(heads == 1 && tun_status(cur) == 101, "a 101 from the upstream");
  char want[128];
  snprintf(want, sizeof want, "GET /ws?watch=true HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade\r\n", port);
  ok(strncmp(got_request, want, strlen(want)) == 0 && strstr(got_request, "Authorization: Bearer T\r\n") &&
         !strstr(got_request, "User-Agent") && strstr(got_request, "\r\n\r\n"),
     "the request line, Host, the headers as given (an empty one dropped)");
  char buf[1024];
  size_t hl = strlen(head101);
  size_t n = client_read(buf, hl + 5 + 5, 10);
  ok(n == hl + 10 && memcmp(buf, head101, hl) == 0 && memcmp(buf + hl, "EARLY", 5) == 0 &&
         memcmp(buf + hl + 5, "rest:", 5) == 0,
     "the client gets the raw 101 head, the early data, then the echo of what it sent before the 101");
  send(cfd[1], "ping", 4, 0);
  n = client_read(buf, 4, 10);
  ok(n == 4 && memcmp(buf, "ping", 4) == 0, "bytes both ways");
  close(cfd[1]);
  run_until(&ends, 1, 10);
  ok(ends == 1, "the client closing ends the tunnel");
  unsigned long long up, down;
  tun_counts(cur, &up, &down);
  ok(up == 9 && down == hl + 14, "counts: %llu up, %llu down", up, down);
  tun_free(cur);
  double end = loop_now() + 5;
  while (!upstream_eof && loop_now() < end) usleep(10000);
  ok(upstream_eof, "... and the upstream connection is closed");

  /* backpressure: 32 MiB towards a client that does not read */
  cur = start(1);
  run_until(&heads, 1, 10);
  end = loop_now() + 1.5;
  while (loop_now() < end) loop_run_once(lp, 20);
  long stalled = sent;
  ok(stalled < BIG, "a client that does not read stops the upstream (%ld of %ld bytes sent)", stalled, BIG);
  size_t total = 0, bad = 0;
  static char big[1 << 16];
  end = loop_now() + 60;
  size_t skip = hl + 5; /* the head and EARLY */
  while (total < (size_t)BIG + skip && loop_now() < end) {
    loop_run_once(lp, 5);
    ssize_t r;
    while ((r = recv(cfd[1], big, sizeof big, MSG_DONTWAIT)) > 0) {
      for (ssize_t i = 0; i < r; i++, total++)
        if (total >= skip && big[i] != (char)('a' + (total - skip) % 65536 % 26)) bad++;
    }
  }
  ok(total == (size_t)BIG + skip && bad == 0, "then all of it arrives, in order (%zu bytes, %zu wrong)", total, bad);
  close(cfd[1]);
  run_until(&ends, 1, 10);
  ok(ends == 1, "and the tunnel ends with the client");
  tun_free(cur);

  /* a non-101 answer: read whole, dechunked, the client socket untouched */
  cur = start(2);
  run_until(&heads, 1, 10);
  size_t bl;
  const char *b = tun_body(cur, &bl);
  const char *name, *value;
  tun_header(cur, 0, &name, &value);
  ok(tun_status(cur) == 404 && bl == 5 && memcmp(b, "nope\n", 5) == 0 && !tun_error(cur, NULL) &&
         tun_header_count(cur) == 2 && strcmp(name, "Content-Type") == 0 && strcmp(value, "text/plain") == 0,
     "a 404: status, headers and the dechunked body");
  tun_free(cur);
  close(cfd[0]);
  close(cfd[1]);

  /* nothing listening */
  close(lfd);
  heads = 0;
  http_opts o;
  memset(&o, 0, sizeof o);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
  o.url = url;
  const char *err = NULL;
  cur = tun_start(lp, &o, "/", on_tun, NULL, &err);
  run_until(&heads, 1, 10);
  const char *kind = NULL;
  const char *msg = tun_error(cur, &kind);
  ok(heads == 1 && msg && kind && strcmp(kind, "refused") == 0 && tun_status(cur) == 0, "a refused connection: %s (%s)",
     msg ? msg : "-", kind ? kind : "-");
  tun_free(cur);
  loop_free(lp);
  http_global_cleanup();
  return done_testing();
}
