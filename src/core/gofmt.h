/* gofmt.h: what Go's encoders decide (encoding/json, go-yaml), Lua-free, for
 * the json, yaml and etcd modules and the unit tests.  gofmt.c: UTF-8,
 * integers and floats; gofmt_yaml.c: go-yaml's scalars and key order. */
#ifndef KSH_GOFMT_H
#define KSH_GOFMT_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Longest text gofmt_json_float writes, with its NUL: "-2.2250738585072014e-308". */
#define GOFMT_FLOAT_MAX 32

/* Writes v in decimal into out (at least 21 bytes, NUL-terminated); returns the length. */
size_t gofmt_int(char *out, int64_t v);

/* Writes x into out (GOFMT_FLOAT_MAX bytes, NUL-terminated) exactly as Go's
 * encoding/json writes a float64: the shortest digits that read back as x,
 * plain notation for 1e-6 <= |x| < 1e21, else 1.5e-7 / 1e+21; 3.0 -> "3",
 * -0.0 -> "-0".  Returns the length, or 0 for NaN and infinities. */
size_t gofmt_json_float(double x, char *out);

/* Finds the fewest decimal digits that read back as x (finite, non-zero):
 * x = 0.D * 10^*exp10 with D the returned digits (no leading or trailing
 * zeros) written into digits (at least 18 bytes, NUL-terminated).  Returns
 * the number of digits. */
int gofmt_shortest(double x, char *digits, int *exp10);

/* Decodes one UTF-8 sequence at s (n bytes available) like Go's
 * utf8.DecodeRune: returns its length (1-4) and stores the code point in
 * *cp, or returns 0 for an invalid or truncated sequence (overlong forms,
 * surrogates, > U+10FFFF). */
int gofmt_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Go's utf8.ValidString: 1 when s[0..n) is valid UTF-8 by the rule above. */
int gofmt_utf8_valid(const unsigned char *s, size_t n);

/* The code point at s[*i] as Go's []rune(s) reads it: a valid sequence, or
 * U+FFFD for one bad byte; advances *i past what it read (*i < n). */
uint32_t gofmt_utf8_next(const unsigned char *s, size_t n, size_t *i);

/* Writes x into out (GOFMT_FLOAT_MAX bytes, NUL-terminated) as kubectl's
 * YAML prints a float: its YAML comes from JSON, so an integral value below
 * 2^64 prints as an integer (1e6 -> "1000000", 2^63 ->
 * "9223372036854776000", -0.0 -> "0"); other values as go-yaml's
 * strconv.FormatFloat(x, 'g', -1, 64): 1.5, 1e+21, 1e-07; .inf, -.inf, .nan.
 * Returns the length. */
size_t gofmt_yaml_float(double x, char *out);

/* ---- go-yaml v2 (gofmt_yaml.c) ---- */

typedef enum {
  GOFMT_YAML_STR,
  GOFMT_YAML_NULL,
  GOFMT_YAML_BOOL,
  GOFMT_YAML_INT,
  GOFMT_YAML_FLOAT,
  GOFMT_YAML_TIMESTAMP
} gofmt_yaml_kind;

/* A resolved scalar. */
typedef struct {
  gofmt_yaml_kind kind;
  int b;     /* GOFMT_YAML_BOOL */
  int big;   /* GOFMT_YAML_INT above INT64_MAX: the value is in f */
  int64_t i; /* GOFMT_YAML_INT */
  double f;  /* GOFMT_YAML_FLOAT, big GOFMT_YAML_INT */
} gofmt_yaml_val;

/* Resolves the plain scalar s[0..n) as go-yaml v2's resolve() does (YAML 1.1
 * flavoured): y/yes/on/true... are booleans, ""/~/null nulls, 12, 0x1f, 0o17,
 * 0755 (octal), 1_000 integers, 1.5, 1e3, .inf, .nan floats; timestamps
 * (2001-12-14, 2001-12-14T21:59:43.10Z) only when allow_ts; everything else
 * is GOFMT_YAML_STR. */
void gofmt_yaml_resolve(const char *s, size_t n, int allow_ts, gofmt_yaml_val *v);

/* 1 when s is a YAML 1.1 base 60 number (190:20:30), which go-yaml quotes. */
int gofmt_yaml_base60(const char *s, size_t n);

/* 1 when go-yaml writes the one-line string s double-quoted because it would
 * read back as something else (true, 0755, 1e3, 2001-12-14, "", null, 1:20,
 * "<<"). */
int gofmt_yaml_quote(const char *s, size_t n);

