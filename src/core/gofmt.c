/* gofmt.c: what Go's encoders decide, in plain C, shared by the JSON and
 * YAML modules: Go's UTF-8 decoding rule, shortest round-trip floats and
 * encoding/json's float text, integers in decimal.  No Lua here. */
#include "gofmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* writes v in decimal, returns the length (at most 20) */
size_t gofmt_int(char *out, int64_t v) {
  char tmp[24];
  size_t n = 0, len = 0;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) out[len++] = '-';
  while (n) out[len++] = tmp[--n];
  out[len] = '\0';
  return len;
}

int gofmt_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  if (n == 0) return 0;
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  unsigned lo = 0x80, hi = 0xBF;
  int len;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F; /* <= U+10FFFF */
  } else {
    return 0;
  }
  if (n < (size_t)len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  v = (v << 6) | (s[1] & 0x3F);
  for (int i = 2; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return len;
}

/* digits of "%.*e" output (any locale's radix point) and its exponent */
static int parse_e(const char *buf, char *digits, int *exp10) {
  int nd = 0;
  const char *p = buf;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[nd++] = *p;
  int e = *p == 'e' ? atoi(p + 1) : 0;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  *exp10 = e + 1;
  return nd;
}

int gofmt_shortest(double x, char *digits, int *exp10) {
  char buf[40];
  double a = fabs(x);
  if (a < 2.2250738585072014e-308) { /* subnormal: fewer bits, so try every length */
    for (int prec = 1; prec < 17; prec++) {
      snprintf(buf, sizeof buf, "%.*e", prec - 1, a);
      if (strtod(buf, NULL) == a) return parse_e(buf, digits, exp10);
    }
    snprintf(buf, sizeof buf, "%.16e", a);
    return parse_e(buf, digits, exp10);
  }
  /* any decimal of <= 15 digits survives a round trip through a double,
   * so if one reads back as x it is the correctly rounded 15-digit form */
  snprintf(buf, sizeof buf, "%.14e", a);
  if (strtod(buf, NULL) == a) return parse_e(buf, digits, exp10);
  snprintf(buf, sizeof buf, "%.15e", a);
  if (strtod(buf, NULL) == a) return parse_e(buf, digits, exp10);
  /* the closest 16-digit decimal misses; at a power of two the interval
   * of decimals reading back as x is lopsided and a neighbour may hit */
  {
    char d[20];
    int e;
    parse_e(buf, d, &e);
    int nd = (int)strlen(d);
    long long m = 0;
    for (int i = 0; i < 16; i++) m = m * 10 + (i < nd ? d[i] - '0' : 0);
    for (int delta = -1; delta <= 1; delta += 2) {
      long long mm = m + delta;
      if (mm < 1000000000000000LL || mm > 9999999999999999LL) continue;
      char cand[40];
      snprintf(cand, sizeof cand, "%llde%d", mm, e - 16);
      if (strtod(cand, NULL) == a) {
        char t[24];
        snprintf(t, sizeof t, "%lld", mm);
        int n = 16;
        while (n > 1 && t[n - 1] == '0') n--;
        memcpy(digits, t, (size_t)n);
        digits[n] = '\0';
        *exp10 = e;
        return n;
      }
    }
  }
  snprintf(buf, sizeof buf, "%.16e", a);
  return parse_e(buf, digits, exp10);
}

size_t gofmt_json_float(double x, char *out) {
  if (!isfinite(x)) return 0;
  size_t n = 0;
  if (x == 0) {
    if (signbit(x)) out[n++] = '-';
    out[n++] = '0';
    out[n] = '\0';
    return n;
  }
  if (fabs(x) < 9007199254740992.0 && x == floor(x)) return gofmt_int(out, (int64_t)x);
  char d[20];
  int e;
  int nd = gofmt_shortest(x, d, &e);
  if (x < 0) out[n++] = '-';
  double a = fabs(x);
  if (a < 1e-6 || a >= 1e21) { /* Go's 'e' format, exponent "e-7", "e+21" */
    out[n++] = d[0];
    if (nd > 1) {
      out[n++] = '.';
      memcpy(out + n, d + 1, (size_t)nd - 1);
      n += (size_t)nd - 1;
    }
    int x10 = e - 1;
    out[n++] = 'e';
    out[n++] = x10 < 0 ? '-' : '+';
    int ax = x10 < 0 ? -x10 : x10;
    if (x10 >= 0 && ax < 10) out[n++] = '0';
    n += (size_t)snprintf(out + n, 8, "%d", ax);
  } else if (e <= 0) { /* 0.000ddd */
    out[n++] = '0';
    out[n++] = '.';
    for (int i = 0; i < -e; i++) out[n++] = '0';
    memcpy(out + n, d, (size_t)nd);
    n += (size_t)nd;
  } else if (e >= nd) { /* ddd000 */
    memcpy(out + n, d, (size_t)nd);
    n += (size_t)nd;
    for (int i = nd; i < e; i++) out[n++] = '0';
  } else { /* dd.ddd */
    memcpy(out + n, d, (size_t)e);
    n += (size_t)e;
    out[n++] = '.';
    memcpy(out + n, d + e, (size_t)(nd - e));
    n += (size_t)(nd - e);
  }
  out[n] = '\0';
  return n;
}

int gofmt_utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  uint32_t cp;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int k = gofmt_utf8_decode(s + i, n - i, &cp);
    if (!k) return 0;
    i += (size_t)k;
  }
  return 1;
}

uint32_t gofmt_utf8_next(const unsigned char *s, size_t n, size_t *i) {
  uint32_t cp;
  int k = gofmt_utf8_decode(s + *i, n - *i, &cp);
  if (!k) {
    (*i)++;
    return 0xFFFD;
  }
  *i += (size_t)k;
  return cp;
}

size_t gofmt_yaml_float(double x, char *out) {
  if (isnan(x)) return (size_t)snprintf(out, GOFMT_FLOAT_MAX, ".nan");
  if (isinf(x)) return (size_t)snprintf(out, GOFMT_FLOAT_MAX, x > 0 ? ".inf" : "-.inf");
  if (x == 0) return (size_t)snprintf(out, GOFMT_FLOAT_MAX, "0");
  int integral = x == floor(x) && fabs(x) < 18446744073709551616.0;
  char d[20];
  int e;
  int nd = gofmt_shortest(x, d, &e);
  int x10 = e - 1; /* the exponent of d.ddd */
  size_t o = 0;
  if (x < 0) out[o++] = '-';
  if (!integral && (x10 < -4 || x10 >= 6)) { /* Go: shortest 'g' switches to %e from 1e+06 */
    out[o++] = d[0];
    if (nd > 1) {
      out[o++] = '.';
      memcpy(out + o, d + 1, (size_t)nd - 1);
      o += (size_t)nd - 1;
    }
    o += (size_t)snprintf(out + o, GOFMT_FLOAT_MAX - o, "e%c%02d", x10 < 0 ? '-' : '+', x10 < 0 ? -x10 : x10);
    return o;
  }
  if (x10 < 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (int i = -1; i > x10; i--) out[o++] = '0';
    memcpy(out + o, d, (size_t)nd);
    o += (size_t)nd;
  } else {
    for (int i = 0; i <= x10; i++) out[o++] = i < nd ? d[i] : '0';
    if (nd > x10 + 1) {
      out[o++] = '.';
      for (int i = x10 + 1; i < nd; i++) out[o++] = d[i];
    }
  }
  out[o] = '\0';
  return o;
}
