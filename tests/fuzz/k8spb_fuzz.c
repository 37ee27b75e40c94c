/* libFuzzer target: the Kubernetes protobuf decoder (k8spb.c) never crashes
 * or reads out of bounds on any bytes: as an enveloped value, and as the raw
 * message of a type the first two bytes pick (so every schema path is
 * reached without a valid envelope).  A success is balanced JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8spb.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void balanced(const pb_buf *b) {
  long depth = 0;
  int in_str = 0;
  for (size_t i = 0; i < b->len; i++) {
    char c = b->p[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') in_str = 1;
    else if (c == '{' || c == '[') depth++;
    else if (c == '}' || c == ']') depth--;
    if (depth < 0) abort();
  }
  if (depth || in_str) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  pb_buf out = {0};
  k8spb_err err;
  if (!k8spb_json((const char *)d, n, "7", &out, &err)) balanced(&out);
  pb_buf_free(&out);
  if (n >= 2) {
    uint32_t t = (uint32_t)(d[0] | d[1] << 8) % k8spb_ntypes();
    if (!k8spb_msg_json(t, (const char *)d + 2, n - 2, (const char *)d, 1, "v1", "X", "7", &out, &err)) balanced(&out);
    pb_buf_free(&out);
  }
  return 0;
}
