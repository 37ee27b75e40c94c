/* json.h: the Lua-free helpers of the json module (src/json.c), exposed for
 * the unit tests: Go's float formatting and Go's UTF-8 decoding rule. */
#ifndef KSH_JSON_H
#define KSH_JSON_H
#include <stddef.h>
#include <stdint.h>

/* Longest text json_format_double writes, with its NUL: "-2.2250738585072014e-308". */
#define JSON_DOUBLE_MAX 32

/* json_format_double writes x into out (JSON_DOUBLE_MAX bytes, NUL-terminated)
 * exactly as Go's encoding/json writes a float64: the shortest digits that
 * read back as x, plain notation for 1e-6 <= |x| < 1e21, else 1.5e-7 / 1e+21;
 * 3.0 -> "3", -0.0 -> "-0". Returns the length, or 0 for NaN and infinities. */
size_t json_format_double(double x, char *out);

/* json_shortest finds the fewest decimal digits that read back as x (finite,
 * non-zero): x = 0.D * 10^*exp10 with D the returned digits (no leading or
 * trailing zeros) written into digits (at least 18 bytes, NUL-terminated).
 * Returns the number of digits. */
int json_shortest(double x, char *digits, int *exp10);

/* json_utf8_len decodes one UTF-8 sequence at s (n bytes available) like Go's
 * utf8.DecodeRune: returns its length (1-4) and stores the code point in *cp,
 * or returns 0 for an invalid or truncated sequence (overlong forms,
 * surrogates, > U+10FFFF). */
int json_utf8_len(const unsigned char *s, size_t n, uint32_t *cp);

#endif
