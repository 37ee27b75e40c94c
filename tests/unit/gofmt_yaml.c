/* gofmt_yaml: go-yaml v2's rules in src/core/gofmt_yaml.c and gofmt.c:
 * scalar resolution, quoting, key order, float text, UTF-8 validity.
 * Expected values were printed by go.yaml.in/yaml/v2 v2.4.4 (Unmarshal of
 * "v: TEXT", Marshal of the string and of a map). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gofmt.h"
#include "tap.h"

static gofmt_yaml_val res(const char *s, int ts) {
  gofmt_yaml_val v;
  gofmt_yaml_resolve(s, strlen(s), ts, &v);
  return v;
}

static const struct {
  const char *text;
  gofmt_yaml_kind kind;
  int64_t i; /* the int, or the bool */
  double f;
} scalars[] = {
    {"true", GOFMT_YAML_BOOL, 1, 0},     {"yes", GOFMT_YAML_BOOL, 1, 0},
    {"on", GOFMT_YAML_BOOL, 1, 0},       {"y", GOFMT_YAML_BOOL, 1, 0},
    {"No", GOFMT_YAML_BOOL, 0, 0},       {"OFF", GOFMT_YAML_BOOL, 0, 0},
    {"", GOFMT_YAML_NULL, 0, 0},         {"~", GOFMT_YAML_NULL, 0, 0},
    {"null", GOFMT_YAML_NULL, 0, 0},     {"12", GOFMT_YAML_INT, 12, 0},
    {"0x1f", GOFMT_YAML_INT, 31, 0},     {"0o17", GOFMT_YAML_INT, 15, 0},
    {"0755", GOFMT_YAML_INT, 493, 0},    {"1_000", GOFMT_YAML_INT, 1000, 0},
    {"+12", GOFMT_YAML_INT, 12, 0},      {"0b101", GOFMT_YAML_INT, 5, 0},
    {"-9223372036854775808", GOFMT_YAML_INT, INT64_MIN, 0},
    {"1.5", GOFMT_YAML_FLOAT, 0, 1.5},   {"1e3", GOFMT_YAML_FLOAT, 0, 1000},
    {".5", GOFMT_YAML_FLOAT, 0, 0.5},    {"1.", GOFMT_YAML_FLOAT, 0, 1},
    {"08", GOFMT_YAML_FLOAT, 0, 8},      /* not octal, but float syntax */
    {".inf", GOFMT_YAML_FLOAT, 0, HUGE_VAL}, {"-.inf", GOFMT_YAML_FLOAT, 0, -HUGE_VAL},
    {"1e400", GOFMT_YAML_STR, 0, 0},     /* ParseFloat's ErrRange */
    {"abc", GOFMT_YAML_STR, 0, 0},       {"0x", GOFMT_YAML_STR, 0, 0},
    {"1:20", GOFMT_YAML_STR, 0, 0},      {"<<", GOFMT_YAML_STR, 0, 0},
    {"2001-12-14", GOFMT_YAML_STR, 0, 0}, /* timestamps only when asked */
};

