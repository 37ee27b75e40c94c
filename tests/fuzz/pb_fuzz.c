/* libFuzzer target: the protobuf wire reader (pb_next, pb_get_varint) on any
 * bytes, read as nested messages as deep as they go.  It must never read out
 * of bounds, and what it reads must survive a round trip: the fields written
 * back with pb_put_* read back as the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"

/* Walk a message: count fields, recurse into length-delimited ones that
 * parse as messages (bounded depth).  Returns -1 when malformed. */
static long walk(const char *p, const char *end, int depth) {
  long n = 0;
  pb_field f;
  int r;
  while ((r = pb_next(&p, end, &f)) == 1) {
    if (f.field == 0) return -1;
    if (f.wiretype == PB_LEN) {
      if (f.data + f.len != p || p > end) abort(); /* the bytes are inside the input, just read */
      if (depth < 8) (void)walk(f.data, f.data + f.len, depth + 1);
    }
    n++;
  }
  return r < 0 ? -1 : n;
}

/* Re-encode the top-level fields of [p, end) into b; -1 when malformed. */
static int reencode(const char *p, const char *end, pb_buf *b) {
  pb_field f;
  int r;
  while ((r = pb_next(&p, end, &f)) == 1) {
    switch (f.wiretype) {
    case PB_VARINT: pb_put_uint(b, f.field, f.v); break;
    case PB_LEN: pb_put_bytes(b, f.field, f.data, f.len); break;
    case PB_FIXED64: {
      unsigned char le[8];
      for (int i = 0; i < 8; i++) le[i] = (unsigned char)(f.v >> (8 * i));
      pb_put_key(b, f.field, PB_FIXED64);
      pb_put_raw(b, le, 8);
      break;
    }
    case PB_FIXED32: {
      unsigned char le[4];
      for (int i = 0; i < 4; i++) le[i] = (unsigned char)(f.v >> (8 * i));
      pb_put_key(b, f.field, PB_FIXED32);
      pb_put_raw(b, le, 4);
      break;
    }
    default: abort(); /* pb_next returned a wire type it cannot have read */
    }
  }
  return r < 0 ? -1 : 0;
}

static int same_fields(const char *a, const char *aend, const char *b, const char *bend) {
  pb_field x, y;
  int ra, rb;
  for (;;) {
    ra = pb_next(&a, aend, &x);
    rb = pb_next(&b, bend, &y);
    if (ra != rb) return 0;
    if (ra != 1) return 1;
    if (x.field != y.field || x.wiretype != y.wiretype) return 0;
    if (x.wiretype == PB_LEN ? (x.len != y.len || memcmp(x.data, y.data, x.len) != 0) : x.v != y.v) return 0;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  const char *p = (const char *)d, *end = p + n;
  long fields = walk(p, end, 0);
  /* varints alone: never more than 10 bytes, never past the end */
  const unsigned char *q = d, *qend = d + n;
  uint64_t v;
  while (q < qend && pb_get_varint(&q, qend, &v) == 1) {
    if (q > qend) abort();
  }
  if (fields < 0) return 0;
  pb_buf b = {0};
  if (reencode(p, end, &b) != 0) abort(); /* it parsed once: it parses again */
  const char *bp = b.p ? b.p : "";
  if (!b.oom && !same_fields(p, end, bp, bp + b.len)) abort();
  pb_buf_free(&b);
  return 0;
}
