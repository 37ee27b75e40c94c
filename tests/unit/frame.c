/* Unit tests of the stream framers: records survive every chunk boundary. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"

/* Feed `s` to a framer the way on_write does, cut at `cut`; collect records joined by '|'. */
static char *run(http_framer fr, const char *s, size_t n, size_t cut, int *err) {
  http_req *r = http_test_req();
  char in[4096];
  size_t inl = 0;
  *err = 0;
  size_t parts[2][2] = {{0, cut}, {cut, n}};
  for (int i = 0; i < 2; i++) {
    memcpy(in + inl, s + parts[i][0], parts[i][1] - parts[i][0]);
    inl += parts[i][1] - parts[i][0];
    long c = fr(NULL, r, in, inl);
    if (c < 0) {
      *err = 1;
      break;
    }
    memmove(in, in + c, inl - (size_t)c);
    inl -= (size_t)c;
  }
  if (!*err) {
    http_test_eof(r, 1);
    if (fr(NULL, r, in, inl) < 0) *err = 1;
  }
  char *out = calloc(1, 8192);
  const char *d;
  size_t l;
  while (http_next_record(r, &d, &l)) {
    strncat(out, d, l);
    strcat(out, "|");
  }
  http_free(r);
  return out;
}

int main(void) {
  const char *lines = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n";
  size_t n = strlen(lines);
  int all = 1, err;
  for (size_t cut = 0; cut <= n; cut++) {
    char *o = run(http_frame_lines, lines, n, cut, &err);
    if (err || strcmp(o, "{\"a\":1}|{\"b\":2}||{\"c\":3}|") != 0) all = 0;
    free(o);
  }
  ok(all, "lines: same records for a split at every byte position");

  char *o = run(http_frame_lines, "x\ny", 3, 1, &err);
  is_str(o, "x|y|", "lines: a last record without newline at a clean end is kept");
  free(o);

  unsigned char g[64];
  size_t gl = 0;
  const char *msgs[] = {"hello", "", "world!"};
  for (int i = 0; i < 3; i++) {
    size_t l = strlen(msgs[i]);
    g[gl++] = 0;
    g[gl++] = 0;
    g[gl++] = 0;
    g[gl++] = 0;
    g[gl++] = (unsigned char)l;
    memcpy(g + gl, msgs[i], l);
    gl += l;
  }
  all = 1;
  for (size_t cut = 0; cut <= gl; cut++) {
    o = run(http_frame_grpc, (const char *)g, gl, cut, &err);
    if (err || strcmp(o, "hello||world!|") != 0) all = 0;
    free(o);
  }
  ok(all, "grpc: same messages for a split at every byte position");

  o = run(http_frame_grpc, (const char *)g, gl - 2, gl / 2, &err);
  ok(err, "grpc: a stream cut inside a message is an error, not a short read");
  free(o);

  unsigned char comp[] = {1, 0, 0, 0, 1, 'x'};
  o = run(http_frame_grpc, (const char *)comp, sizeof comp, 3, &err);
  ok(err, "grpc: a compressed message is refused");
  free(o);
  return done_testing();
}