int main(void) {
  for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++) {
    gofmt_yaml_val v = res(scalars[k].text, 0);
    int good = v.kind == scalars[k].kind;
    if (good && v.kind == GOFMT_YAML_BOOL) good = v.b == (int)scalars[k].i;
    if (good && v.kind == GOFMT_YAML_INT) good = !v.big && v.i == scalars[k].i;
    if (good && v.kind == GOFMT_YAML_FLOAT) good = v.f == scalars[k].f;
    ok(good, "resolve \"%s\" (kind %d)", scalars[k].text, (int)v.kind);
  }
  gofmt_yaml_val v = res(".nan", 0);
  ok(v.kind == GOFMT_YAML_FLOAT && isnan(v.f), "resolve .nan");
  v = res("18446744073709551615", 0);
  ok(v.kind == GOFMT_YAML_INT && v.big && v.f == 18446744073709551615.0, "resolve a uint64 beyond int64");
  ok(res("2001-12-14", 1).kind == GOFMT_YAML_TIMESTAMP, "2001-12-14 is a timestamp when asked");
  ok(res("2001-12-14T21:59:43.10Z", 1).kind == GOFMT_YAML_TIMESTAMP, "2001-12-14T21:59:43.10Z");
  ok(res("2001-12-14 21:59:43.10", 1).kind == GOFMT_YAML_TIMESTAMP, "space-separated timestamp");
  ok(res("2001-12-14t21:59:43+05:30", 1).kind == GOFMT_YAML_TIMESTAMP, "lower-case t with a zone");
  ok(res("2001-02-29", 1).kind == GOFMT_YAML_STR, "2001-02-29 is no date");
  ok(res("2000-02-29", 1).kind == GOFMT_YAML_TIMESTAMP, "2000-02-29 is");
  ok(res("20011-12-14", 1).kind == GOFMT_YAML_STR, "five-digit year: a string");

  /* quoting: what go-yaml's Marshal of the string double-quotes */
  static const char *const quoted[] = {"true", "yes", "No", "", "~", "null", "12", "0x1f", "0755",
                                       "1_000", "1.5", "1e3", ".inf", ".nan", "08", "1:20",
                                       "190:20:30.15", "2001-12-14", "2001-12-14T21:59:43.10Z",
                                       "<<", NULL};
  static const char *const plain[] = {"1e400", "abc", "hello", "0x", "2001-02-29", "a:b", NULL};
  for (const char *const *q = quoted; *q; q++) ok(gofmt_yaml_quote(*q, strlen(*q)), "quote \"%s\"", *q);
  for (const char *const *q = plain; *q; q++) ok(!gofmt_yaml_quote(*q, strlen(*q)), "plain \"%s\"", *q);

  /* key order: go-yaml's Marshal of a map with these keys */
  static const char *const order[] = {"_x", "1", "A", "a", "a1", "a01", "a9", "a10", "b", "x2y", "x10y", "\xc3\xa4"};
  enum { NK = sizeof order / sizeof order[0] };
  gofmt_yaml_key keys[NK];
  static const int shuffle[NK] = {7, 3, 11, 0, 9, 5, 1, 10, 2, 8, 4, 6};
  for (int k = 0; k < NK; k++) keys[k] = (gofmt_yaml_key){order[shuffle[k]], strlen(order[shuffle[k]]), k};
  gofmt_yaml_sort_keys(keys, NK);
  int same = 1;
  for (int k = 0; k < NK; k++) same &= strcmp(keys[k].s, order[k]) == 0;
  ok(same, "keys in go-yaml's order");
  /* keys with invalid UTF-8 (each bad byte is U+FFFD, not a letter in Go):
   * go-yaml's Marshal of this map prints them in this order */
  static const char *const order2[] = {"/8", "\xc0\xaf" "9", "\xc0\xaf" "a", "\xff" "1", "10", "Z", "a"};
  enum { NK2 = sizeof order2 / sizeof order2[0] };
  gofmt_yaml_key keys2[NK2];
  for (int k = 0; k < NK2; k++) keys2[k] = (gofmt_yaml_key){order2[NK2 - 1 - k], strlen(order2[NK2 - 1 - k]), k};
  gofmt_yaml_sort_keys(keys2, NK2);
  same = 1;
  for (int k = 0; k < NK2; k++) same &= strcmp(keys2[k].s, order2[k]) == 0;
  ok(same, "keys with invalid UTF-8 in go-yaml's order");
  /* unicode.IsLetter, as go1.26 answers */
  static const struct {
    uint32_t r;
    int letter;
  } letters[] = {{'A', 1}, {'z', 1}, {'/', 0}, {'0', 0}, {0xAA, 1}, {0xAB, 0}, {0xB5, 1}, {0xD7, 0},
                 {0xE9, 1}, {0xF7, 0}, {0x2C1, 1}, {0x2C2, 0}, {0x300, 0}, {0x370, 1}, {0x2028, 0},
                 {0x2071, 1}, {0x20AC, 0}, {0x3005, 1}, {0x4E2D, 1}, {0xFE0F, 0}, {0xFF01, 0},
                 {0xFF21, 1}, {0xFFFD, 0}, {0x1F600, 0}, {0x10000, 1}};
  int lbad = 0;
  for (size_t k = 0; k < sizeof letters / sizeof letters[0]; k++)
    if (gofmt_yaml_is_letter(letters[k].r) != letters[k].letter) printf("# U+%04X\n", (unsigned)letters[k].r), lbad++;
  ok(lbad == 0, "is_letter agrees with unicode.IsLetter on %zu code points", sizeof letters / sizeof letters[0]);
  ok(gofmt_yaml_key_cmp("a9", 2, "a10", 3) < 0 && gofmt_yaml_key_cmp("a10", 3, "a9", 2) > 0, "a9 < a10");
  ok(gofmt_yaml_key_cmp("abc", 3, "abc", 3) == 0, "equal keys");

  /* floats as kubectl's YAML prints them (integral ones come from JSON) */
  static const struct {
    double x;
    const char *want;
  } floats[] = {
      {1e6, "1000000"},     {1.5, "1.5"},         {1e21, "1e+21"},          {1e-7, "1e-07"},
      {0.0001, "0.0001"},   {0.00001, "1e-05"},   {123456.5, "123456.5"},   {1234567.5, "1.2345675e+06"},
      {-0.0, "0"},          {-2.5e-10, "-2.5e-10"}, {0.1, "0.1"},           {1e300, "1e+300"},
      {9223372036854775808.0, "9223372036854776000"}, {18446744073709551616.0, "1.8446744073709552e+19"},
      {NAN, ".nan"},        {HUGE_VAL, ".inf"},   {-HUGE_VAL, "-.inf"},     {-1.7976931348623157e308, "-1.7976931348623157e+308"},
  };
  char buf[GOFMT_FLOAT_MAX];
  for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
    size_t n = gofmt_yaml_float(floats[k].x, buf);
    ok(n == strlen(floats[k].want) && strcmp(buf, floats[k].want) == 0, "yaml float %s (got %s)", floats[k].want, buf);
  }

  /* UTF-8 validity and Go's []rune reading */
  ok(gofmt_utf8_valid((const unsigned char *)"h\xc3\xa9llo \xe2\x80\xa8", 10), "valid UTF-8");
  ok(!gofmt_utf8_valid((const unsigned char *)"a\xc0\xaf", 3), "overlong: invalid");
  ok(!gofmt_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3), "surrogate: invalid");
  ok(!gofmt_utf8_valid((const unsigned char *)"\xe2\x82", 2), "truncated: invalid");
  const unsigned char *s = (const unsigned char *)"a\xc0\xaf\xc3\xa9";
  size_t i = 0;
  uint32_t r1 = gofmt_utf8_next(s, 5, &i), r2 = gofmt_utf8_next(s, 5, &i), r3 = gofmt_utf8_next(s, 5, &i),
           r4 = gofmt_utf8_next(s, 5, &i);
  ok(r1 == 'a' && r2 == 0xFFFD && r3 == 0xFFFD && r4 == 0xE9 && i == 5, "runes: a, U+FFFD per bad byte, U+00E9");
  return done_testing();
}
