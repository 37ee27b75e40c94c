/* tests/unit/duration.c: src/core/duration.c against Go's time.ParseDuration
 * (expected values and messages printed by go1.26 for the same strings). */
#include <stdint.h>
#include <string.h>

#include "duration.h"
#include "tap.h"

static const struct {
  const char *s;
  int64_t ns;
  const char *err;
} cases[] = {
    {"500ms", 500000000LL, NULL},
    {"30s", 30000000000LL, NULL},
    {"2m", 120000000000LL, NULL},
    {"1h30m", 5400000000000LL, NULL},
    {"-1.5h", -5400000000000LL, NULL},
    {"0", 0LL, NULL},
    {"+0", 0LL, NULL},
    {"-0", 0LL, NULL},
    {"1.5s", 1500000000LL, NULL},
    {".5s", 500000000LL, NULL},
    {"5.s", 5000000000LL, NULL},
    {"1h2m3s4ms5us6ns", 3723004005006LL, NULL},
    {"1µs", 1000LL, NULL},
    {"1μs", 1000LL, NULL},
    {"2562047h47m16.854775807s", 9223372036854775807LL, NULL},
    {"2562047h47m16.854775808s", 0, "time: invalid duration \"2562047h47m16.854775808s\""},
    {"-2562047h47m16.854775808s", INT64_MIN, NULL},
    {"10x", 0, "time: unknown unit \"x\" in duration \"10x\""},
    {"10", 0, "time: missing unit in duration \"10\""},
    {"", 0, "time: invalid duration \"\""},
    {"-", 0, "time: invalid duration \"-\""},
    {".s", 0, "time: invalid duration \".s\""},
    {"1.2.3s", 0, "time: missing unit in duration \"1.2.3s\""},
    {"s", 0, "time: invalid duration \"s\""},
    {"9223372036854775808ns", 0, "time: invalid duration \"9223372036854775808ns\""},
    {"0.0000000001s", 0LL, NULL},
    {"1.0000000000000000000001s", 1000000000LL, NULL},
    {"3000000h", 0, "time: invalid duration \"3000000h\""},
    {"1e3s", 0, "time: unknown unit \"e\" in duration \"1e3s\""},
    {" 1s", 0, "time: invalid duration \" 1s\""},
    {"1s ", 0, "time: unknown unit \"s \" in duration \"1s \""},
};

int main(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t ns = -42;
    char err[DURATION_ERR_MAX] = "";
    int rc = duration_parse(cases[i].s, strlen(cases[i].s), &ns, err, sizeof err);
    if (cases[i].err)
      ok(rc == -1 && strcmp(err, cases[i].err) == 0, "\"%s\" -> %s (got %s)", cases[i].s, cases[i].err, err);
    else
      ok(rc == 0 && ns == cases[i].ns, "\"%s\" -> %lld ns (got %lld, %s)", cases[i].s, (long long)cases[i].ns,
         (long long)ns, err);
  }
  /* n bounds the input: no NUL needed, nothing read past it */
  int64_t ns = 0;
  char err[DURATION_ERR_MAX];
  ok(duration_parse("30sXX", 3, &ns, err, sizeof err) == 0 && ns == 30000000000LL, "length-bounded input");
  return done_testing();
}
