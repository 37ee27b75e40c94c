/* crypt.h: the ciphers of Kubernetes' encryption at rest (the providers of
 * an EncryptionConfiguration, k8s.io/apiserver/pkg/storage/value/encrypt),
 * over OpenSSL's libcrypto and libsodium; no Lua.
 *
 * Each function works on the bytes that follow the provider's prefix
 * ("k8s:enc:aescbc:v1:<key>:" ...), laid out as the API server writes them:
 *   aescbc     16-byte IV | AES-CBC ciphertext, PKCS#7 padded, no additional data
 *   aesgcm     12-byte nonce | AES-GCM ciphertext | 16-byte tag, additional data
 *              = the etcd key (the full key, with its /registry prefix)
 *   secretbox  24-byte nonce | NaCl secretbox (16-byte Poly1305 tag, ciphertext)
 * AES keys are 16, 24 or 32 bytes, secretbox keys 32.  Functions return the
 * length written to out (0 or more), or -1 with *why set to a static message. */
#ifndef KSH_CRYPT_H
#define KSH_CRYPT_H
#include <stddef.h>

enum {
  CRYPT_CBC_IV = 16,
  CRYPT_GCM_NONCE = 12,
  CRYPT_GCM_TAG = 16,
  CRYPT_SB_NONCE = 24,
  CRYPT_SB_TAG = 16,
  CRYPT_SB_KEY = 32,
  CRYPT_OVERHEAD = 48, /* the most any *_seal adds to the plaintext's length */
};

/* Decrypt aescbc data (IV first) into out (at least n bytes).  The padding is
 * checked as Go's cbc transformer checks it (1..n bytes, all equal). */
long crypt_cbc_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                    unsigned char *out, const char **why);

/* Encrypt n bytes into out (n + CRYPT_OVERHEAD bytes): IV, then the padded
 * ciphertext.  iv: 16 bytes, or NULL for a random one. */
long crypt_cbc_seal(const unsigned char *key, size_t keylen, const unsigned char *iv,
                    const unsigned char *in, size_t n, unsigned char *out, const char **why);

/* Decrypt and authenticate aesgcm data (nonce first, tag last) with the
 * additional data ad (adlen bytes) into out (at least n bytes). */
long crypt_gcm_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                    const unsigned char *ad, size_t adlen, unsigned char *out, const char **why);

/* Encrypt into out (n + CRYPT_OVERHEAD bytes): nonce, ciphertext, tag.
 * nonce: 12 bytes, or NULL for a random one. */
long crypt_gcm_seal(const unsigned char *key, size_t keylen, const unsigned char *nonce,
                    const unsigned char *in, size_t n, const unsigned char *ad, size_t adlen,
                    unsigned char *out, const char **why);

/* Open secretbox data (nonce first) with a 32-byte key into out (n bytes). */
long crypt_sb_open(const unsigned char *key, size_t keylen, const unsigned char *in, size_t n,
                   unsigned char *out, const char **why);

/* Seal into out (n + CRYPT_OVERHEAD bytes): nonce, then the box.
 * nonce: 24 bytes, or NULL for a random one. */
long crypt_sb_seal(const unsigned char *key, size_t keylen, const unsigned char *nonce,
                   const unsigned char *in, size_t n, unsigned char *out, const char **why);

#endif
