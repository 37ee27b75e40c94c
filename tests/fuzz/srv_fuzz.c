/* srv_fuzz: libFuzzer target for the request parsing of the proxy's HTTP
 * server (src/core/server.c over http-parser), through its public interface
 * and a real socket: each input is written by a client to a server listening
 * on a Unix socket, then the client half-closes and reads until the server
 * closes.  Every request delivered must have a method, its headers readable
 * and its body no larger than the limit; it is answered (chunked, echoing
 * the target and body) and released for the next pipelined one.  Whatever
 * the server writes back must be HTTP/1.1 responses; the exchange must end
 * (the server closes) within two seconds.  Built and run by tests/fuzz/run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"
#include "server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096

static loop_t *lp;
static srv_t *srv;
static struct sockaddr_un sa;
static size_t requests;

static void fail(const char *what) {
  fprintf(stderr, "srv_fuzz: %s\n", what);
  abort();
}

static void on_request(void *ud, srv_conn *c) {
  (void)ud;
  requests++;
  const char *m = srv_method(c);
  if (!m || !*m) fail("a request without a method");
  size_t tot = strlen(srv_target(c));
  for (size_t i = 0; i < srv_header_count(c); i++) {
    const char *n, *v;
    srv_header(c, i, &n, &v);
    if (!n || !v) fail("a header without a name or value");
    tot += strlen(n) + strlen(v);
  }
  size_t bl;
  const char *b = srv_body(c, &bl);
  if (bl > MAX_BODY || (bl && !b)) fail("a body over the limit");
  const char *hdrs[] = {"Content-Type: text/plain", NULL};
  if (srv_respond(c, 200, hdrs, -1) == 0) {
    srv_write(c, srv_target(c), strlen(srv_target(c)));
    if (bl) srv_write(c, b, bl);
    srv_end(c);
  }
  (void)tot;
  srv_release(c);
}

static char path[80];
static void unlink_path(void) { unlink(path); }

static void setup(void) {
  lp = loop_new();
  if (!lp) fail("loop_new");
  snprintf(path, sizeof path, "/tmp/srv_fuzz.%d.sock", (int)getpid());
  atexit(unlink_path);
  unlink(path);
  srv_opts o = {.unix_path = path, .max_body = MAX_BODY};
  char err[256];
  srv = srv_listen(lp, &o, on_request, NULL, err, sizeof err);
  if (!srv) fail(err);
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  strcpy(sa.sun_path, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!lp) setup();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("connect");
  size_t sent = 0, got = 0;
  static char in[1 << 20];
  int wclosed = 0, eof = 0;
  double t0 = loop_now();
  requests = 0;
  while (!eof) {
    if (loop_now() - t0 > 2.0) fail("the server did not close within 2 s");
    if (!wclosed) {
      if (sent < size) {
        ssize_t w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (w > 0) sent += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR) wclosed = 1; /* the server closed first */
      }
      if (sent == size && !wclosed) {
        shutdown(fd, SHUT_WR);
        wclosed = 1;
      }
    }
    loop_run_once(lp, 5);
    for (;;) {
      char tmp[16384];
      ssize_t n = recv(fd, tmp, sizeof tmp, 0);
      if (n > 0) {
        size_t k = got + (size_t)n <= sizeof in ? (size_t)n : sizeof in - got;
        memcpy(in + got, tmp, k);
        got += k;
        continue;
      }
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) eof = 1;
      break;
    }
  }
  close(fd);
  /* let the server notice and free the connection */
  for (int i = 0; i < 3; i++) loop_run_once(lp, 0);
  if (got && (got < 9 || memcmp(in, "HTTP/1.1 ", 9) != 0)) fail("a reply that is not an HTTP/1.1 response");
  if (requests && !got) fail("a request answered with nothing");
  return 0;
}
