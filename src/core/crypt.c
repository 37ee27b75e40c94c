/* crypt.c: AES-CBC, AES-GCM (libcrypto) and secretbox (libsodium) as
 * Kubernetes' encryption-at-rest providers use them; see crypt.h. */
#include "crypt.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <string.h>

static const EVP_CIPHER *crypt_aes(const char *mode, size_t keylen) {
  if (mode[0] == 'c') {
    switch (keylen) {
    case 16: return EVP_aes_128_cbc();
    case 24: return EVP_aes_192_cbc();
    case 32: return EVP_aes_256_cbc();
    }
  } else {
    switch (keylen) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    }
  }
  return NULL;
}

static long crypt_fail(const char **why, const char *msg) {
  if (why) *why = msg;
  return -1;
}

/* Run the cipher over n bytes (CBC without OpenSSL's padding: the callers
 * pad and unpad as Go does). */
static long crypt_cbc_run(const unsigned char *key, size_t keylen, const unsigned char *iv,
                          const unsigned char *in, size_t n, unsigned char *out, int enc,
                          const char **why) {
  const EVP_CIPHER *c = crypt_aes("cbc", keylen);
  if (!c) return crypt_fail(why, "the key is not 16, 24 or 32 bytes");
  if (n > INT_MAX) return crypt_fail(why, "the value is too large");
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0, ok = ctx && EVP_CipherInit_ex(ctx, c, NULL, key, iv, enc) &&
                             EVP_CIPHER_CTX_set_padding(ctx, 0) &&
                             EVP_CipherUpdate(ctx, out, &len, in, (int)n) &&
                             EVP_CipherFinal_ex(ctx, out + len, &fin);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return crypt_fail(why, "the cipher failed");
  return (long)len + fin;
}

long crypt_cbc_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                    unsigned char *out, const char **why) {
  if (n < CRYPT_CBC_IV) return crypt_fail(why, "the stored data was shorter than the required size");
  n -= CRYPT_CBC_IV;
  if (n % 16 != 0) return crypt_fail(why, "the stored data is not a multiple of the block size");
  if (n == 0) return crypt_fail(why, "invalid PKCS7 data (empty or not padded)");
  long len = crypt_cbc_run(key, keylen, in, in + CRYPT_CBC_IV, n, out, 0, why);
  if (len < 0) return len;
  unsigned char c = out[len - 1];
  if (c == 0 || c > len) return crypt_fail(why, "invalid PKCS7 data (empty or not padded)");
  for (long i = len - c; i < len; i++)
    if (out[i] != c) return crypt_fail(why, "invalid padding on input");
  return len - c;
}

long crypt_cbc_seal(const unsigned char *key, size_t keylen, const unsigned char *iv,
                    const unsigned char *in, size_t n, unsigned char *out, const char **why) {
  if (!crypt_aes("cbc", keylen)) return crypt_fail(why, "the key is not 16, 24 or 32 bytes");
  size_t pad = 16 - n % 16;
  if (iv) memcpy(out, iv, CRYPT_CBC_IV);
  else if (RAND_bytes(out, CRYPT_CBC_IV) != 1) return crypt_fail(why, "no random bytes");
  unsigned char *body = out + CRYPT_CBC_IV;
  memmove(body, in, n);
  memset(body + n, (int)pad, pad);
  long len = crypt_cbc_run(key, keylen, out, body, n + pad, body, 1, why);
  return len < 0 ? len : len + CRYPT_CBC_IV;
}

