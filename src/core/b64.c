/* b64.c: base64 encode and decode (RFC 4648), table driven; no Lua. */
#include "b64.h"

#include <stdint.h>
#include <string.h>

static const char b64_std_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decode tables: 0..63 a digit, SKIP for '\r' and '\n', PAD for '=', BAD otherwise.
 * Digits have the top two bits clear, so one OR over four entries tells
 * whether a whole group is plain digits. */
enum { SKIP = 0x40, PAD = 0x41, BAD = 0xff };
#define B16 BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD
#define B64_HIGH B16, B16, B16, B16, B16, B16, B16, B16 /* bytes 0x80..0xff */
static const unsigned char b64_std_dec[256] = {
    BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  SKIP, BAD,  BAD,  SKIP, BAD,  BAD,
    B16,
    BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  0x3e, BAD,  BAD,  BAD,  0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, BAD,  BAD,  BAD,  PAD,  BAD,  BAD,
    BAD,  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, BAD,  BAD,  BAD,  BAD,  BAD,
    BAD,  0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, BAD,  BAD,  BAD,  BAD,  BAD,
    B64_HIGH,
};
static const unsigned char b64_url_dec[256] = {
    BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  SKIP, BAD,  BAD,  SKIP, BAD,  BAD,
    B16,
    BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  BAD,  0x3e, BAD,  BAD,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, BAD,  BAD,  BAD,  PAD,  BAD,  BAD,
    BAD,  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, BAD,  BAD,  BAD,  BAD,  0x3f,
    BAD,  0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, BAD,  BAD,  BAD,  BAD,  BAD,
    B64_HIGH,
};

size_t b64_encoded_len(size_t n, int flags) {
  return (flags & B64_NOPAD) ? (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0) : (n + 2) / 3 * 4;
}

/* Two digits per 12 bits of input, for each alphabet: half the lookups. */
static char b64_pairs[2][4096][2];
static int b64_pairs_ready[2];

static const char (*pairs_of(int url))[2] {
  if (!b64_pairs_ready[url]) {
    const char *a = url ? b64_url_alpha : b64_std_alpha;
    for (int v = 0; v < 4096; v++) b64_pairs[url][v][0] = a[v >> 6], b64_pairs[url][v][1] = a[v & 63];
    b64_pairs_ready[url] = 1;
  }
  return (const char (*)[2])b64_pairs[url];
}

size_t b64_encode(const unsigned char *in, size_t n, char *out, int flags) {
  const char *a = (flags & B64_URL) ? b64_url_alpha : b64_std_alpha;
  size_t i = 0, o = 0;
  if (n >= 48) {
    const char(*pair)[2] = pairs_of((flags & B64_URL) != 0);
    for (; n - i >= 3; i += 3) {
      uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
      memcpy(out + o, pair[v >> 12], 2);
      memcpy(out + o + 2, pair[v & 0xfff], 2);
      o += 4;
    }
  }
  for (; n - i >= 3; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o] = a[v >> 18];
    out[o + 1] = a[(v >> 12) & 63];
    out[o + 2] = a[(v >> 6) & 63];
    out[o + 3] = a[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    if (!(flags & B64_NOPAD)) out[o++] = '=', out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = a[v >> 18];
    out[o++] = a[(v >> 12) & 63];
    out[o++] = a[(v >> 6) & 63];
    if (!(flags & B64_NOPAD)) out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

size_t b64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

static ptrdiff_t b64_fail(size_t *bad, size_t at) {
  if (bad) *bad = at;
  return -1;
}

ptrdiff_t b64_decode(const char *in, size_t n, unsigned char *out, int flags, size_t *bad) {
  const unsigned char *t = (flags & B64_URL) ? b64_url_dec : b64_std_dec;
  const unsigned char *s = (const unsigned char *)in;
  size_t i = 0, o = 0, first = 0; /* first: offset of the group's first digit */
  uint32_t acc = 0;
  int k = 0; /* digits in acc */
  for (;;) {
    /* fast path: whole groups of four plain digits */
    while (k == 0 && n - i >= 4) {
      unsigned a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]], d = t[s[i + 3]];
      if ((a | b | c | d) & 0xc0) break;
      uint32_t v = a << 18 | b << 12 | c << 6 | d;
      out[o] = (unsigned char)(v >> 16);
      out[o + 1] = (unsigned char)(v >> 8);
      out[o + 2] = (unsigned char)v;
      o += 3;
      i += 4;
    }
    if (i >= n) break;
    unsigned v = t[s[i]];
    if (v < 64) {
      if (k == 0) first = i;
      acc = acc << 6 | v;
      if (++k == 4) {
        out[o] = (unsigned char)(acc >> 16);
        out[o + 1] = (unsigned char)(acc >> 8);
        out[o + 2] = (unsigned char)acc;
        o += 3;
        acc = 0;
        k = 0;
      }
      i++;
      continue;
    }
    if (v == SKIP) {
      i++;
      continue;
    }
    if (v != PAD || k < 2) return b64_fail(bad, i);
    /* padding: "xx==" or "xxx=", then only line breaks */
    int need = 4 - k;
    while (i < n && need > 0) {
      if (s[i] == '=') need--;
      else if (t[s[i]] != SKIP) return b64_fail(bad, i);
      i++;
    }
    if (need > 0) return b64_fail(bad, n);
    for (; i < n; i++)
      if (t[s[i]] != SKIP) return b64_fail(bad, i);
    break;
  }
  if (k == 1) return b64_fail(bad, first);
  if (k == 2) {
    out[o++] = (unsigned char)(acc >> 4);
  } else if (k == 3) {
    out[o] = (unsigned char)(acc >> 10);
    out[o + 1] = (unsigned char)(acc >> 2);
    o += 2;
  }
  return (ptrdiff_t)o;
}
