/* buf.h: a growable byte buffer, always NUL-terminated (one byte past len),
 * for the core's transfers and server connections. */
#ifndef KSH_BUF_H
#define KSH_BUF_H
#include <stddef.h>

typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

/* Appends n bytes of d (doubling the allocation as needed); returns 0, or -1
 * when out of memory (b unchanged). */
int buf_add(buf_t *b, const char *d, size_t n);
/* Makes room for k more bytes and the NUL after them, doubling the
 * allocation (the first one at least `first` bytes, a power of two); returns
 * 0, or -1 when out of memory (b unchanged). */
int buf_reserve(buf_t *b, size_t k, size_t first);
/* Frees the bytes and empties b (it may be reused). */
void buf_free(buf_t *b);

#endif
