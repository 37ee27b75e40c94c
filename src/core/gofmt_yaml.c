/* gofmt_yaml.c: what go-yaml v2 decides, in plain C, for the yaml module:
 * how a plain scalar resolves (null, bool, int, float, timestamp, base 60),
 * which strings must be quoted to read back as strings, and the "natural"
 * order of mapping keys that kubectl -o yaml prints.  No Lua here; the
 * table walking stays in src/lua/yaml.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gofmt.h"

/* ---- scalar resolution (go-yaml v2's resolve()) ---- */

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int in_list(const char *s, size_t n, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == n && memcmp(*list, s, n) == 0) return 1;
  return 0;
}

/* The fixed words: booleans, nulls, special floats. Returns 0 if s is none. */
static int yaml_word(const char *s, size_t n, gofmt_yaml_val *v) {
  static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                    "on", "On", "ON", NULL};
  static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                   "off", "Off", "OFF", NULL};
  static const char *const null[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const nan[] = {".nan", ".NaN", ".NAN", NULL};
  static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
  static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
  if (n > 5) return 0; /* longest: "False", "+.inf" */
  if (in_list(s, n, yes)) v->kind = GOFMT_YAML_BOOL, v->b = 1;
  else if (in_list(s, n, no)) v->kind = GOFMT_YAML_BOOL, v->b = 0;
  else if (in_list(s, n, null)) v->kind = GOFMT_YAML_NULL;
  else if (in_list(s, n, nan)) v->kind = GOFMT_YAML_FLOAT, v->f = NAN;
  else if (in_list(s, n, inf)) v->kind = GOFMT_YAML_FLOAT, v->f = HUGE_VAL;
  else if (in_list(s, n, ninf)) v->kind = GOFMT_YAML_FLOAT, v->f = -HUGE_VAL;
  else return 0;
  return 1;
}

/* Go's strconv.ParseUint(s, 0, 64): 0x / 0o / 0b prefixes, a leading 0 means
 * octal. Returns 0 on a syntax or range error. */
static int go_parse_uint(const char *s, size_t n, uint64_t *out) {
  unsigned base = 10;
  if (n == 0) return 0;
  if (s[0] == '0') {
    int c = n >= 3 ? s[1] | 0x20 : 0;
    if (c == 'b') base = 2, s += 2, n -= 2;
    else if (c == 'o') base = 8, s += 2, n -= 2;
    else if (c == 'x') base = 16, s += 2, n -= 2;
    else base = 8, s += 1, n -= 1;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i], d;
    if (is_digit(c)) d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
    else return 0;
    if ((unsigned)d >= base) return 0;
    if (v > (UINT64_MAX - (uint64_t)d) / base) return 0;
    v = v * base + (uint64_t)d;
  }
  *out = v;
  return 1;
}

/* Go's strconv.ParseInt(s, 0, 64). */
static int go_parse_int(const char *s, size_t n, int64_t *out) {
  int neg = 0;
  uint64_t u;
  if (n > 0 && (s[0] == '+' || s[0] == '-')) neg = s[0] == '-', s++, n--;
  if (!go_parse_uint(s, n, &u)) return 0;
  if (neg) {
    if (u > (uint64_t)INT64_MAX + 1) return 0;
    *out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
  } else {
    if (u > (uint64_t)INT64_MAX) return 0;
    *out = (int64_t)u;
  }
  return 1;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int float_syntax(const char *s, size_t n) {
  size_t i = 0, d;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (i < n && s[i] == '.') {
    i++;
    for (d = i; i < n && is_digit(s[i]); i++) {}
    if (i == d) return 0;
  } else {
    for (d = i; i < n && is_digit(s[i]); i++) {}
    if (i == d) return 0;
    if (i < n && s[i] == '.')
      for (i++; i < n && is_digit(s[i]); i++) {}
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    for (d = i; i < n && is_digit(s[i]); i++) {}
    if (i == d) return 0;
  }
  return i == n;
}

/* strtod of a float_syntax string; 0 when it overflows (Go: ErrRange). */
static int parse_float(const char *s, size_t n, double *out) {
  char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
  if (!buf) return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  double f = strtod(buf, NULL);
  if (buf != small) free(buf);
  if (isinf(f)) return 0;
  *out = f;
  return 1;
}

/* Reads 1 or 2 digits (Go's getnum) into *v. */
static int getnum(const char *s, size_t n, size_t *i, int *v) {
  if (*i >= n || !is_digit(s[*i])) return 0;
  *v = s[(*i)++] - '0';
  if (*i < n && is_digit(s[*i])) *v = *v * 10 + s[(*i)++] - '0';
  return 1;
}

/* go-yaml v2's parseTimestamp: time.Parse with 2006-1-2T15:4:5.999999999Z07:00,
 * the same with a lower-case t, 2006-1-2 15:4:5.999999999, or 2006-1-2. */
static int yaml_timestamp(const char *s, size_t n) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  size_t i = 0;
  int year = 0, mon, day, h, m, sec;
  for (; i < n && i < 5 && is_digit(s[i]); i++) year = year * 10 + s[i] - '0';
  if (i != 4 || i == n || s[i] != '-') return 0; /* exactly four digits: no overflow */
  i++;
  if (!getnum(s, n, &i, &mon) || mon < 1 || mon > 12) return 0;
  if (i >= n || s[i++] != '-') return 0;
  if (!getnum(s, n, &i, &day) || day < 1 || day > mdays[mon - 1]) return 0;
  if (mon == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 0;
  if (i == n) return 1;
  int zone = s[i] == 'T' || s[i] == 't';
  if (!zone && s[i] != ' ') return 0;
  i++;
  if (!getnum(s, n, &i, &h) || h > 23) return 0;
  if (i >= n || s[i++] != ':') return 0;
  if (!getnum(s, n, &i, &m) || m > 59) return 0;
  if (i >= n || s[i++] != ':') return 0;
  if (!getnum(s, n, &i, &sec) || sec > 59) return 0;
  if (i + 1 < n && (s[i] == '.' || s[i] == ',') && is_digit(s[i + 1]))
    for (i++; i < n && is_digit(s[i]); i++) {}
  if (!zone) return i == n;
  if (i < n && s[i] == 'Z') return i + 1 == n;
  if (n - i != 6 || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':') return 0;
  if (!is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 4]) || !is_digit(s[i + 5]))
    return 0;
  return (s[i + 1] - '0') * 10 + s[i + 2] - '0' <= 24 && (s[i + 4] - '0') * 10 + s[i + 5] - '0' <= 60;
}

