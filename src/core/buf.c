/* buf.c: a growable byte buffer.  See buf.h. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

int buf_add(buf_t *b, const char *d, size_t n) {
  if (b->len + n + 1 > b->cap) { /* + 1: always NUL-terminated */
    size_t c = b->cap ? b->cap : 256;
    while (c < b->len + n + 1) c *= 2;
    char *p = realloc(b->p, c);
    if (!p) return -1;
    b->p = p;
    b->cap = c;
  }
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