long crypt_gcm_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                    const unsigned char *ad, size_t adlen, unsigned char *out, const char **why) {
  const EVP_CIPHER *c = crypt_aes("gcm", keylen);
  if (!c) return crypt_fail(why, "the key is not 16, 24 or 32 bytes");
  if (n < CRYPT_GCM_NONCE) return crypt_fail(why, "the stored data was shorter than the required size");
  if (n < CRYPT_GCM_NONCE + CRYPT_GCM_TAG) return crypt_fail(why, "message authentication failed");
  if (n > INT_MAX || adlen > INT_MAX) return crypt_fail(why, "the value is too large");
  const unsigned char *body = in + CRYPT_GCM_NONCE;
  int blen = (int)(n - CRYPT_GCM_NONCE - CRYPT_GCM_TAG), len = 0, fin = 0;
  unsigned char tag[CRYPT_GCM_TAG];
  memcpy(tag, body + blen, CRYPT_GCM_TAG);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int ok = ctx && EVP_DecryptInit_ex(ctx, c, NULL, NULL, NULL) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPT_GCM_NONCE, NULL) &&
           EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) &&
           (adlen == 0 || EVP_DecryptUpdate(ctx, NULL, &len, ad, (int)adlen)) &&
           EVP_DecryptUpdate(ctx, out, &len, body, blen) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPT_GCM_TAG, tag);
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    return crypt_fail(why, "the cipher failed");
  }
  ok = EVP_DecryptFinal_ex(ctx, out + len, &fin);
  EVP_CIPHER_CTX_free(ctx);
  if (ok != 1) {
    memset(out, 0, (size_t)blen);
    return crypt_fail(why, "message authentication failed");
  }
  return (long)len + fin;
}

long crypt_gcm_seal(const unsigned char *key, size_t keylen, const unsigned char *nonce,
                    const unsigned char *in, size_t n, const unsigned char *ad, size_t adlen,
                    unsigned char *out, const char **why) {
  const EVP_CIPHER *c = crypt_aes("gcm", keylen);
  if (!c) return crypt_fail(why, "the key is not 16, 24 or 32 bytes");
  if (n > INT_MAX - 64 || adlen > INT_MAX) return crypt_fail(why, "the value is too large");
  if (nonce) memcpy(out, nonce, CRYPT_GCM_NONCE);
  else if (RAND_bytes(out, CRYPT_GCM_NONCE) != 1) return crypt_fail(why, "no random bytes");
  unsigned char *body = out + CRYPT_GCM_NONCE;
  int len = 0, fin = 0;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int ok = ctx && EVP_EncryptInit_ex(ctx, c, NULL, NULL, NULL) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPT_GCM_NONCE, NULL) &&
           EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) &&
           (adlen == 0 || EVP_EncryptUpdate(ctx, NULL, &len, ad, (int)adlen)) &&
           EVP_EncryptUpdate(ctx, body, &len, in, (int)n) &&
           EVP_EncryptFinal_ex(ctx, body + len, &fin) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPT_GCM_TAG, body + len + fin);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return crypt_fail(why, "the cipher failed");
  return (long)CRYPT_GCM_NONCE + len + fin + CRYPT_GCM_TAG;
}

static int crypt_sodium(const char **why) {
  if (sodium_init() < 0) {
    crypt_fail(why, "libsodium did not initialise");
    return 0;
  }
  return 1;
}

long crypt_sb_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                   unsigned char *out, const char **why) {
  if (keylen != CRYPT_SB_KEY) return crypt_fail(why, "the key is not 32 bytes");
  if (n < CRYPT_SB_NONCE + CRYPT_SB_TAG) return crypt_fail(why, "the stored data was shorter than the required size");
  if (!crypt_sodium(why)) return -1;
  size_t blen = n - CRYPT_SB_NONCE;
  if (crypto_secretbox_open_easy(out, in + CRYPT_SB_NONCE, blen, in, key) != 0)
    return crypt_fail(why, "message authentication failed");
  return (long)(blen - CRYPT_SB_TAG);
}

long crypt_sb_seal(const unsigned char *key, size_t keylen, const unsigned char *nonce,
                   const unsigned char *in, size_t n, unsigned char *out, const char **why) {
  if (keylen != CRYPT_SB_KEY) return crypt_fail(why, "the key is not 32 bytes");
  if (!crypt_sodium(why)) return -1;
  if (nonce) memcpy(out, nonce, CRYPT_SB_NONCE);
  else randombytes_buf(out, CRYPT_SB_NONCE);
  if (crypto_secretbox_easy(out + CRYPT_SB_NONCE, in, n, out, key) != 0)
    return crypt_fail(why, "the cipher failed");
  return (long)(CRYPT_SB_NONCE + CRYPT_SB_TAG + n);
}