/* go-yaml v2's keyList.Less on two keys ("natural" order: a9 before a10,
 * letters after other characters), as a qsort-style comparison.  Like go-yaml's, not
 * a total order on every key set (1, 01, 0a). */
int gofmt_yaml_key_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Go's unicode.IsLetter as the key order uses it: exact for ASCII and for
 * the Latin-1 range; above it, the common blocks of symbols, punctuation,
 * marks, emoji and U+FFFD (what invalid UTF-8 reads as) are non-letters and
 * everything else counts as a letter (keys of Kubernetes objects are ASCII;
 * Unicode's full tables are not worth their size here). */
int gofmt_yaml_is_letter(uint32_t r);

/* A mapping key to sort: its text and the caller's index. */
typedef struct {
  const char *s;
  size_t n;
  int i;
} gofmt_yaml_key;

/* Sorts keys[0..n) in go-yaml's order, deterministically: by byte first,
 * then stably by gofmt_yaml_key_cmp, so the same key set always gives the
 * same order whatever order it came in. */
void gofmt_yaml_sort_keys(gofmt_yaml_key *keys, size_t n);

/* ---- JSON text to Go's JSON text (gofmt_json.c) ---- */

#define GOFMT_J_ESC 1   /* a string or key holds backslash escapes */
#define GOFMT_J_HIGH 2  /* a string holds bytes >= 0x80 (valid UTF-8) */
#define GOFMT_J_FLOAT 4 /* a number has a fraction or an exponent */

/* One value of a parsed JSON text: type 'o' object, 'a' array, 's'
 * string, 'n' number, 't' true, 'f' false, 'z' null.  s/len: the raw text
 * of a string (between the quotes, escapes as they came) or a number; k/klen:
 * the raw key of an object member; child/next: the first member, the next
 * sibling (-1: none); count: the members of an object or array. */
typedef struct {
  const char *s, *k;
  size_t len, klen, count;
  int child, next;
  uint8_t type, flags, kflags;
} gofmt_jnode;

/* A tree of nodes pointing into the parsed text (which must outlive it). */
typedef struct {
  gofmt_jnode *nodes;
  size_t n, cap;
  const char *end;
  const char *err, *errpos; /* the failure of the last parse */
  char *scratch;            /* gofmt_jtext's decoded text */
  size_t scap;
  char *held;               /* internal: keys being sorted */
} gofmt_jdoc;

/* A string member added to an object when it lacks the key. */
typedef struct {
  const char *key, *value;
} gofmt_jextra;

/* How gofmt_jwrite lays out: indent (NULL: compact, as json.Marshal) and
 * its length; html: escape <, >, & as Go does by default; drop_managed:
 * leave out metadata.managedFields of the top object. */
typedef struct {
  const char *indent;
  size_t indentlen;
  int html, drop_managed;
} gofmt_jwopts;

enum { GOFMT_JNUM_TEXT, GOFMT_JNUM_INT, GOFMT_JNUM_FLOAT };

void gofmt_jdoc_reset(gofmt_jdoc *d);
void gofmt_jdoc_free(gofmt_jdoc *d);
int gofmt_jparse(gofmt_jdoc *d, const char **pp, const char *end);
int gofmt_jget(const gofmt_jdoc *d, int obj, const char *key);
size_t gofmt_junescape(const char *s, size_t n, char *out);
const char *gofmt_jtext(gofmt_jdoc *d, const char *s, size_t n, uint8_t flags, size_t *len);
int gofmt_jnumber(const char *s, size_t n, int isfloat, int64_t *i, double *f);
/* 1 when the double x holds the JSON number text s..e exactly (shortest form). */
int gofmt_jnum_exact(const char *s, const char *e, double x);
int gofmt_jquote(buf_t *b, const char *s, size_t n, int html);
int gofmt_jwrite(gofmt_jdoc *d, int id, buf_t *b, const gofmt_jwopts *o, int depth,
                 const gofmt_jextra *extra, size_t nextra);

/* Reading a Kubernetes list ({"kind":..., "metadata":{"continue":...},
 * "items":[...]}) one item at a time: see gofmt_jlist_next. */
typedef struct {
  const char *p, *end, *start;
  int state;
  const char *cont, *kind; /* raw spans of metadata.continue and kind, or NULL */
  size_t contlen, kindlen;
  uint8_t contflags, kindflags;
} gofmt_jlist;

void gofmt_jlist_init(gofmt_jlist *it, const char *s, size_t len);
int gofmt_jlist_next(gofmt_jlist *it, gofmt_jdoc *d);

#endif
