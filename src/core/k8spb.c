/* k8spb.c: Kubernetes' stored protobuf to the API server's JSON (k8spb.h).
 *
 * The wire holds each message's fields in ascending field number; JSON
 * wants Go declaration order.  emit_fields first lists the fields of a
 * message (offsets into the input, nothing copied), then writes them in
 * the schema's JSON order, applying encoding/json's rules per Go shape:
 * omitempty, null for nil slices/maps/pointers, structs always written. */
#include "k8spb.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "gofmt.h"

#include "k8s_schema.inc"

#define NTYPES (sizeof(k8s_types) / sizeof(k8s_types[0]))
#define NKINDS (sizeof(k8s_kinds) / sizeof(k8s_kinds[0]))
#define MAX_DEPTH 200

#define NAME(o) (k8s_names + (o))

const char *k8spb_name(uint32_t name) { return name ? NAME(name) : NULL; }

uint32_t k8spb_ntypes(void) { return (uint32_t)NTYPES; }

const k8s_type *k8spb_type(uint32_t t) { return t < NTYPES ? &k8s_types[t] : NULL; }

const k8s_field *k8spb_field(uint32_t t, uint32_t j) { return &k8s_fields[k8s_types[t].first + j]; }

uint32_t k8spb_wire_index(uint32_t t, uint32_t j) { return k8s_wire[k8s_types[t].first + j]; }

static int cmp_str(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

int32_t k8spb_lookup(const char *av, size_t avlen, const char *kind, size_t klen) {
  size_t lo = 0, hi = NKINDS;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = cmp_str(av, avlen, NAME(k8s_kinds[mid].api_version));
    if (!c) c = cmp_str(kind, klen, NAME(k8s_kinds[mid].kind));
    if (!c) return (int32_t)k8s_kinds[mid].type;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return -1;
}

/* ------------------------------------------------------------ output helpers */

static void put(pb_buf *b, const char *s, size_t n) { pb_put_raw(b, s, n); }
static void puts_(pb_buf *b, const char *s) { pb_put_raw(b, s, strlen(s)); }
static void putc_(pb_buf *b, char c) { pb_put_raw(b, &c, 1); }

static const char hexd[] = "0123456789abcdef";

void k8spb_put_jstring(pb_buf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  putc_(b, '"');
  size_t i = 0, start = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
      i++;
      continue;
    }
    if (c < 0x80) {
      put(b, (const char *)s + start, i - start);
      switch (c) {
      case '"': puts_(b, "\\\""); break;
      case '\\': puts_(b, "\\\\"); break;
      case '\b': puts_(b, "\\b"); break;
      case '\f': puts_(b, "\\f"); break;
      case '\n': puts_(b, "\\n"); break;
      case '\r': puts_(b, "\\r"); break;
      case '\t': puts_(b, "\\t"); break;
      default: {
        char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
        put(b, u, 6);
      }
      }
      start = ++i;
      continue;
    }
    uint32_t cp;
    int len = gofmt_utf8_decode(s + i, n - i, &cp);
    if (len == 0) {
      put(b, (const char *)s + start, i - start);
      puts_(b, "\\ufffd");
      start = ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      put(b, (const char *)s + start, i - start);
      puts_(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
      start = i + (size_t)len;
    }
    i += (size_t)len;
  }
  put(b, (const char *)s + start, n - start);
  putc_(b, '"');
}

/* a JSON value at s[*i] (after whitespace), compacted into b as
 * encoding/json's compact writes it; -1 when it is not valid JSON */
typedef struct {
  pb_buf *b;
  const unsigned char *s;
  size_t n, i;
  int depth;
} cjson;

static void cj_ws(cjson *j) {
  while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r')) j->i++;
}

