/* buf.c: a growable byte buffer.  See buf.h. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

int buf_reserve(buf_t *b, size_t k, size_t first) {
  if (b->cap - b->len > k) return 0; /* room for k bytes and a NUL */
  size_t c = b->cap ? b->cap : first;
  while (c - b->len <= k) c *= 2;
  char *p = realloc(b->p, c);
  if (!p) return -1;
  b->p = p;
  b->cap = c;
  return 0;
}

int buf_add(buf_t *b, const char *d, size_t n) {
  if (buf_reserve(b, n, 256)) return -1;
  if (n) memcpy(b->p + b->len, d, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

void buf_free(buf_t *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
