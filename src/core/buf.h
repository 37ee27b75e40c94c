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
/* Frees the bytes and empties b (it may be reused). */
void buf_free(buf_t *b);

#endif
