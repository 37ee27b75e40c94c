/* duration.h: durations as Go's time.ParseDuration reads them (no Lua). */
#ifndef KSH_DURATION_H
#define KSH_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Room for any message duration_parse writes (the input is cut short). */
#define DURATION_ERR_MAX 160

/* Parses s[0..n) as Go's time.ParseDuration does: a signed sequence of
 * decimal numbers, each with an optional fraction and a unit (ns, us, µs,
 * μs, ms, s, m, h): "500ms", "30s", "2m", "1h30m", "-1.5h", "0".  A number
 * without a unit ("10", except "0"), an unknown unit ("10x") or a value
 * beyond int64 nanoseconds is an error.  Returns 0 and the nanoseconds in
 * *ns, or -1 with Go's message written into err (errlen bytes, at least
 * DURATION_ERR_MAX): time: unknown unit "x" in duration "10x". */
int duration_parse(const char *s, size_t n, int64_t *ns, char *err, size_t errlen);

#endif
