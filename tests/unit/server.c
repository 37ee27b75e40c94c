/* Unit tests of the HTTP/1.1 server: requests split at every byte, pipelining,
 * keep-alive, chunked and Content-Length responses, HTTP/1.0, bad input, a
 * client that goes away while its response is pending, and a port taken. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "server.h"
#include "tap.h"

static loop_t *lp;
static int nreq, closed_seen;
static char last_target[256], last_body[256], last_method[16], last_hdr[256];
static srv_conn *held; /* a request left pending (the "slow" path) */

static void on_event(void *ud, srv_conn *c, int ev) {
  (void)ud;
  if (ev == SRV_EV_CLOSED) {
    closed_seen++;
    if (c == held) {
      held = NULL;
      srv_release(c);
    }
  }
}

static void on_request(void *ud, srv_conn *c) {
  (void)ud;
  nreq++;
  snprintf(last_target, sizeof last_target, "%s", srv_target(c));
  snprintf(last_method, sizeof last_method, "%s", srv_method(c));
  size_t bl;
  const char *b = srv_body(c, &bl);
  snprintf(last_body, sizeof last_body, "%.*s", (int)bl, b);
  last_hdr[0] = 0;
  for (size_t i = 0; i < srv_header_count(c); i++) {
    const char *n, *v;
    srv_header(c, i, &n, &v);
    size_t l = strlen(last_hdr);
    snprintf(last_hdr + l, sizeof last_hdr - l, "%s=%s;", n, v);
  }
  if (strcmp(srv_target(c), "/slow") == 0) { /* answered never: the client leaves */
    held = c;
    srv_set_notify(c, on_event, NULL);
    return;
  }
  if (strcmp(srv_target(c), "/chunked") == 0) {
    srv_respond(c, 200, NULL, -1);
    srv_write(c, "ab", 2);
    srv_write(c, "cde", 3);
  } else {
    const char *h[] = {"X-T: 1", NULL};
    srv_respond(c, 200, h, (long long)strlen(srv_target(c)));
    srv_write(c, srv_target(c), strlen(srv_target(c)));
  }
  srv_end(c);
  srv_release(c);
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
  return fd;
}

/* run the loop until `want` bytes (or "until quiet") came back on fd */
static size_t collect(int fd, char *out, size_t cap, const char *until) {
  size_t n = 0;
  out[0] = 0;
  for (int i = 0; i < 400; i++) {
    loop_run_once(lp, 5);
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP))) {
      ssize_t r = recv(fd, out + n, cap - 1 - n, 0);
      if (r <= 0) return n;
      n += (size_t)r;
      out[n] = 0;
    }
    if (until && strstr(out, until)) return n;
  }
  return n;
}

int main(void) {
  http_global_init();
  lp = loop_new();
  char err[256] = "";
  srv_opts o = {.address = "127.0.0.1", .port = 0, .max_body = 64};
  srv_t *s = srv_listen(lp, &o, on_request, NULL, err, sizeof err);
  ok(s != NULL, "listen on a free port (%s)", err);
  int port = srv_port(s);
  ok(port > 0, "srv_port %d", port);

  /* a request sent one byte at a time */
  int fd = dial(port);
  const char *req = "POST /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Two: a\r\nContent-Length: 5\r\n\r\nhello";
  int sent = 0;
  for (size_t i = 0; req[i]; i++) {
    sent += send(fd, req + i, 1, 0) == 1;
    loop_run_once(lp, 0);
  }
  ok(sent == (int)strlen(req), "sent one byte at a time");
  char buf[8192];
  collect(fd, buf, sizeof buf, "/a%20b?x=1");
  is_str(last_target, "/a%20b?x=1", "raw target kept");
  is_str(last_method, "POST", "method");
  is_str(last_body, "hello", "body");
  is_str(last_hdr, "Host=h;X-Two=a;Content-Length=5;", "headers in order, case kept");
  ok(strstr(buf, "HTTP/1.1 200 OK\r\n") && strstr(buf, "X-T: 1\r\n") && strstr(buf, "Content-Length: 10\r\n"),
     "status line, header, Content-Length");

  /* pipelining on the same connection: answered in order */
  nreq = 0;
  const char *two = "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /chunked HTTP/1.1\r\nHost: h\r\n\r\nGET /three HTTP/1.1\r\nHost: h\r\n\r\n";
  send(fd, two, strlen(two), 0);
  collect(fd, buf, sizeof buf, "/three");
  ok(nreq == 3, "three pipelined requests (%d)", nreq);
  char *a = strstr(buf, "/one"), *b = strstr(buf, "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"), *c3 = strstr(buf, "/three");
  ok(a && b && c3 && a < b && b < c3, "in order, the middle one chunked");
  ok(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL, "Transfer-Encoding: chunked");
  close(fd);

  /* HTTP/1.0 without keep-alive: Connection: close, then EOF */
  fd = dial(port);
  const char *h10 = "GET /chunked HTTP/1.0\r\n\r\n";
  send(fd, h10, strlen(h10), 0);
  size_t n = collect(fd, buf, sizeof buf, NULL);
  ok(n > 0 && strstr(buf, "Connection: close\r\n") && !strstr(buf, "chunked\r\n") && strstr(buf, "\r\n\r\nabcde"),
     "HTTP/1.0: close-delimited body");
  close(fd);

  /* garbage: 400 and close */
  fd = dial(port);
  send(fd, "BLAH\r\n\r\n", 8, 0);
  collect(fd, buf, sizeof buf, NULL);
  ok(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "bad request line: 400");
  close(fd);

  /* a body over max_body: 413 */
  fd = dial(port);
  const char *big = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n";
  send(fd, big, strlen(big), 0);
  collect(fd, buf, sizeof buf, NULL);
  ok(strncmp(buf, "HTTP/1.1 413", 12) == 0, "body over the limit: 413");
  close(fd);

  /* a client that goes away while its response is pending */
  fd = dial(port);
  send(fd, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", 31, 0);
  for (int i = 0; i < 100 && !held; i++) loop_run_once(lp, 5);
  ok(held != NULL, "the slow request is held");
  close(fd);
  for (int i = 0; i < 200 && closed_seen == 0; i++) loop_run_once(lp, 5);
  ok(closed_seen == 1 && held == NULL, "the holder hears SRV_EV_CLOSED");

  /* the same port again: a clear error */
  srv_opts o2 = {.address = "127.0.0.1", .port = port};
  srv_t *s2 = srv_listen(lp, &o2, on_request, NULL, err, sizeof err);
  ok(s2 == NULL && strstr(err, "address already in use"), "port taken: %s", err);

  /* close with a connection open */
  fd = dial(port);
  loop_run_once(lp, 5);
  srv_close(s);
  close(fd);
  ok(!loop_pending(lp), "closed with a connection open: nothing left on the loop");
  loop_free(lp);
  http_global_cleanup();
  return done_testing();
}
