/* tests/unit/b64.c: base64 core (src/b64.c): RFC 4648 vectors, round trips,
 * the URL alphabet, padding rules and rejected input. */
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "tap.h"

/* decode NUL-terminated s; returns the length (or -1) and the bad offset */
static ptrdiff_t dec(const char *s, int flags, unsigned char *out, size_t *bad) {
  *bad = (size_t)-7;
  return b64_decode(s, strlen(s), out, flags, bad);
}

static int dec_is(const char *s, int flags, const char *want) {
  unsigned char out[256];
  size_t bad;
  ptrdiff_t n = dec(s, flags, out, &bad);
  return n == (ptrdiff_t)strlen(want) && memcmp(out, want, (size_t)n) == 0;
}

static int dec_bad(const char *s, int flags, size_t want_bad) {
  unsigned char out[256];
  size_t bad;
  return dec(s, flags, out, &bad) == -1 && bad == want_bad;
}

int main(void) {
  /* RFC 4648 section 10 */
  static const char *const vec[][2] = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    char out[32];
    size_t n = b64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]), out, 0);
    ok(n == strlen(vec[i][1]) && strcmp(out, vec[i][1]) == 0, "encode \"%s\" -> \"%s\" (got \"%s\")",
       vec[i][0], vec[i][1], out);
    ok(b64_encoded_len(strlen(vec[i][0]), 0) == strlen(vec[i][1]), "encoded_len \"%s\"", vec[i][0]);
    ok(dec_is(vec[i][1], 0, vec[i][0]), "decode \"%s\"", vec[i][1]);
    /* without padding */
    char raw[32];
    size_t rn = b64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]), raw, B64_NOPAD);
    ok(rn == b64_encoded_len(strlen(vec[i][0]), B64_NOPAD) && strchr(raw, '=') == NULL &&
           strncmp(raw, vec[i][1], rn) == 0,
       "encode unpadded \"%s\" -> \"%s\"", vec[i][0], raw);
    ok(dec_is(raw, 0, vec[i][0]), "decode unpadded \"%s\"", raw);
  }

  /* all 256 byte values, NUL included, both alphabets */
  unsigned char all[256], back[256 + 3];
  char enc[400];
  for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
  for (int flags = 0; flags < 4; flags++) {
    size_t n = b64_encode(all, 256, enc, flags);
    size_t bad;
    ptrdiff_t m = b64_decode(enc, n, back, flags & B64_URL, &bad);
    ok(m == 256 && memcmp(all, back, 256) == 0, "256 byte values round trip (flags %d)", flags);
    int std_chars = strchr(enc, '+') || strchr(enc, '/');
    int url_chars = strchr(enc, '-') || strchr(enc, '_');
    ok((flags & B64_URL) ? (url_chars && !std_chars) : (std_chars && !url_chars),
       "alphabet matches flags %d", flags);
  }
  {
    size_t n = b64_encode(all, 256, enc, 0), bad;
    ok(b64_decode(enc, n, back, B64_URL, &bad) == -1 && enc[bad] == '+',
       "the URL alphabet rejects '+' at offset %zu", bad);
    n = b64_encode(all, 256, enc, B64_URL);
    ok(b64_decode(enc, n, back, 0, &bad) == -1 && (enc[bad] == '-' || enc[bad] == '_'),
       "the standard alphabet rejects '-' / '_'");
  }

  /* every length 0..64, every start value: encode, check length, decode */
  int len_ok = 1;
  for (size_t len = 0; len <= 64; len++) {
    for (int start = 0; start < 256; start += 37) {
      unsigned char in[64], outb[64 + 3];
      char e[100];
      for (size_t j = 0; j < len; j++) in[j] = (unsigned char)(start + j * 91);
      for (int flags = 0; flags < 4; flags++) {
        size_t n = b64_encode(in, len, e, flags), bad;
        if (n != b64_encoded_len(len, flags) || e[n] != '\0') len_ok = 0;
        ptrdiff_t m = b64_decode(e, n, outb, flags & B64_URL, &bad);
        if (m != (ptrdiff_t)len || memcmp(in, outb, len) != 0) len_ok = 0;
        if ((size_t)m > b64_decoded_max(n)) len_ok = 0;
      }
    }
  }
  ok(len_ok, "lengths 0..64 round trip in all four modes");

  /* in-place decoding */
  {
    char buf[] = "aGVsbG8sIHdvcmxk";
    ptrdiff_t m = b64_decode(buf, strlen(buf), (unsigned char *)buf, 0, NULL);
    ok(m == 12 && memcmp(buf, "hello, world", 12) == 0, "decodes in place");
  }

  /* line breaks are skipped, like base64 -d */
  ok(dec_is("Zm9v\nYmFy\n", 0, "foobar"), "newlines between groups");
  ok(dec_is("Zm\r\n9vYm\nFy", 0, "foobar"), "CR LF inside groups");
  ok(dec_is("Zg=\n=\n", 0, "f"), "newline inside the padding");
  ok(dec_is("\n", 0, ""), "only a newline decodes to empty");
  ok(dec_is("Zh==", 0, "f"), "non-zero trailing bits are accepted");
  ok(dec_is("PDw_Pz8-", B64_URL, "<<?\?\?>"), "URL alphabet decodes");

  /* rejected input, with the offset of the first offending character */
  ok(dec_bad("Zm9v YmFy", 0, 4), "space rejected at offset 4");
  ok(dec_bad("Zm9v\tYmFy", 0, 4), "tab rejected");
  ok(dec_bad("Zm9v*", 0, 4), "'*' rejected");
  ok(dec_bad("Zm9vY", 0, 4), "a lone last digit is rejected at its offset");
  ok(dec_bad("Z===", 0, 1), "padding after one digit");
  ok(dec_bad("====", 0, 0), "padding only");
  ok(dec_bad("=", 0, 0), "a lone '='");
  ok(dec_bad("Zg=", 0, 3), "padding cut short: offset is the length");
  ok(dec_bad("Zg==Zg==", 0, 4), "data after padding (concatenation) rejected");
  ok(dec_bad("Zm8==", 0, 4), "too much padding");
  ok(dec_bad("Zm9v\x80", 0, 4), "high byte rejected");
  {
    const char nul[] = "Zm\0v";
    size_t bad;
    unsigned char out[8];
    ok(b64_decode(nul, 4, out, 0, &bad) == -1 && bad == 2, "NUL in the input is rejected");
  }
  {
    unsigned char out[8];
    ok(b64_decode("Zm9v!", 5, out, 0, NULL) == -1, "bad may be NULL");
  }

  /* a long input takes the fast path and the slow path */
  {
    size_t n = 100000;
    unsigned char *in = malloc(n), *outb = malloc(n + 3);
    char *e = malloc(b64_encoded_len(n, 0) + 1);
    for (size_t j = 0; j < n; j++) in[j] = (unsigned char)(j * 2654435761u >> 13);
    size_t en = b64_encode(in, n, e, 0), bad;
    ptrdiff_t m = b64_decode(e, en, outb, 0, &bad);
    ok(m == (ptrdiff_t)n && memcmp(in, outb, n) == 0, "100000 bytes round trip");
    e[en / 2] = '.';
    ok(b64_decode(e, en, outb, 0, &bad) == -1 && bad == en / 2, "a bad byte in the middle is found");
    free(in);
    free(outb);
    free(e);
  }
  { /* long inputs take the two-digits-per-lookup path: every byte value, both alphabets */
    static const char want[] = "//79/Pv6+fj39vX08/Lx8O/u7ezr6uno5+bl5OPi4eDf3t3c29rZ2NfW1dTT0tHQz87NzMvKycjHxsXEw8LBwL++vby7urm4t7a1tLOysbCvrq2sq6qpqKempaSjoqGgn56dnJuamZiXlpWUk5KRkI+OjYyLiomIh4aFhIOCgYB/fn18e3p5eHd2dXRzcnFwb25tbGtqaWhnZmVkY2JhYF9eXVxbWllYV1ZVVFNSUVBPTk1MS0pJSEdGRURDQkFAPz49PDs6OTg3NjU0MzIxMC8uLSwrKikoJyYlJCMiISAfHh0cGxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAHRhaWwh";
    static const char want_url[] = "__79_Pv6-fj39vX08_Lx8O_u7ezr6uno5-bl5OPi4eDf3t3c29rZ2NfW1dTT0tHQz87NzMvKycjHxsXEw8LBwL--vby7urm4t7a1tLOysbCvrq2sq6qpqKempaSjoqGgn56dnJuamZiXlpWUk5KRkI-OjYyLiomIh4aFhIOCgYB_fn18e3p5eHd2dXRzcnFwb25tbGtqaWhnZmVkY2JhYF9eXVxbWllYV1ZVVFNSUVBPTk1MS0pJSEdGRURDQkFAPz49PDs6OTg3NjU0MzIxMC8uLSwrKikoJyYlJCMiISAfHh0cGxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAHRhaWwh";
    unsigned char in[261];
    for (int i = 0; i < 256; i++) in[i] = (unsigned char)(255 - i);
    memcpy(in + 256, "tail!", 5);
    char out[400];
    size_t n = b64_encode(in, sizeof in, out, 0);
    ok(n == strlen(want) && strcmp(out, want) == 0, "encode 261 bytes (every byte value)");
    n = b64_encode(in, sizeof in, out, B64_URL);
    ok(n == strlen(want_url) && strcmp(out, want_url) == 0, "encode 261 bytes, URL alphabet");
    unsigned char round[400];
    size_t bad;
    ok(b64_decode(want, strlen(want), round, 0, &bad) == (ptrdiff_t)sizeof in && memcmp(round, in, sizeof in) == 0,
       "decode 261 bytes back");
  }
  return done_testing();
}
