/* libFuzzer target for src/core/crypt.c: any stored bytes given to the
 * aescbc, aesgcm and secretbox openers (with any key size) either open or
 * fail with a message, never write past the n bytes the caller gives them,
 * and whatever is sealed opens again to the same bytes.  The first input byte
 * picks the cipher and the key size.  Built and run by tests/fuzz/run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  static const size_t klens[] = {16, 24, 32, 0, 31, 33};
  unsigned sel = data[0];
  size_t klen = klens[(sel >> 2) % 6];
  unsigned char key[33];
  memset(key, 0x5a, sizeof key);
  size_t n = size - 1;
  unsigned char *in = malloc(n ? n : 1), *out = malloc(n ? n : 1);
  if (!in || !out) abort();
  memcpy(in, data + 1, n);
  const char *why = NULL;
  const unsigned char ad[] = "/registry/secrets/ns/name";
  long len = (sel & 3) == 0   ? crypt_cbc_open(key, klen, in, n, out, &why)
             : (sel & 3) == 1 ? crypt_gcm_open(key, klen, in, n, ad, sizeof ad - 1, out, &why)
                              : crypt_sb_open(key, klen, in, n, out, &why);
  if (len < 0 ? (why == NULL || why[0] == 0) : (size_t)len > n) abort();
  /* seal the input and open it again */
  unsigned char *box = malloc(n + CRYPT_OVERHEAD), *back = malloc(n + CRYPT_OVERHEAD);
  if (!box || !back) abort();
  long s = (sel & 3) == 0   ? crypt_cbc_seal(key, klen, NULL, in, n, box, &why)
           : (sel & 3) == 1 ? crypt_gcm_seal(key, klen, NULL, in, n, ad, sizeof ad - 1, box, &why)
                            : crypt_sb_seal(key, klen, NULL, in, n, box, &why);
  if (s >= 0) {
    if ((size_t)s > n + CRYPT_OVERHEAD) abort();
    long o = (sel & 3) == 0   ? crypt_cbc_open(key, klen, box, (size_t)s, back, &why)
             : (sel & 3) == 1 ? crypt_gcm_open(key, klen, box, (size_t)s, ad, sizeof ad - 1, back, &why)
                              : crypt_sb_open(key, klen, box, (size_t)s, back, &why);
    if (o != (long)n || memcmp(back, in, n) != 0) abort();
  }
  free(box), free(back), free(in), free(out);
  return 0;
}
