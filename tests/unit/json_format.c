/* json_format: the Go-format helpers of src/core/gofmt.c: Go's float formatting
 * (expected texts from go1.26 json.Marshal) and Go's UTF-8 decoding rule. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gofmt.h"
#include "tap.h"

static const struct {
  double x;
  const char *want;
} floats[] = {
    {0.1, "0.1"},
    {1.5e-7, "1.5e-7"},
    {1e-6, "0.000001"},
    {1e-7, "1e-7"},
    {0.000001234, "0.000001234"},
    {1e20, "100000000000000000000"},
    {1e21, "1e+21"},
    {123456789.123, "123456789.123"},
    {5e-324, "5e-324"},
    {1.7976931348623157e308, "1.7976931348623157e+308"},
    {9223372036854775808.0, "9223372036854776000"},
    {0.30000000000000004, "0.30000000000000004"},
    {1.0 / 3, "0.3333333333333333"},
    {-2.5e-10, "-2.5e-10"},
    {100, "100"},
    {1e300, "1e+300"},
    {123e-20, "1.23e-18"},
    {9.999999999999999e20, "999999999999999900000"},
    {2.2250738585072014e-308, "2.2250738585072014e-308"},
    {3, "3"},
    {0.0, "0"},
    {-0.0, "-0"},
    {1e-10, "1e-10"},
    {12345678901234567890.0, "12345678901234567000"},
    {-1.25, "-1.25"},
    {1e15, "1000000000000000"},
    {4.35, "4.35"},
    {2e-7, "2e-7"},
    {9007199254740993.0, "9007199254740992"},
    {-9007199254740991.0, "-9007199254740991"},
};

int main(void) {
  char buf[GOFMT_FLOAT_MAX];
  for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
    size_t n = gofmt_json_float(floats[i].x, buf);
    ok(n == strlen(floats[i].want) && strcmp(buf, floats[i].want) == 0, "format %s (got %s)",
       floats[i].want, buf);
  }
  ok(gofmt_json_float(NAN, buf) == 0, "NaN: 0");
  ok(gofmt_json_float(INFINITY, buf) == 0, "+Inf: 0");
  ok(gofmt_json_float(-INFINITY, buf) == 0, "-Inf: 0");

  /* the longest output fits */
  size_t n = gofmt_json_float(-2.2250738585072014e-308, buf);
  ok(n == strlen("-2.2250738585072014e-308") && n < GOFMT_FLOAT_MAX, "longest form fits");

  /* shortest digits read back; exponent convention 0.D x 10^e */
  char d[20];
  int e;
  int nd = gofmt_shortest(123.45, d, &e);
  ok(nd == 5 && strcmp(d, "12345") == 0 && e == 3, "shortest(123.45) = 0.12345e3");
  nd = gofmt_shortest(0.001, d, &e);
  ok(nd == 1 && strcmp(d, "1") == 0 && e == -2, "shortest(0.001) = 0.1e-2");
  /* a power of two where the nearest 16-digit decimal misses and its
   * neighbour hits (Go prints 6.290184345309701e-235) */
  n = gofmt_json_float(ldexp(1, -778), buf);
  ok(strcmp(buf, "6.290184345309701e-235") == 0, "2^-778 (lopsided interval): %s", buf);
  int bad = 0;
  srand(7);
  for (int i = 0; i < 20000; i++) {
    uint64_t bits = ((uint64_t)rand() << 62) ^ ((uint64_t)rand() << 31) ^ (uint64_t)rand();
    double x;
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x)) continue;
    gofmt_json_float(x, buf);
    if (strtod(buf, NULL) != x) bad++;
  }
  ok(bad == 0, "20000 random doubles read back exactly (%d failed)", bad);

  /* UTF-8, as Go's utf8.DecodeRune */
  uint32_t cp = 0;
  ok(gofmt_utf8_decode((const unsigned char *)"A", 1, &cp) == 1 && cp == 'A', "ASCII");
  ok(gofmt_utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp) == 2 && cp == 0xE9, "2 bytes");
  ok(gofmt_utf8_decode((const unsigned char *)"\xe2\x80\xa8", 3, &cp) == 3 && cp == 0x2028, "3 bytes");
  ok(gofmt_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1F600, "4 bytes");
  ok(gofmt_utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp) == 4 && cp == 0x10FFFF, "U+10FFFF");
  ok(gofmt_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp) == 0, "> U+10FFFF invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp) == 0, "overlong 2 bytes invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp) == 0, "overlong 3 bytes invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp) == 0, "surrogate invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp) == 0, "truncated invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\x80", 1, &cp) == 0, "lone continuation invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"\xff", 1, &cp) == 0, "0xff invalid");
  ok(gofmt_utf8_decode((const unsigned char *)"", 0, &cp) == 0, "empty: 0");
  return done_testing();
}