/* Resolves a plain scalar (or one tagged with a resolvable tag) like go-yaml
 * v2; timestamps are looked for only when allow_ts. */
void gofmt_yaml_resolve(const char *s, size_t n, int allow_ts, gofmt_yaml_val *v) {
  memset(v, 0, sizeof *v);
  v->kind = GOFMT_YAML_STR;
  int c = n ? (unsigned char)s[0] : 'N';
  int hint = c == '+' || c == '-' ? 'S' : is_digit(c) ? 'D' : c == '.' ? '.'
           : (c && strchr("yYnNtTfFoO~", c)) ? 'M' : 0;
  if (!hint) return;
  if (yaml_word(s, n, v)) return;
  if (hint == '.') {
    if (float_syntax(s, n) && parse_float(s, n, &v->f)) v->kind = GOFMT_YAML_FLOAT;
    return;
  }
  if (hint == 'M') return;
  if (allow_ts && yaml_timestamp(s, n)) {
    v->kind = GOFMT_YAML_TIMESTAMP;
    return;
  }
  /* integers and floats, underscores removed */
  char small[96], *p = n < sizeof small ? small : malloc(n);
  if (!p) return;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] != '_') p[m++] = s[i];
  int64_t iv;
  uint64_t uv;
  if (go_parse_int(p, m, &iv)) {
    v->kind = GOFMT_YAML_INT, v->i = iv;
  } else if (go_parse_uint(p, m, &uv)) {
    v->kind = GOFMT_YAML_INT, v->big = 1, v->f = (double)uv;
  } else if (float_syntax(p, m) && parse_float(p, m, &v->f)) {
    v->kind = GOFMT_YAML_FLOAT;
  }
  if (p != small) free(p);
}

/* go-yaml quotes base 60 floats: ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
int gofmt_yaml_base60(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (i >= n || !is_digit(s[i])) return 0;
  while (i < n && (is_digit(s[i]) || s[i] == '_')) i++;
  int groups = 0;
  while (i < n && s[i] == ':') {
    i++;
    if (i + 1 < n && s[i] >= '0' && s[i] <= '5' && is_digit(s[i + 1])) i += 2;
    else if (i < n && is_digit(s[i])) i++;
    else return 0;
    groups++;
  }
  if (!groups) return 0;
  if (i < n && s[i] == '.')
    for (i++; i < n && (is_digit(s[i]) || s[i] == '_'); i++) {}
  return i == n;
}

/* ---- the order of mapping keys ---- */

static int rdigit(uint32_t r) { return r >= '0' && r <= '9'; }

int gofmt_yaml_is_letter(uint32_t r) {
  /* blocks of non-letters above ASCII: Latin-1 punctuation and symbols,
   * spacing modifiers and combining marks, general punctuation, currency,
   * arrows to misc symbols, CJK punctuation, surrogates and private use,
   * variation selectors and compatibility forms, specials (U+FFFD),
   * emoji, tags and planes 14-16 */
  static const uint32_t non[][2] = {
      {0x80, 0xA9},     {0xAB, 0xB4},     {0xB6, 0xB9},     {0xBB, 0xBF},     {0xD7, 0xD7},
      {0xF7, 0xF7},     {0x2C2, 0x2C5},   {0x2D2, 0x2DF},   {0x2E5, 0x2EB},   {0x2ED, 0x2ED},
      {0x2EF, 0x36F},   {0x2000, 0x2070}, {0x2072, 0x207E}, {0x2080, 0x208F}, {0x20A0, 0x2101},
      {0x2190, 0x2BFF}, {0x2E00, 0x2E2E}, {0x2E30, 0x2E7F}, {0x3000, 0x3004}, {0x3007, 0x3030},
      {0xD800, 0xF8FF}, {0xFE00, 0xFE6F}, {0xFF00, 0xFF20}, {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65},
      {0xFFF0, 0xFFFF}, {0x1F000, 0x1FAFF}, {0xE0000, 0x10FFFF},
  };
  if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
  for (size_t i = 0; i < sizeof non / sizeof non[0]; i++)
    if (r >= non[i][0] && r <= non[i][1]) return 0;
  return 1;
}

