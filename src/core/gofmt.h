/* gofmt.h: what Go's encoders decide (encoding/json, go-yaml), Lua-free, for
 * the json and yaml modules and the unit tests. */
#ifndef KSH_GOFMT_H
#define KSH_GOFMT_H
#include <stddef.h>
#include <stdint.h>

/* Longest text gofmt_json_float writes, with its NUL: "-2.2250738585072014e-308". */
#define GOFMT_FLOAT_MAX 32

/* Writes v in decimal into out (at least 21 bytes, NUL-terminated); returns the length. */
size_t gofmt_int(char *out, int64_t v);

/* Writes x into out (GOFMT_FLOAT_MAX bytes, NUL-terminated) exactly as Go's
 * encoding/json writes a float64: the shortest digits that read back as x,
 * plain notation for 1e-6 <= |x| < 1e21, else 1.5e-7 / 1e+21; 3.0 -> "3",
 * -0.0 -> "-0".  Returns the length, or 0 for NaN and infinities. */
size_t gofmt_json_float(double x, char *out);

/* Finds the fewest decimal digits that read back as x (finite, non-zero):
 * x = 0.D * 10^*exp10 with D the returned digits (no leading or trailing
 * zeros) written into digits (at least 18 bytes, NUL-terminated).  Returns
 * the number of digits. */
int gofmt_shortest(double x, char *digits, int *exp10);

/* Decodes one UTF-8 sequence at s (n bytes available) like Go's
 * utf8.DecodeRune: returns its length (1-4) and stores the code point in
 * *cp, or returns 0 for an invalid or truncated sequence (overlong forms,
 * surrogates, > U+10FFFF). */
int gofmt_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
