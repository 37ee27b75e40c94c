/* libFuzzer target for src/core/duration.c: any bytes parse or fail with a
 * "time: " message, never read past n, and agree with themselves: a
 * duration that parses also parses with a "+" in front to the same value
 * and with a "-" in front to its negation.  Built and run by tests/fuzz/run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *in = malloc(size ? size : 1); /* exact size: ASan catches a read past n */
  if (!in) abort();
  memcpy(in, data, size);
  int64_t ns = 0;
  char err[DURATION_ERR_MAX];
  int rc = duration_parse(in, size, &ns, err, sizeof err);
  if (rc != 0 && strncmp(err, "time: ", 6) != 0) abort();
  if (rc == 0 && size > 0 && in[0] != '+' && in[0] != '-') {
    char *signed_in = malloc(size + 1);
    if (!signed_in) abort();
    memcpy(signed_in + 1, in, size);
    int64_t p = 0, m = 0;
    signed_in[0] = '+';
    if (duration_parse(signed_in, size + 1, &p, err, sizeof err) != 0 || p != ns) abort();
    signed_in[0] = '-';
    if (duration_parse(signed_in, size + 1, &m, err, sizeof err) != 0 || m != -ns) abort();
    free(signed_in);
  }
  free(in);
  return 0;
}