static int rletter(uint32_t r) { return gofmt_yaml_is_letter(r); }

/* go-yaml v2's keyList.Less on two strings ("natural" order: a9 before a10),
 * as a qsort comparison.  Like go-yaml's, it is not a total order on every
 * key set (1, 01, 0a). */
int gofmt_yaml_key_cmp(const char *as, size_t an_, const char *bs, size_t bn_) {
  uint32_t abuf[128], bbuf[128];
  uint32_t *ar = an_ <= 128 ? abuf : malloc(an_ * sizeof *ar);
  uint32_t *br = bn_ <= 128 ? bbuf : malloc(bn_ * sizeof *br);
  int res = 0;
  size_t na = 0, nb = 0;
  if (!ar || !br) {
    int c = memcmp(as, bs, an_ < bn_ ? an_ : bn_);
    res = c ? c : (an_ > bn_) - (an_ < bn_);
    goto out;
  }
  for (size_t i = 0; i < an_;) ar[na++] = gofmt_utf8_next((const unsigned char *)as, an_, &i);
  for (size_t i = 0; i < bn_;) br[nb++] = gofmt_utf8_next((const unsigned char *)bs, bn_, &i);
  for (size_t i = 0; i < na && i < nb; i++) {
    if (ar[i] == br[i]) continue;
    int al = rletter(ar[i]), bl = rletter(br[i]);
    if (al && bl) {
      res = ar[i] < br[i] ? -1 : 1;
      goto out;
    }
    if (al || bl) {
      res = bl ? -1 : 1;
      goto out;
    }
    uint64_t av = 0, bv = 0; /* Go's int64 arithmetic wraps; so does this */
    size_t ai, bi;
    if (ar[i] == '0' || br[i] == '0') {
      for (size_t j = i; j-- > 0 && rdigit(ar[j]);) {
        if (ar[j] != '0') {
          av = bv = 1;
          break;
        }
      }
    }
    for (ai = i; ai < na && rdigit(ar[ai]); ai++) av = av * 10 + (ar[ai] - '0');
    for (bi = i; bi < nb && rdigit(br[bi]); bi++) bv = bv * 10 + (br[bi] - '0');
    if (av != bv) {
      res = (int64_t)av < (int64_t)bv ? -1 : 1;
      goto out;
    }
    if (ai != bi) {
      res = ai < bi ? -1 : 1;
      goto out;
    }
    res = ar[i] < br[i] ? -1 : 1;
    goto out;
  }
  res = na < nb ? -1 : na > nb ? 1 : 0;
out:
  if (ar && ar != abuf) free(ar);
  if (br && br != bbuf) free(br);
  return res;
}

static int key_cmp(const gofmt_yaml_key *a, const gofmt_yaml_key *b) {
  return gofmt_yaml_key_cmp(a->s, a->n, b->s, b->n);
}

static int byte_cmp(const void *pa, const void *pb) {
  const gofmt_yaml_key *a = pa, *b = pb;
  int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);
  return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* Stable merge sort of k[0..n) by key_cmp, using tmp (n entries). */
static void merge_sort(gofmt_yaml_key *k, gofmt_yaml_key *tmp, size_t n) {
  if (n < 2) return;
  size_t h = n / 2;
  merge_sort(k, tmp, h);
  merge_sort(k + h, tmp, n - h);
  size_t i = 0, j = h, o = 0;
  while (i < h && j < n) tmp[o++] = key_cmp(&k[j], &k[i]) < 0 ? k[j++] : k[i++];
  while (i < h) tmp[o++] = k[i++];
  while (j < n) tmp[o++] = k[j++];
  memcpy(k, tmp, n * sizeof *k);
}

/* Order mapping keys.  go-yaml's order is not a total order on some key sets
 * (1, 01, 0a), so the result could depend on the order pairs() gave: sort by
 * byte first, then stably by go-yaml's rule, so the same keys always come out
 * in the same order. */
void gofmt_yaml_sort_keys(gofmt_yaml_key *keys, size_t n) {
  qsort(keys, n, sizeof *keys, byte_cmp);
  gofmt_yaml_key *tmp = malloc(n * sizeof *tmp);
  if (tmp) merge_sort(keys, tmp, n);
  free(tmp);
}

int gofmt_yaml_quote(const char *s, size_t n) {
  gofmt_yaml_val v;
  gofmt_yaml_resolve(s, n, 1, &v);
  return v.kind != GOFMT_YAML_STR || gofmt_yaml_base60(s, n) || (n == 2 && memcmp(s, "<<", 2) == 0);
}
