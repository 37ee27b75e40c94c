/* libFuzzer target: the stream framers (lines, gRPC) must give the same
 * records however the input is cut, and never crash on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Frame `d` delivered in pieces of `step` bytes; returns the records joined
 * with their lengths, and whether the framer failed. */
static char *frame(http_framer fr, const uint8_t *d, size_t n, size_t step, size_t *outlen, int *failed) {
  http_req *r = http_test_req();
  char *in = malloc(n + 1), *out = malloc(n * 5 + 16);
  size_t inl = 0, ol = 0;
  *failed = 0;
  for (size_t off = 0; off < n && !*failed; off += step) {
    size_t k = n - off < step ? n - off : step;
    memcpy(in + inl, d + off, k);
    inl += k;
    long c = fr(NULL, r, in, inl);
    if (c < 0) *failed = 1;
    else {
      memmove(in, in + c, inl - (size_t)c);
      inl -= (size_t)c;
    }
  }
  if (!*failed) {
    http_test_eof(r, 1);
    if (fr(NULL, r, in, inl) < 0) *failed = 1;
  }
  const char *rec;
  size_t rl;
  while (http_next_record(r, &rec, &rl)) {
    uint32_t l = (uint32_t)rl;
    memcpy(out + ol, &l, 4);
    memcpy(out + ol + 4, rec, rl);
    ol += 4 + rl;
  }
  http_free(r);
  free(in);
  *outlen = ol;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] % 16 + 1;
  data++;
  size--;
  http_framer frs[2] = {http_frame_lines, http_frame_grpc};
  for (int i = 0; i < 2; i++) {
    size_t l1, l2;
    int f1, f2;
    char *a = frame(frs[i], data, size, size ? size : 1, &l1, &f1);
    char *b = frame(frs[i], data, size, step, &l2, &f2);
    if (f1 != f2 || (!f1 && (l1 != l2 || memcmp(a, b, l1) != 0))) abort();
    free(a);
    free(b);
  }
  return 0;
}
