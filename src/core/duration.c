/* duration.c: Go's time.ParseDuration in C, for --timeout and
 * ksh.sys.parse_duration.  See duration.h. */
#include "duration.h"

#include <stdio.h>
#include <string.h>

#define MAXD ((uint64_t)1 << 63)

static int fail(char *err, size_t errlen, const char *what, const char *s, size_t n) {
  int shown = n > 64 ? 64 : (int)n;
  snprintf(err, errlen, "time: %s \"%.*s%s\"", what, shown, s, n > 64 ? "..." : "");
  return -1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int duration_parse(const char *s0, size_t n0, int64_t *ns, char *err, size_t errlen) {
  static const struct {
    const char *name;
    uint64_t ns;
  } units[] = {{"ns", 1},          {"us", 1000},        {"\xc2\xb5s", 1000} /* U+00B5 */,
               {"\xce\xbcs", 1000} /* U+03BC */,       {"ms", 1000000},     {"s", 1000000000ULL},
               {"m", 60000000000ULL}, {"h", 3600000000000ULL}};
  const char *s = s0;
  size_t n = n0;
  uint64_t d = 0;
  int neg = 0;
  if (n > 0 && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s++, n--;
  }
  if (n == 1 && s[0] == '0') {
    *ns = 0;
    return 0;
  }
  if (n == 0) return fail(err, errlen, "invalid duration", s0, n0);
  while (n > 0) {
    uint64_t v = 0, f = 0;
    double scale = 1;
    if (!(s[0] == '.' || is_digit(s[0]))) return fail(err, errlen, "invalid duration", s0, n0);
    size_t i = 0;
    for (; i < n && is_digit(s[i]); i++) { /* leadingInt */
      if (v > MAXD / 10) return fail(err, errlen, "invalid duration", s0, n0);
      v = v * 10 + (uint64_t)(s[i] - '0');
      if (v > MAXD) return fail(err, errlen, "invalid duration", s0, n0);
    }
    int pre = i > 0, post = 0;
    s += i, n -= i;
    if (n > 0 && s[0] == '.') {
      s++, n--;
      int overflow = 0;
      for (i = 0; i < n && is_digit(s[i]); i++) { /* leadingFraction */
        if (overflow) continue;
        if (f > (MAXD - 1) / 10) {
          overflow = 1;
          continue;
        }
        uint64_t y = f * 10 + (uint64_t)(s[i] - '0');
        if (y > MAXD) {
          overflow = 1;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = i > 0;
      s += i, n -= i;
    }
    if (!pre && !post) return fail(err, errlen, "invalid duration", s0, n0);
    for (i = 0; i < n && s[i] != '.' && !is_digit(s[i]); i++) {}
    if (i == 0) return fail(err, errlen, "missing unit in duration", s0, n0);
    uint64_t unit = 0;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
      if (strlen(units[k].name) == i && memcmp(units[k].name, s, i) == 0) unit = units[k].ns;
    if (!unit) {
      char what[64];
      snprintf(what, sizeof what, "unknown unit \"%.*s\" in duration", i > 16 ? 16 : (int)i, s);
      return fail(err, errlen, what, s0, n0);
    }
    s += i, n -= i;
    if (v > MAXD / unit) return fail(err, errlen, "invalid duration", s0, n0);
    v *= unit;
    if (f > 0) {
      v += (uint64_t)((double)f * ((double)unit / scale));
      if (v > MAXD) return fail(err, errlen, "invalid duration", s0, n0);
    }
    d += v;
    if (d > MAXD) return fail(err, errlen, "invalid duration", s0, n0);
  }
  if (neg) {
    *ns = d == MAXD ? INT64_MIN : -(int64_t)d;
    return 0;
  }
  if (d > MAXD - 1) return fail(err, errlen, "invalid duration", s0, n0);
  *ns = (int64_t)d;
  return 0;
}
