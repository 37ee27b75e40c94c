/* tests/unit/crypt.c: the encryption-at-rest ciphers (src/core/crypt.c).
 * aescbc against `openssl enc` run now (random key, IV and text, both ways);
 * aesgcm and secretbox against vectors made with Go's crypto/cipher and
 * golang.org/x/crypto/nacl/secretbox (what the API server runs); round trips
 * of every key size; wrong keys, tampered bytes and short data refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt.h"
#include "tap.h"

static void hex(const unsigned char *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
  out[2 * n] = 0;
}

static size_t unhex(const char *s, unsigned char *out) {
  size_t n = strlen(s) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(s + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  return n;
}

static void rnd(unsigned char *b, size_t n) {
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(b, 1, n, f) != n) abort();
  fclose(f);
}

/* openssl enc -aes-N-cbc over a file: encrypt (dir "-e") or decrypt ("-d") */
static long openssl_cbc(const char *dir, const unsigned char *key, size_t klen,
                        const unsigned char *iv, const unsigned char *in, size_t n,
                        unsigned char *out, size_t cap) {
  char tmpl[] = "/tmp/kscript-crypt.XXXXXX", kx[80], ivx[40], cmd[400];
  int fd = mkstemp(tmpl);
  if (fd < 0 || write(fd, in, n) != (ssize_t)n) return -1;
  close(fd);
  hex(key, klen, kx);
  hex(iv, 16, ivx);
  snprintf(cmd, sizeof cmd, "openssl enc %s -aes-%d-cbc -K %s -iv %s -in %s", dir, (int)klen * 8,
           kx, ivx, tmpl);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t got = fread(out, 1, cap, p);
  int st = pclose(p);
  unlink(tmpl);
  return st == 0 ? (long)got : -1;
}