static int cj_string(cjson *j) {
  j->i++; /* the opening quote */
  putc_(j->b, '"');
  for (;;) {
    if (j->i >= j->n) return -1;
    unsigned char c = j->s[j->i];
    if (c < 0x20) return -1;
    if (c == '\\') {
      if (j->i + 1 >= j->n) return -1;
      unsigned char e = j->s[j->i + 1];
      if (e == 'u') {
        if (j->i + 6 > j->n) return -1;
        for (int k = 2; k < 6; k++) {
          unsigned char h = j->s[j->i + (size_t)k];
          if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return -1;
        }
        put(j->b, (const char *)j->s + j->i, 6);
        j->i += 6;
        continue;
      }
      if (!strchr("\"\\/bfnrt", e) || !e) return -1;
      put(j->b, (const char *)j->s + j->i, 2);
      j->i += 2;
    } else if (c == '"') {
      putc_(j->b, '"');
      j->i++;
      return 0;
    } else if (c == '<' || c == '>' || c == '&') {
      char u[6] = {'\\', 'u', '0', '0', hexd[c >> 4], hexd[c & 15]};
      put(j->b, u, 6);
      j->i++;
    } else if (c == 0xe2 && j->i + 2 < j->n && j->s[j->i + 1] == 0x80 && (j->s[j->i + 2] == 0xa8 || j->s[j->i + 2] == 0xa9)) {
      puts_(j->b, j->s[j->i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
      j->i += 3;
    } else {
      putc_(j->b, (char)c);
      j->i++;
    }
  }
}

static int cj_digits(cjson *j) {
  size_t st = j->i;
  while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') j->i++;
  return j->i > st ? 0 : -1;
}

static int cj_value(cjson *j) {
  cj_ws(j);
  if (j->i >= j->n || ++j->depth > 10000) return -1;
  unsigned char c = j->s[j->i];
  int rc = 0;
  if (c == '{' || c == '[') {
    unsigned char close = c == '{' ? '}' : ']';
    putc_(j->b, (char)c);
    j->i++;
    cj_ws(j);
    if (j->i < j->n && j->s[j->i] == close) {
      j->i++;
    } else {
      for (;;) {
        if (c == '{') {
          cj_ws(j);
          if (j->i >= j->n || j->s[j->i] != '"' || cj_string(j)) return -1;
          cj_ws(j);
          if (j->i >= j->n || j->s[j->i] != ':') return -1;
          putc_(j->b, ':');
          j->i++;
        }
        if (cj_value(j)) return -1;
        cj_ws(j);
        if (j->i >= j->n) return -1;
        if (j->s[j->i] == ',') {
          putc_(j->b, ',');
          j->i++;
          continue;
        }
        if (j->s[j->i] != close) return -1;
        j->i++;
        break;
      }
    }
    putc_(j->b, (char)close);
  } else if (c == '"') {
    rc = cj_string(j);
  } else if (c == '-' || (c >= '0' && c <= '9')) {
    size_t st = j->i;
    if (c == '-') j->i++;
    if (j->i < j->n && j->s[j->i] == '0') j->i++;
    else if (cj_digits(j)) return -1;
    if (j->i < j->n && j->s[j->i] == '.') {
      j->i++;
      if (cj_digits(j)) return -1;
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
      j->i++;
      if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
      if (cj_digits(j)) return -1;
    }
    put(j->b, (const char *)j->s + st, j->i - st);
  } else {
    static const char *const lits[] = {"true", "false", "null"};
    rc = -1;
    for (int k = 0; k < 3; k++) {
      size_t l = strlen(lits[k]);
      if (j->n - j->i >= l && !memcmp(j->s + j->i, lits[k], l)) {
        put(j->b, lits[k], l);
        j->i += l;
        rc = 0;
        break;
      }
    }
  }
  j->depth--;
  return rc;
}

int k8spb_put_compact(pb_buf *b, const char *str, size_t n) {
  cjson j = {b, (const unsigned char *)str, n, 0, 0};
  if (cj_value(&j)) return -1;
  cj_ws(&j);
  return j.i == n ? 0 : -1;
}

static void put_int(pb_buf *b, int64_t v) {
  char t[24];
  put(b, t, gofmt_int(t, v));
}

static void put_uint(pb_buf *b, uint64_t v) {
  char t[24];
  int n = snprintf(t, sizeof t, "%" PRIu64, v);
  put(b, t, (size_t)n);
}

static void put_b64(pb_buf *b, const char *d, size_t n) {
  size_t len = b64_encoded_len(n, 0);
  char stack[256], *t = len < sizeof stack ? stack : malloc(len + 1);
  if (!t) {
    b->oom = 1;
    return;
  }
  b64_encode((const unsigned char *)d, n, t, 0);
  putc_(b, '"');
  put(b, t, len);
  putc_(b, '"');
  if (t != stack) free(t);
}

/* ------------------------------------------------------------ time & duration */

/* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm) */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

size_t k8spb_rfc3339(int64_t sec, int32_t nsec, int micro, char *out) {
  if (nsec < 0 || nsec >= 1000000000) {
    /* time.Unix normalises nsec into the second */
    sec += nsec / 1000000000;
    nsec %= 1000000000;
    if (nsec < 0) {
      nsec += 1000000000;
      sec--;
    }
  }
  if (sec < -62167219200LL || sec > 253402300799LL) return 0; /* years 0..9999 */
  int64_t days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
  int64_t rem = sec - days * 86400;
  int64_t y;
  unsigned mo, d;
  civil(days, &y, &mo, &d);
  int n;
  if (micro)
    n = snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", (int)y, mo, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                 (int)(rem % 60), (int)(nsec / 1000));
  else
    n = snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, mo, d, (int)(rem / 3600), (int)(rem / 60 % 60),
                 (int)(rem % 60));
  return (size_t)n;
}

/* time.Duration.String: fmtFrac / fmtInt of Go's time package */
static int fmt_frac(char *buf, int w, uint64_t *v, int prec) {
  int print = 0;
  for (int i = 0; i < prec; i++) {
    int digit = (int)(*v % 10);
    print = print || digit != 0;
    if (print) buf[--w] = (char)('0' + digit);
    *v /= 10;
  }
  if (print) buf[--w] = '.';
  return w;
}

static int fmt_int(char *buf, int w, uint64_t v) {
  if (v == 0) buf[--w] = '0';
  while (v > 0) {
    buf[--w] = (char)('0' + v % 10);
    v /= 10;
  }
  return w;
}

size_t k8spb_duration(int64_t d, char *out) {
  char buf[32];
  int w = (int)sizeof buf;
  uint64_t u = (uint64_t)d;
  int neg = d < 0;
  if (neg) u = -u;
  if (u < 1000000000ULL) {
    int prec = 0;
    w--;
    buf[w] = 's';
    w--;
    if (u == 0) {
      memcpy(out, "0s", 3);
      return 2;
    } else if (u < 1000ULL) {
      prec = 0;
      buf[w] = 'n';
    } else if (u < 1000000ULL) {
      prec = 3;
      /* U+00B5 'µ' */
      w--;
      memcpy(buf + w, "\xc2\xb5", 2);
    } else {
      prec = 6;
      buf[w] = 'm';
    }
    w = fmt_frac(buf, w, &u, prec);
    w = fmt_int(buf, w, u);
  } else {
    w--;
    buf[w] = 's';
    w = fmt_frac(buf, w, &u, 9);
    w = fmt_int(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      w--;
      buf[w] = 'm';
      w = fmt_int(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        w--;
        buf[w] = 'h';
        w = fmt_int(buf, w, u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  size_t n = sizeof buf - (size_t)w;
  memcpy(out, buf + w, n);
  out[n] = 0;
  return n;
}

/* ------------------------------------------------------------ decoding */

typedef struct {
  pb_buf *out;
  k8spb_err *err;
  const char *base;
  int depth;
} ctx;

static int fail(ctx *c, const char *at, const char *fmt, ...) {
  if (c->err->kind) return -1;
  va_list ap;
  va_start(ap, fmt);
  char m[150];
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  c->err->kind = K8SPB_CORRUPT;
  c->err->offset = at ? (size_t)(at - c->base) : 0;
  snprintf(c->err->message, sizeof c->err->message, "k8s: %s at offset %zu", m, c->err->offset);
  return -1;
}

typedef struct {
  uint32_t num;
  int wt;
  int idx; /* index of the schema field, -1 unknown */
  uint64_t v;
  const char *data; /* PB_LEN */
  size_t len;
  const char *at; /* where the field starts */
} entry;

typedef struct {
  entry *e;
  size_t n, cap;
  entry stack[48];
} entries;

static int wire_ok(const k8s_field *f, int wt) {
  switch (f->kind) {
  case K_STRING:
  case K_BYTES:
  case K_MSG: return wt == PB_LEN;
  case K_FLOAT64: return wt == PB_FIXED64 || (wt == PB_LEN && f->shape == C_SLICE);
  default: return wt == PB_VARINT || (wt == PB_LEN && f->shape == C_SLICE);
  }
}

/* lists the fields of a message; -1 on a corrupt one */
static int scan(ctx *c, uint32_t t, const char *p, size_t n, entries *es) {
  const k8s_type *ty = &k8s_types[t];
  const char *q = p, *end = p + n;
  es->e = es->stack;
  es->n = 0;
  es->cap = sizeof es->stack / sizeof es->stack[0];
  for (;;) {
    const char *at = q;
    pb_field f;
    int r = pb_next(&q, end, &f);
    if (r == 0) break;
    if (r < 0) return fail(c, at, "truncated or malformed field in %s", NAME(ty->name));
    if (es->n == es->cap) {
      size_t ncap = es->cap * 2;
      entry *ne = es->e == es->stack ? malloc(ncap * sizeof *ne) : realloc(es->e, ncap * sizeof *ne);
      if (!ne) {
        c->err->kind = K8SPB_NOMEM;
        snprintf(c->err->message, sizeof c->err->message, "k8s: out of memory");
        return -1;
      }
      if (es->e == es->stack) memcpy(ne, es->stack, sizeof es->stack);
      es->e = ne;
      es->cap = ncap;
    }
    entry *e = &es->e[es->n++];
    e->num = f.field;
    e->wt = f.wiretype;
    e->v = f.v;
    e->data = f.data;
    e->len = f.len;
    e->at = at;
    e->idx = -1;
    for (uint32_t j = 0; j < ty->nfields; j++) {
      const k8s_field *fd = &k8s_fields[ty->first + j];
      if (fd->num == f.field) {
        if (!wire_ok(fd, f.wiretype))
          return fail(c, at, "field %u (%s) of %s has wire type %d", f.field, fd->name ? NAME(fd->name) : "inline", NAME(ty->name),
                      f.wiretype);
        e->idx = (int)j;
        break;
      }
    }
  }
  return 0;
}

static void entries_free(entries *es) {
  if (es->e != es->stack) free(es->e);
}

static int emit_msg(ctx *c, uint32_t t, const char *p, size_t n, int top, const char *av, const char *kind,
                    const char *rv);

static void key(ctx *c, int *first, const char *name) {
  if (!*first) putc_(c->out, ',');
  *first = 0;
  putc_(c->out, '"');
  puts_(c->out, name); /* schema names need no escaping */
  puts_(c->out, "\":");
}

/* a scalar of kind k from a varint / fixed value */
static int emit_scalar(ctx *c, int k, uint64_t v, const char *at) {
  switch (k) {
  case K_BOOL: puts_(c->out, v ? "true" : "false"); break;
  case K_INT32: put_int(c->out, (int32_t)(uint32_t)v); break;
  case K_INT64: put_int(c->out, (int64_t)v); break;
  case K_UINT64: put_uint(c->out, v); break;
  case K_FLOAT64: {
    double d;
    memcpy(&d, &v, 8);
    char t[GOFMT_FLOAT_MAX];
    size_t len = gofmt_json_float(d, t);
    if (!len) return fail(c, at, "a float that is NaN or infinite");
    put(c->out, t, len);
    break;
  }
  }
  return 0;
}

/* one element of kind k (string, bytes, message or scalar) held by entry e */
static int emit_elem(ctx *c, const k8s_field *f, const entry *e) {
  switch (f->kind) {
  case K_STRING: k8spb_put_jstring(c->out, e->data, e->len); return 0;
  case K_BYTES: put_b64(c->out, e->data, e->len); return 0;
  case K_MSG: return emit_msg(c, f->type, e->data, e->len, 0, NULL, NULL, NULL);
  default: return emit_scalar(c, f->kind, e->v, e->at);
  }
}

/* the zero value of a non-pointer field (absent from the wire) */
static int emit_zero(ctx *c, const k8s_field *f) {
  switch (f->kind) {
  case K_STRING: puts_(c->out, "\"\""); return 0;
  case K_BYTES: puts_(c->out, "null"); return 0;
  case K_MSG: return emit_msg(c, f->type, "", 0, 0, NULL, NULL, NULL);
  case K_FLOAT64:
  case K_BOOL: puts_(c->out, f->kind == K_BOOL ? "false" : "0"); return 0;
  default: putc_(c->out, '0'); return 0;
  }
}

static int scalar_zero(const k8s_field *f, const entry *e) {
  if (!e) return 1;
  switch (f->kind) {
  case K_STRING:
  case K_BYTES: return e->len == 0;
  case K_INT32: return (uint32_t)e->v == 0;
  case K_FLOAT64: {
    double d;
    memcpy(&d, &e->v, 8);
    return d == 0;
  }
  default: return e->v == 0;
  }
}

/* repeated scalars may come packed: one LEN holding the values */
static int emit_packed(ctx *c, const k8s_field *f, const entry *e, int *firstel) {
  const unsigned char *p = (const unsigned char *)e->data, *end = p + e->len;
  while (p < end) {
    uint64_t v = 0;
    const char *at = (const char *)p;
    if (f->kind == K_FLOAT64) {
      if (end - p < 8) return fail(c, at, "truncated packed field %u", f->num);
      for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
      p += 8;
    } else if (pb_get_varint(&p, end, &v) != 1)
      return fail(c, at, "truncated packed field %u", f->num);
    if (!*firstel) putc_(c->out, ',');
    *firstel = 0;
    if (emit_scalar(c, f->kind, v, at)) return -1;
  }
  return 0;
}

typedef struct {
  const char *k;
  size_t klen;
  int has_val; /* the entry has a value field (valbuf) */
  entry valbuf;
  size_t order;
} mapent;

static int cmp_mapent(const void *a, const void *b) {
  const mapent *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int r = memcmp(x->k, y->k, n);
  if (r) return r;
  if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

static int emit_map(ctx *c, const k8s_field *f, entries *es, uint32_t j, size_t count) {
  mapent *m = malloc(count * sizeof *m);
  if (!m) return fail(c, NULL, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < es->n; i++) {
    const entry *e = &es->e[i];
    if (e->idx != (int)j) continue;
    mapent *me = &m[k];
    me->k = "";
    me->klen = 0;
    me->has_val = 0;
    me->order = k;
    const char *q = e->data, *end = e->data + e->len;
    for (;;) {
      const char *at = q;
      pb_field pf;
      int r = pb_next(&q, end, &pf);
      if (r == 0) break;
      if (r < 0) {
        free(m);
        return fail(c, at, "truncated map entry of field %u", f->num);
      }
      if (pf.field == 1 && pf.wiretype == PB_LEN) {
        me->k = pf.data;
        me->klen = pf.len;
      } else if (pf.field == 2) {
        entry *v = &me->valbuf;
        v->num = 2;
        v->wt = pf.wiretype;
        v->v = pf.v;
        v->data = pf.data;
        v->len = pf.len;
        v->at = at;
        v->idx = 0;
        if (!wire_ok(f, pf.wiretype) || (pf.wiretype == PB_LEN && f->kind != K_STRING && f->kind != K_BYTES &&
                                          f->kind != K_MSG)) {
          free(m);
          return fail(c, at, "map value of field %u has wire type %d", f->num, pf.wiretype);
        }
        me->has_val = 1;
      }
    }
    k++;
  }
  qsort(m, k, sizeof *m, cmp_mapent);
  putc_(c->out, '{');
  int first = 1, rc = 0;
  for (size_t i = 0; i < k && !rc; i++) {
    /* a key given twice: the last one wins, as in a Go map */
    if (i + 1 < k && m[i + 1].klen == m[i].klen && !memcmp(m[i + 1].k, m[i].k, m[i].klen)) continue;
    if (!first) putc_(c->out, ',');
    first = 0;
    k8spb_put_jstring(c->out, m[i].k, m[i].klen);
    putc_(c->out, ':');
    rc = m[i].has_val ? emit_elem(c, f, &m[i].valbuf) : emit_zero(c, f);
  }
  putc_(c->out, '}');
  free(m);
  return rc;
}

static const entry *last_of(const entries *es, uint32_t j, size_t *count) {
  const entry *last = NULL;
  size_t n = 0;
  for (size_t i = 0; i < es->n; i++)
    if (es->e[i].idx == (int)j) {
      last = &es->e[i];
      n++;
    }
  if (count) *count = n;
  return last;
}

/* is the (non-pointer) message field zero, for omitzero: a Time is zero
 * when its message is empty (time_proto.go writes nothing for it) */
static int msg_zero(const entry *e) { return !e || e->len == 0; }

/* writes the fields of message type t as "k":v pairs (no braces) */
static int emit_fields(ctx *c, uint32_t t, entries *es, int *first, int top, const char *av, const char *kind,
                       const char *rv) {
  const k8s_type *ty = &k8s_types[t];
  for (uint32_t j = 0; j < ty->nfields; j++) {
    const k8s_field *f = &k8s_fields[ty->first + j];
    int omitempty = f->flags & F_OMITEMPTY;
    if (f->kind == K_TYPEMETA) {
      /* apiVersion and kind (omitempty): set at the top, empty in list items */
      if (top && kind && *kind) { /* TypeMeta declares Kind first */
        key(c, first, "kind");
        k8spb_put_jstring(c->out, kind, strlen(kind));
      }
      if (top && av && *av) {
        key(c, first, "apiVersion");
        k8spb_put_jstring(c->out, av, strlen(av));
      }
      continue;
    }
    size_t count;
    const entry *e = last_of(es, j, &count);
    if (f->flags & F_INLINE) {
      entries sub;
      const char *d = e ? e->data : "";
      if (scan(c, f->type, d, e ? e->len : 0, &sub)) {
        entries_free(&sub);
        return -1;
      }
      if (++c->depth > MAX_DEPTH) return fail(c, d, "nesting deeper than %d", MAX_DEPTH);
      int rc = emit_fields(c, f->type, &sub, first, 0, NULL, NULL, NULL);
      c->depth--;
      entries_free(&sub);
      if (rc) return -1;
      continue;
    }
    if (rv && f->num == 6 && f->kind == K_STRING && !strcmp(NAME(f->name), "resourceVersion")) {
      /* metadata.resourceVersion: the key's mod_revision, as the API server sets it */
      if (*rv || !omitempty) {
        key(c, first, NAME(f->name));
        k8spb_put_jstring(c->out, rv, strlen(rv));
      }
      continue;
    }
    switch (f->shape) {
    case C_ONE:
      if (f->kind == K_MSG) {
        const k8s_type *ft = &k8s_types[f->type];
        if (ft->special == S_WRAPPER && !e) { /* a nil slice */
          if (!omitempty) {
            key(c, first, NAME(f->name));
            puts_(c->out, "null");
          }
          continue;
        }
        if ((f->flags & F_OMITZERO) && msg_zero(e)) continue;
        key(c, first, NAME(f->name));
        if (emit_msg(c, f->type, e ? e->data : "", e ? e->len : 0, 0, NULL, NULL,
                     top && !strcmp(NAME(f->name), "metadata") ? rv : NULL))
          return -1;
        continue;
      }
      if (f->kind == K_BYTES) { /* []byte: nil unless on the wire */
        if (omitempty && (!e || e->len == 0)) continue;
        key(c, first, NAME(f->name));
        if (!e) puts_(c->out, "null");
        else put_b64(c->out, e->data, e->len);
        continue;
      }
      if (omitempty && scalar_zero(f, e)) continue;
      key(c, first, NAME(f->name));
      if (e ? emit_elem(c, f, e) : emit_zero(c, f)) return -1;
      continue;
    case C_PTR:
      if (!e) {
        if (!omitempty) {
          key(c, first, NAME(f->name));
          puts_(c->out, "null");
        }
        continue;
      }
      key(c, first, NAME(f->name));
      if (emit_elem(c, f, e)) return -1;
      continue;
    case C_SLICE: {
      if (!count) {
        if (!omitempty) {
          key(c, first, NAME(f->name));
          puts_(c->out, "null");
        }
        continue;
      }
      if (omitempty && f->kind != K_STRING && f->kind != K_BYTES && f->kind != K_MSG) {
        /* packed, possibly empty */
        size_t nonempty = 0;
        for (size_t i = 0; i < es->n; i++)
          if (es->e[i].idx == (int)j && (es->e[i].wt != PB_LEN || es->e[i].len)) nonempty++;
        if (!nonempty) continue;
      }
      key(c, first, NAME(f->name));
      putc_(c->out, '[');
      int firstel = 1;
      for (size_t i = 0; i < es->n; i++) {
        const entry *x = &es->e[i];
        if (x->idx != (int)j) continue;
        if (x->wt == PB_LEN && f->kind != K_STRING && f->kind != K_BYTES && f->kind != K_MSG) {
          if (emit_packed(c, f, x, &firstel)) return -1;
          continue;
        }
        if (!firstel) putc_(c->out, ',');
        firstel = 0;
        if (emit_elem(c, f, x)) return -1;
      }
      putc_(c->out, ']');
      continue;
    }
    case C_MAP:
      if (!count) {
        if (!omitempty) {
          key(c, first, NAME(f->name));
          puts_(c->out, "null");
        }
        continue;
      }
      key(c, first, NAME(f->name));
      if (emit_map(c, f, es, j, count)) return -1;
      continue;
    }
  }
  /* fields the schema does not know: kept, by number */
  for (size_t i = 0; i < es->n; i++) {
    const entry *x = &es->e[i];
    if (x->idx >= 0) continue;
    char name[16];
    snprintf(name, sizeof name, "#%u", x->num);
    key(c, first, name);
    if (x->wt == PB_LEN) put_b64(c->out, x->data, x->len);
    else put_uint(c->out, x->v);
  }
  return 0;
}

/* the first varint / LEN value of field num in a small special message */
static int get1(ctx *c, const char *p, size_t n, uint32_t num, int wt, pb_field *out, int *found) {
  const char *q = p, *end = p + n;
  *found = 0;
  for (;;) {
    const char *at = q;
    pb_field f;
    int r = pb_next(&q, end, &f);
    if (r == 0) return 0;
    if (r < 0) return fail(c, at, "truncated or malformed field");
    if (f.field == num) {
      if (f.wiretype != wt) return fail(c, at, "field %u has wire type %d", num, f.wiretype);
      *out = f;
      *found = 1;
    }
  }
}

static int emit_special(ctx *c, const k8s_type *ty, uint32_t t, const char *p, size_t n) {
  pb_field f1, f2, f3;
  int h1, h2, h3;
  switch (ty->special) {
  case S_TIME:
  case S_MICROTIME: {
    if (n == 0) {
      puts_(c->out, "null");
      return 0;
    }
    if (get1(c, p, n, 1, PB_VARINT, &f1, &h1) || get1(c, p, n, 2, PB_VARINT, &f2, &h2)) return -1;
    char tb[48];
    /* metav1.Time reads the seconds only (time_proto.go) */
    int32_t ns = ty->special == S_MICROTIME && h2 ? (int32_t)(uint32_t)f2.v : 0;
    size_t len = k8spb_rfc3339(h1 ? (int64_t)f1.v : 0, ns, ty->special == S_MICROTIME, tb);
    if (!len) return fail(c, p, "a time outside years 0-9999");
    putc_(c->out, '"');
    put(c->out, tb, len);
    putc_(c->out, '"');
    return 0;
  }
  case S_QUANTITY:
    if (get1(c, p, n, 1, PB_LEN, &f1, &h1)) return -1;
    if (!h1 || !f1.len) puts_(c->out, "\"0\"");
    else k8spb_put_jstring(c->out, f1.data, f1.len);
    return 0;
  case S_INTORSTR:
    if (get1(c, p, n, 1, PB_VARINT, &f1, &h1) || get1(c, p, n, 2, PB_VARINT, &f2, &h2) ||
        get1(c, p, n, 3, PB_LEN, &f3, &h3))
      return -1;
    if (h1 && f1.v == 1) k8spb_put_jstring(c->out, h3 ? f3.data : "", h3 ? f3.len : 0);
    else if (!h1 || f1.v == 0) put_int(c->out, h2 ? (int32_t)(uint32_t)f2.v : 0);
    else return fail(c, p, "IntOrString of type %" PRIu64, f1.v);
    return 0;
  case S_DURATION: {
    if (get1(c, p, n, 1, PB_VARINT, &f1, &h1)) return -1;
    char d[48];
    size_t len = k8spb_duration(h1 ? (int64_t)f1.v : 0, d);
    k8spb_put_jstring(c->out, d, len);
    return 0;
  }
  case S_RAWJSON:
    if (get1(c, p, n, 1, PB_LEN, &f1, &h1)) return -1;
    if (!h1 || !f1.len) puts_(c->out, "null");
    else if (k8spb_put_compact(c->out, f1.data, f1.len)) return fail(c, f1.data, "raw JSON that is not valid JSON");
    return 0;
  default: break;
  }
  /* the apiextensions unions and the wrappers: their fields, then the rule */
  entries es;
  if (scan(c, t, p, n, &es)) {
    entries_free(&es);
    return -1;
  }
  int rc = 0;
  const k8s_field *fa = &k8s_fields[ty->first], *fb = &k8s_fields[ty->first + 1];
  size_t na = 0, nb = 0;
  const entry *ea = last_of(&es, 0, &na), *eb = ty->nfields > 1 ? last_of(&es, 1, &nb) : NULL;
  switch (ty->special) {
  case S_WRAPPER: {
    putc_(c->out, '[');
    int firstel = 1;
    for (size_t i = 0; i < es.n && !rc; i++) {
      if (es.e[i].idx != 0) continue;
      if (!firstel) putc_(c->out, ',');
      firstel = 0;
      rc = emit_elem(c, fa, &es.e[i]);
    }
    putc_(c->out, ']');
    break;
  }
  case S_PROPS_OR_ARRAY: /* fields: schema (ptr), jSONSchemas (slice) */
  case S_PROPS_OR_STRARRAY: {
    /* OrArray: JSONSchemas when any, else the schema (null when nil);
     * OrStringArray: Property when any, else the schema, else null */
    const k8s_field *fs = fa->shape == C_PTR ? fa : fb, *fl = fa->shape == C_PTR ? fb : fa;
    const entry *es_ = fa->shape == C_PTR ? ea : eb;
    int li = fa->shape == C_PTR ? 1 : 0;
    size_t nl = fa->shape == C_PTR ? nb : na;
    if (nl) {
      putc_(c->out, '[');
      int firstel = 1;
      for (size_t i = 0; i < es.n && !rc; i++) {
        if (es.e[i].idx != li) continue;
        if (!firstel) putc_(c->out, ',');
        firstel = 0;
        rc = emit_elem(c, fl, &es.e[i]);
      }
      putc_(c->out, ']');
    } else if (es_)
      rc = emit_elem(c, fs, es_);
    else
      puts_(c->out, "null");
    break;
  }
  case S_PROPS_OR_BOOL: { /* fields: allows (bool), schema (ptr) */
    const k8s_field *fs = fa->kind == K_MSG ? fa : fb;
    const entry *es_ = fa->kind == K_MSG ? ea : eb, *eallow = fa->kind == K_MSG ? eb : ea;
    if (es_) rc = emit_elem(c, fs, es_);
    else puts_(c->out, eallow && eallow->v ? "true" : "false");
    break;
  }
  }
  entries_free(&es);
  return rc;
}

static int emit_msg(ctx *c, uint32_t t, const char *p, size_t n, int top, const char *av, const char *kind,
                    const char *rv) {
  const k8s_type *ty = &k8s_types[t];
  if (++c->depth > MAX_DEPTH) return fail(c, p, "nesting deeper than %d", MAX_DEPTH);
  int rc;
  if (ty->special != S_NONE) {
    rc = emit_special(c, ty, t, p, n);
  } else {
    entries es;
    rc = scan(c, t, p, n, &es);
    if (!rc) {
      int first = 1;
      putc_(c->out, '{');
      rc = emit_fields(c, t, &es, &first, top, av, kind, rv);
      putc_(c->out, '}');
    }
    entries_free(&es);
  }
  c->depth--;
  if (!rc && c->out->oom) {
    c->err->kind = K8SPB_NOMEM;
    snprintf(c->err->message, sizeof c->err->message, "k8s: out of memory");
    return -1;
  }
  return rc;
}

int k8spb_msg_json(uint32_t t, const char *msg, size_t n, const char *base, int top, const char *av, const char *kind,
                   const char *rv, pb_buf *out, k8spb_err *err) {
  ctx c = {out, err, base ? base : msg, 0};
  err->kind = K8SPB_OK;
  if (t >= NTYPES) return fail(&c, msg, "no type %u", t);
  return emit_msg(&c, t, msg, n, top, av, kind, rv);
}

int k8spb_json(const char *v, size_t n, const char *rv, pb_buf *out, k8spb_err *err) {
  ctx c = {out, err, v, 0};
  memset(err, 0, sizeof *err);
  if (n < K8SPB_MAGIC_LEN || memcmp(v, K8SPB_MAGIC, K8SPB_MAGIC_LEN))
    return fail(&c, v, "no k8s protobuf magic (k8s\\0)");
  const char *q = v + K8SPB_MAGIC_LEN, *end = v + n;
  const char *raw = NULL, *tm = NULL;
  size_t rawlen = 0, tmlen = 0;
  for (;;) {
    const char *at = q;
    pb_field f;
    int r = pb_next(&q, end, &f);
    if (r == 0) break;
    if (r < 0) return fail(&c, at, "truncated or malformed runtime.Unknown envelope");
    if (f.field == 1 && f.wiretype == PB_LEN) {
      tm = f.data;
      tmlen = f.len;
    } else if (f.field == 2 && f.wiretype == PB_LEN) {
      raw = f.data;
      rawlen = f.len;
    } else if (f.field == 3 && f.wiretype == PB_LEN && f.len) {
      return fail(&c, at, "content encoding '%.*s' is not supported", (int)(f.len > 40 ? 40 : f.len), f.data);
    }
  }
  const char *avp = "", *kp = "";
  size_t avl = 0, kl = 0;
  if (tm) {
    const char *p = tm, *e = tm + tmlen;
    for (;;) {
      const char *at = p;
      pb_field f;
      int r = pb_next(&p, e, &f);
      if (r == 0) break;
      if (r < 0) return fail(&c, at, "truncated or malformed typeMeta");
      if (f.field == 1 && f.wiretype == PB_LEN) avp = f.data, avl = f.len;
      if (f.field == 2 && f.wiretype == PB_LEN) kp = f.data, kl = f.len;
    }
  }
  snprintf(err->api_version, sizeof err->api_version, "%.*s", (int)avl, avp);
  snprintf(err->kind_name, sizeof err->kind_name, "%.*s", (int)kl, kp);
  int32_t t = k8spb_lookup(avp, avl, kp, kl);
  if (t < 0) {
    err->kind = K8SPB_UNKNOWNTYPE;
    snprintf(err->message, sizeof err->message, "k8s: no schema for apiVersion '%.90s' kind '%.90s'", err->api_version,
             err->kind_name);
    return -1;
  }
  return emit_msg(&c, (uint32_t)t, raw ? raw : "", rawlen, 1, err->api_version, err->kind_name, rv);
}
