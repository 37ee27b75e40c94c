/* b64.h: base64 (RFC 4648), standard and URL-safe alphabets; no Lua. */
#ifndef KSH_B64_H
#define KSH_B64_H
#include <stddef.h>

enum {
  B64_URL = 1,   /* "-_" instead of "+/" (RFC 4648 section 5) */
  B64_NOPAD = 2, /* encode without trailing '=' (decoding accepts both) */
};

/* Characters b64_encode writes for n input bytes (not counting the NUL). */
size_t b64_encoded_len(size_t n, int flags);

/* Encode n bytes of in into out, which holds b64_encoded_len(n, flags) + 1
 * bytes; writes a NUL after the text and returns its length. */
size_t b64_encode(const unsigned char *in, size_t n, char *out, int flags);

/* Bytes that b64_decode may write for n input characters (an upper bound). */
size_t b64_decoded_max(size_t n);

/* Decode n characters of in into out (b64_decoded_max(n) bytes; out may be
 * the same memory as in). Padding is optional; '\r' and '\n' are skipped
 * anywhere; anything else outside the alphabet (flags & B64_URL picks it) is
 * an error. Returns the decoded length, or -1 with *bad (if not NULL) set to
 * the offset of the first offending character (a lone last digit, which
 * cannot make a byte, counts), or to n when the padding is cut short. */
ptrdiff_t b64_decode(const char *in, size_t n, unsigned char *out, int flags, size_t *bad);

#endif
