/* tap.h: the smallest TAP producer for the C unit tests. */
#ifndef KSH_TAP_H
#define KSH_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_n, tap_fail;
#define ok(cond, ...)                                              \
  do {                                                             \
    int ok_ = !!(cond);                                            \
    printf("%sok %d - ", ok_ ? "" : "not ", ++tap_n);              \
    printf(__VA_ARGS__);                                           \
    printf("\n");                                                  \
    if (!ok_) {                                                    \
      tap_fail++;                                                  \
      printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                              \
  } while (0)
#define is_str(a, b, ...) ok(strcmp((a), (b)) == 0, __VA_ARGS__)
#define done_testing() (printf("1..%d\n", tap_n), tap_fail ? 1 : 0)
#endif