int main(void) {
  unsigned char key[32], iv[16], text[300], sealed[400], opened[400], peer[400];
  const char *why = NULL;

  /* aescbc: kscript's seal is openssl's encryption, openssl's is opened */
  static const size_t klens[] = {16, 24, 32};
  static const size_t tlens[] = {0, 1, 15, 16, 17, 300};
  for (size_t k = 0; k < 3; k++) {
    for (size_t t = 0; t < 6; t++) {
      size_t n = tlens[t], kl = klens[k];
      rnd(key, kl), rnd(iv, 16), rnd(text, n);
      long s = crypt_cbc_seal(key, kl, iv, text, n, sealed, &why);
      long p = openssl_cbc("-e", key, kl, iv, text, n, peer, sizeof peer);
      ok(s == p + 16 && p >= 0 && memcmp(sealed, iv, 16) == 0 && memcmp(sealed + 16, peer, (size_t)p) == 0,
         "aescbc-%d seal of %zu bytes = openssl enc -e (%ld bytes)", (int)kl * 8, n, s);
      memcpy(opened, iv, 16);
      memcpy(opened + 16, peer, (size_t)(p > 0 ? p : 0));
      long o = crypt_cbc_open(key, kl, opened, (size_t)p + 16, sealed, &why);
      ok(o == (long)n && memcmp(sealed, text, n) == 0, "aescbc-%d opens openssl's ciphertext of %zu bytes",
         (int)kl * 8, n);
      long d = openssl_cbc("-d", key, kl, iv, opened + 16, (size_t)p, peer, sizeof peer);
      ok(d == (long)n && memcmp(peer, text, n) == 0, "openssl enc -d opens kscript's (%zu bytes)", n);
    }
  }
  /* a wrong key: the padding check fails (or, 1 time in ~256, passes with garbage) */
  rnd(key, 32), rnd(iv, 16);
  memcpy(text, "k8s\0rest of a value", 19);
  long s = crypt_cbc_seal(key, 32, iv, text, 19, sealed, &why);
  int refused = 0, garbage = 0;
  for (int i = 0; i < 64; i++) {
    unsigned char other[32];
    rnd(other, 32);
    long o = crypt_cbc_open(other, 32, sealed, (size_t)s, opened, &why);
    if (o < 0) refused++;
    else if (o != 19 || memcmp(opened, text, 19) != 0) garbage++;
  }
  ok(refused + garbage == 64 && refused >= 50, "aescbc: 64 wrong keys never give the text (%d refused)", refused);
  ok(crypt_cbc_open(key, 32, sealed, 15, opened, &why) < 0 && strstr(why, "shorter"), "aescbc: short data: %s", why);
  ok(crypt_cbc_open(key, 32, sealed, 17, opened, &why) < 0 && strstr(why, "block size"), "aescbc: %s", why);
  ok(crypt_cbc_open(key, 20, sealed, (size_t)s, opened, &why) < 0 && strstr(why, "16, 24 or 32"), "aescbc: %s", why);

  /* aesgcm: Go's AEAD.Seal of the same text, nonce and additional data */
  const unsigned char *gokey = (const unsigned char *)"0123456789abcdef0123456789abcdef";
  const unsigned char *ad = (const unsigned char *)"/registry/secrets/default/s1";
  size_t adlen = strlen((const char *)ad);
  static const unsigned char pt[] = "k8s\0\n\x0c\n\x02v1\x12\x06Secret";
  size_t ptlen = sizeof pt - 1;
  unsigned char want[200];
  memcpy(want, "nonce-012345", 12);
  size_t wn = 12 + unhex("1069f65eccd305894acbde2dd8cde7655562258884e3b7d45196c0bdb1627f80fdfc", want + 12);
  s = crypt_gcm_seal(gokey, 32, (const unsigned char *)"nonce-012345", pt, ptlen, ad, adlen, sealed, &why);
  ok(s == (long)wn && memcmp(sealed, want, wn) == 0, "aesgcm seal = Go's crypto/cipher (%ld bytes)", s);
  long o = crypt_gcm_open(gokey, 32, want, wn, ad, adlen, opened, &why);
  ok(o == (long)ptlen && memcmp(opened, pt, ptlen) == 0, "aesgcm opens Go's ciphertext");
  ok(crypt_gcm_open(gokey, 32, want, wn, ad, adlen - 1, opened, &why) < 0 && strstr(why, "authentication"),
     "aesgcm: other additional data (another etcd key): %s", why);
  want[20] ^= 1;
  ok(crypt_gcm_open(gokey, 32, want, wn, ad, adlen, opened, &why) < 0, "aesgcm: a flipped bit: %s", why);
  want[20] ^= 1;
  ok(crypt_gcm_open((const unsigned char *)"0123456789abcdef0123456789abcdeX", 32, want, wn, ad, adlen, opened, &why) < 0,
     "aesgcm: a wrong key: %s", why);
  ok(crypt_gcm_open(gokey, 32, want, 11, ad, adlen, opened, &why) < 0 && strstr(why, "shorter"), "aesgcm: %s", why);
  ok(crypt_gcm_open(gokey, 32, want, 27, ad, adlen, opened, &why) < 0, "aesgcm: nonce and a partial tag: %s", why);
  for (size_t k = 0; k < 3; k++) {
    rnd(key, klens[k]), rnd(text, 100);
    s = crypt_gcm_seal(key, klens[k], NULL, text, 100, NULL, 0, sealed, &why);
    o = crypt_gcm_open(key, klens[k], sealed, (size_t)s, NULL, 0, opened, &why);
    ok(s == 128 && o == 100 && memcmp(opened, text, 100) == 0, "aesgcm-%d round trip, random nonce", (int)klens[k] * 8);
  }

  /* secretbox: golang.org/x/crypto/nacl/secretbox.Seal */
  memcpy(want, "secretbox-nonce-24-bytes", 24);
  wn = 24 + unhex("87761a44707f5651853f98cb21dcee5168008cb905e2beaecb3321d6d7ddda0ce320", want + 24);
  s = crypt_sb_seal(gokey, 32, (const unsigned char *)"secretbox-nonce-24-bytes", pt, ptlen, sealed, &why);
  ok(s == (long)wn && memcmp(sealed, want, wn) == 0, "secretbox seal = Go's nacl/secretbox (%ld bytes)", s);
  o = crypt_sb_open(gokey, 32, want, wn, opened, &why);
  ok(o == (long)ptlen && memcmp(opened, pt, ptlen) == 0, "secretbox opens Go's box");
  want[30] ^= 0x80;
  ok(crypt_sb_open(gokey, 32, want, wn, opened, &why) < 0 && strstr(why, "authentication"), "secretbox: a flipped bit: %s", why);
  want[30] ^= 0x80;
  ok(crypt_sb_open(gokey, 16, want, wn, opened, &why) < 0 && strstr(why, "32 bytes"), "secretbox: %s", why);
  ok(crypt_sb_open(gokey, 32, want, 39, opened, &why) < 0 && strstr(why, "shorter"), "secretbox: %s", why);
  rnd(key, 32), rnd(text, 0 + 77);
  s = crypt_sb_seal(key, 32, NULL, text, 77, sealed, &why);
  o = crypt_sb_open(key, 32, sealed, (size_t)s, opened, &why);
  ok(s == 117 && o == 77 && memcmp(opened, text, 77) == 0, "secretbox round trip, random nonce");
  return done_testing();
}
