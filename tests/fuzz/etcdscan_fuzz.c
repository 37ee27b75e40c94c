/* libFuzzer target: etcd's streamed RangeResponse scanner and the key
 * escaper.  However the bytes are cut into chunks, the scanner emits the
 * same kvs and the same trailing fields (or fails the same way), and never
 * reads out of bounds; an escaped key is one line of valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdscan.h"

typedef struct {
  pb_buf kvs, end;
} sink;

static int emit(void *ctx, const char *data, size_t len) {
  sink *s = ctx;
  if (len == 0) abort();
  if (data[0] == ETCDSCAN_REC_KVS) pb_put_raw(&s->kvs, data + 1, len - 1);
  else if (data[0] == ETCDSCAN_REC_END) pb_put_raw(&s->end, data + 1, len - 1);
  else abort();
  return 0;
}

/* Feed d in chunks of `step` bytes (the caller keeps what was not consumed). */
static int scan(const uint8_t *d, size_t n, size_t step, sink *out) {
  etcdscan_range s;
  memset(&s, 0, sizeof s);
  char *in = malloc(n + 1);
  size_t inl = 0;
  int failed = 0;
  for (size_t off = 0; off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    memcpy(in + inl, d + off, k);
    inl += k;
    long c = etcdscan_feed(&s, in, inl, emit, out);
    if (c < 0) { failed = 1; break; }
    if ((size_t)c > inl) abort();
    memmove(in, in + c, inl - (size_t)c);
    inl -= (size_t)c;
  }
  if (!failed && !(inl == 0 && etcdscan_clean(&s))) failed = 2; /* ended inside a message */
  etcdscan_free(&s);
  free(in);
  return failed;
}

static int valid_line(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n' || c == '\r' || c < 0x20 || c == 0x7f) return 0;
    size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (k == 0 || i + k > n) return 0;
    for (size_t j = 1; j < k; j++) if (((unsigned char)s[i + j] & 0xc0) != 0x80) return 0;
    i += k;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  sink a = {{0}, {0}}, b = {{0}, {0}};
  size_t step = n ? (size_t)d[0] % 7 + 1 : 1;
  int fa = scan(d, n, n ? n : 1, &a), fb = scan(d, n, step, &b);
  if (fa == 0 || fb == 0) {
    /* a clean stream is clean however it is cut, with the same records */
    if (fa != fb) abort();
    if (a.kvs.len != b.kvs.len || (a.kvs.len && memcmp(a.kvs.p, b.kvs.p, a.kvs.len) != 0)) abort();
    if (a.end.len != b.end.len || (a.end.len && memcmp(a.end.p, b.end.p, a.end.len) != 0)) abort();
  }
  pb_buf_free(&a.kvs); pb_buf_free(&a.end); pb_buf_free(&b.kvs); pb_buf_free(&b.end);
  /* the key escaper: one line of valid UTF-8, whatever the key */
  pb_buf e = {0};
  etcdscan_escape(&e, (const char *)d, n);
  if (!e.oom && !valid_line(e.p ? e.p : "", e.len)) abort();
  pb_buf_free(&e);
  return 0;
}
