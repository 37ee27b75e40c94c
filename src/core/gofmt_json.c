/* gofmt_json.c: JSON text in, Go's encoding/json text out, without a
 * scripting language in between.  A parser builds a small tree of one value
 * (nodes point into the input: nothing is copied), and a writer prints the
 * tree the way json.MarshalIndent prints the map[string]interface{} that
 * kubectl decodes: keys sorted by byte (the last of duplicates wins),
 * integers as they came, floats in Go's shortest form (a number a double
 * cannot hold keeps its text), strings with Go's escaping.  The output paths
 * of `get -o json|yaml` use it item by item, so memory stays bounded by one
 * item whatever the size of the list.  No Lua here. */
#include "gofmt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* skips, 16 bytes at a time, printable ASCII other than " and \\ (and <,
 * >, & when html is set); stops at most 16 bytes before end */
static const unsigned char *jskip(const unsigned char *p, const unsigned char *end, int html) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
  const __m128i lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
    if (html)
      m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, amp),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt))));
    int mask = _mm_movemask_epi8(m);
    if (mask) return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#else
  (void)end;
  (void)html;
#endif
  return p;
}

/* ---------------------------------------------------------------- the tree */

/* Empties d for the next value (keeps the allocations). */
void gofmt_jdoc_reset(gofmt_jdoc *d) {
  d->n = 0;
  d->err = NULL;
  d->errpos = NULL;
}

/* Frees what d holds. */
void gofmt_jdoc_free(gofmt_jdoc *d) {
  free(d->nodes);
  free(d->scratch);
  memset(d, 0, sizeof *d);
}

static int jd_new(gofmt_jdoc *d) {
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 1024;
    gofmt_jnode *n = realloc(d->nodes, cap * sizeof *n);
    if (!n) return -1;
    d->nodes = n;
    d->cap = cap;
  }
  gofmt_jnode *x = &d->nodes[d->n];
  memset(x, 0, sizeof *x);
  x->child = x->next = -1;
  return (int)d->n++;
}

static int jd_fail(gofmt_jdoc *d, const char *at, const char *what) {
  if (!d->err) {
    d->err = what;
    d->errpos = at;
  }
  return -1;
}

#define JWS(p) \
  while (*(p) == ' ' || *(p) == '\n' || *(p) == '\r' || *(p) == '\t') (p)++

static int jhex(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* scans the string whose opening quote is at *pp; sets its raw span and
 * whether it holds escapes or bytes >= 0x80; *pp after the closing quote */
static int jd_string(gofmt_jdoc *d, const char **pp, const char **s, size_t *len, uint8_t *flags) {
  const unsigned char *p = (const unsigned char *)*pp + 1, *start = p;
  const unsigned char *end = (const unsigned char *)d->end;
  uint8_t f = 0;
  for (;;) {
    p = jskip(p, end, 0);
    while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) p++;
    if (p >= end) return jd_fail(d, (const char *)p, "unexpected end of input");
    unsigned c = *p;
    if (c == '"') break;
    if (c == '\\') {
      f |= GOFMT_J_ESC;
      if (end - p < 2) return jd_fail(d, (const char *)p, "unexpected end of input");
      switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case 'u':
        if (end - p < 6) return jd_fail(d, (const char *)p, "unexpected end of input");
        for (int i = 2; i < 6; i++)
          if (jhex(p[i]) < 0) return jd_fail(d, (const char *)p + i, "invalid \\u escape");
        p += 6;
        break;
      default:
        return jd_fail(d, (const char *)p, "invalid escape");
      }
    } else if (c >= 0x80) {
      uint32_t cp;
      int n = gofmt_utf8_decode(p, (size_t)(end - p), &cp);
      if (!n) return jd_fail(d, (const char *)p, "invalid UTF-8");
      f |= GOFMT_J_HIGH;
      p += n;
    } else {
      return jd_fail(d, (const char *)p, "control character in string");
    }
  }
  *s = (const char *)start;
  *len = (size_t)(p - start);
  *flags = f;
  *pp = (const char *)p + 1;
  return 0;
}

static int jd_value(gofmt_jdoc *d, const char **pp, int depth);

static int jd_number(gofmt_jdoc *d, const char **pp, int id) {
  const char *p = *pp, *s = p;
  int isfloat = 0;
  if (*p == '-') p++;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (*p >= '0' && *p <= '9') p++;
  } else {
    return jd_fail(d, p, "invalid number");
  }
  if (*p == '.') {
    p++;
    isfloat = 1;
    if (!(*p >= '0' && *p <= '9')) return jd_fail(d, p, "invalid number");
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    isfloat = 1;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return jd_fail(d, p, "invalid number");
    while (*p >= '0' && *p <= '9') p++;
  }
  gofmt_jnode *x = &d->nodes[id];
  x->type = 'n';
  x->s = s;
  x->len = (size_t)(p - s);
  x->flags = isfloat ? GOFMT_J_FLOAT : 0;
  *pp = p;
  return 0;
}

static int jd_lit(gofmt_jdoc *d, const char **pp, const char *lit, size_t n, int id, char type) {
  if ((size_t)(d->end - *pp) < n || memcmp(*pp, lit, n) != 0) return jd_fail(d, *pp, "invalid literal");
  d->nodes[id].type = (uint8_t)type;
  *pp += n;
  return 0;
}

/* parses one value at *pp into a new node; returns its index or -1 */
static int jd_value(gofmt_jdoc *d, const char **pp, int depth) {
  const char *p = *pp;
  JWS(p);
  if (p >= d->end) return jd_fail(d, p, "unexpected end of input");
  if (depth > 1000) return jd_fail(d, p, "nesting too deep");
  int id = jd_new(d);
  if (id < 0) return jd_fail(d, p, "out of memory");
  switch (*p) {
  case '{': case '[': {
    char close = *p == '{' ? '}' : ']';
    d->nodes[id].type = *p == '{' ? 'o' : 'a';
    p++;
    JWS(p);
    int last = -1;
    size_t count = 0;
    if (*p == close) {
      p++;
    } else {
      for (;;) {
        const char *k = NULL;
        size_t klen = 0;
        uint8_t kf = 0;
        if (close == '}') {
          JWS(p);
          if (*p != '"') return jd_fail(d, p, "object key expected");
          if (jd_string(d, &p, &k, &klen, &kf)) return -1;
          JWS(p);
          if (*p != ':') return jd_fail(d, p, "':' expected");
          p++;
        }
        int c = jd_value(d, &p, depth + 1);
        if (c < 0) return -1;
        gofmt_jnode *cn = &d->nodes[c];
        cn->k = k;
        cn->klen = klen;
        cn->kflags = kf;
        if (last < 0) d->nodes[id].child = c;
        else d->nodes[last].next = c;
        last = c;
        count++;
        JWS(p);
        if (*p == ',') {
          p++;
          continue;
        }
        if (*p == close) {
          p++;
          break;
        }
        return jd_fail(d, p, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
      }
    }
    d->nodes[id].count = count;
    break;
  }
  case '"': {
    const char *s;
    size_t len;
    uint8_t f;
    if (jd_string(d, &p, &s, &len, &f)) return -1;
    gofmt_jnode *x = &d->nodes[id];
    x->type = 's';
    x->s = s;
    x->len = len;
    x->flags = f;
    break;
  }
  case 't': if (jd_lit(d, &p, "true", 4, id, 't')) return -1; break;
  case 'f': if (jd_lit(d, &p, "false", 5, id, 'f')) return -1; break;
  case 'n': if (jd_lit(d, &p, "null", 4, id, 'z')) return -1; break;
  default:
    if (jd_number(d, &p, id)) return -1;
  }
  *pp = p;
  return id;
}

/* Parses one JSON value at *pp (end: the end of the text, which must be
 * followed by a NUL or any byte that ends a number) into d's tree, after
 * d's existing nodes; returns the index of its node and moves *pp past it,
 * or returns -1 with d->err and d->errpos set. */
int gofmt_jparse(gofmt_jdoc *d, const char **pp, const char *end) {
  d->end = end;
  return jd_value(d, pp, 0);
}

/* Finds the member key in object node obj (the last one, as a decoder
 * keeps); returns its index or -1.  Keys with escapes never match. */
int gofmt_jget(const gofmt_jdoc *d, int obj, const char *key) {
  size_t kl = strlen(key);
  int hit = -1;
  if (obj < 0 || d->nodes[obj].type != 'o') return -1;
  for (int c = d->nodes[obj].child; c >= 0; c = d->nodes[c].next) {
    const gofmt_jnode *x = &d->nodes[c];
    if (x->klen == kl && !(x->kflags & GOFMT_J_ESC) && memcmp(x->k, key, kl) == 0) hit = c;
  }
  return hit;
}

/* Decodes the escapes of the raw string s[0..n) into out (at least n bytes:
 * the text never grows); returns the length.  The text was checked by the
 * parser.  A lone surrogate becomes U+FFFD, as in Go. */
size_t gofmt_junescape(const char *s, size_t n, char *out) {
  const unsigned char *q = (const unsigned char *)s, *p = q + n;
  char *o = out;
  while (q < p) {
    const unsigned char *bs = memchr(q, '\\', (size_t)(p - q));
    if (!bs) bs = p;
    memcpy(o, q, (size_t)(bs - q));
    o += bs - q;
    q = bs;
    if (q == p) break;
    unsigned char e = q[1];
    q += 2;
    switch (e) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      uint32_t cp = (uint32_t)((jhex(q[0]) << 12) | (jhex(q[1]) << 8) | (jhex(q[2]) << 4) | jhex(q[3]));
      q += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p - q >= 6 && q[0] == '\\' && q[1] == 'u' && jhex(q[2]) >= 0 &&
          jhex(q[3]) >= 0 && jhex(q[4]) >= 0 && jhex(q[5]) >= 0) {
        uint32_t lo = (uint32_t)((jhex(q[2]) << 12) | (jhex(q[3]) << 8) | (jhex(q[4]) << 4) | jhex(q[5]));
        if (lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          q += 6;
        }
      }
      if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
      if (cp < 0x80) {
        *o++ = (char)cp;
      } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
      } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
      }
      break;
    }
    default: *o++ = (char)e; break;
    }
  }
  return (size_t)(o - out);
}

/* The text of a string node or key: the raw span when it has no escapes,
 * else decoded into the doc's scratch space (valid until the next call). */
const char *gofmt_jtext(gofmt_jdoc *d, const char *s, size_t n, uint8_t flags, size_t *len) {
  if (!(flags & GOFMT_J_ESC)) {
    *len = n;
    return s;
  }
  if (d->scap < n + 1) {
    char *x = realloc(d->scratch, n + 1);
    if (!x) return NULL;
    d->scratch = x;
    d->scap = n + 1;
  }
  *len = gofmt_junescape(s, n, d->scratch);
  return d->scratch;
}

/* Does the double x hold the JSON number text s..e exactly (its shortest
 * form has the same decimal value)?  Also used by the Lua codec (json.c). */
int gofmt_jnum_exact(const char *s, const char *e, double x) {
  char dig[18];
  int nd = 0, sig = 0, frac = 0, lost = 0;
  long ex = 0;
  const char *p = s;
  if (*p == '-') p++;
  for (; p < e && *p != 'e' && *p != 'E'; p++) {
    if (*p == '.') {
      frac = 1;
      continue;
    }
    if (!sig && *p == '0') {
      if (frac) ex--;
      continue;
    }
    sig = 1;
    if (!frac) ex++;
    if (nd < 17) dig[nd++] = *p;
    else if (*p != '0') lost = 1;
  }
  if (!sig) return 1;
  if (lost) return 0;
  while (nd > 0 && dig[nd - 1] == '0') nd--;
  if (p < e) {
    p++;
    int neg = *p == '-';
    if (*p == '+' || *p == '-') p++;
    long v = 0;
    for (; p < e; p++)
      if (v < 100000) v = v * 10 + (*p - '0');
    ex += neg ? -v : v;
  }
  if (nd <= 15 && ex > -290 && ex < 300) return 1;
  if (!isfinite(x) || x == 0) return 0;
  char sd[20];
  int se;
  int sn = gofmt_shortest(x, sd, &se);
  return sn == nd && se == ex && memcmp(sd, dig, (size_t)nd) == 0;
}

/* What a JSON decoder that keeps int64 and exact doubles makes of the
 * number text s[0..n) (json.decode's rule): an integer that fits int64 ->
 * GOFMT_JNUM_INT in *i (-0 is the float -0.0); a float a double holds
 * exactly -> GOFMT_JNUM_FLOAT in *f; anything else -> GOFMT_JNUM_TEXT (the
 * text is kept as it is). */
int gofmt_jnumber(const char *s, size_t n, int isfloat, int64_t *i, double *f) {
  if (!isfloat) {
    int neg = *s == '-';
    size_t nd = n - (size_t)neg;
    if (nd <= 19) {
      unsigned long long u = 0;
      for (const char *q = s + neg; q < s + n; q++) u = u * 10 + (unsigned)(*q - '0');
      if (neg && u == 0) {
        *f = -0.0;
        return GOFMT_JNUM_FLOAT;
      }
      if (!neg && u <= (unsigned long long)INT64_MAX) {
        *i = (int64_t)u;
        return GOFMT_JNUM_INT;
      }
      if (neg && u <= (unsigned long long)INT64_MAX + 1) {
        *i = (int64_t)(0ULL - u);
        return GOFMT_JNUM_INT;
      }
    }
    return GOFMT_JNUM_TEXT;
  }
  char buf[64];
  if (n >= sizeof buf) return GOFMT_JNUM_TEXT;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *endp;
  double x = strtod(buf, &endp);
  if (endp != buf + n) return GOFMT_JNUM_TEXT;
  if (!gofmt_jnum_exact(s, s + n, x)) return GOFMT_JNUM_TEXT;
  *f = x;
  return GOFMT_JNUM_FLOAT;
}

/* ---------------------------------------------------------------- sorting */

typedef struct {
  const char *k;
  size_t klen;
  int node, order;
} jkey;

static int jkey_cmp(const void *a, const void *b) {
  const jkey *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* The members of object node obj sorted by key (Go's map order), the last
 * of duplicate keys only; extra members (kind/apiVersion added by the
 * caller) take part; returns the count, or -1 when out of memory.  *keys
 * is malloc'ed (free it). */
static int jsorted(gofmt_jdoc *d, int obj, const gofmt_jextra *extra, size_t nextra, jkey **keys) {
  size_t n = d->nodes[obj].count + nextra, m = 0;
  jkey *v = malloc((n ? n : 1) * sizeof *v);
  if (!v) return -1;
  char *held = NULL; /* decoded keys with escapes, kept in one block */
  size_t hlen = 0;
  for (int c = d->nodes[obj].child; c >= 0; c = d->nodes[c].next) {
    gofmt_jnode *x = &d->nodes[c];
    v[m].k = x->k;
    v[m].klen = x->klen;
    if (x->kflags & GOFMT_J_ESC) hlen += x->klen;
    v[m].node = c;
    v[m].order = (int)m;
    m++;
  }
  if (hlen) {
    held = malloc(hlen);
    if (!held) {
      free(v);
      return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < m; i++) {
      gofmt_jnode *x = &d->nodes[v[i].node];
      if (!(x->kflags & GOFMT_J_ESC)) continue;
      v[i].klen = gofmt_junescape(x->k, x->klen, held + off);
      v[i].k = held + off;
      off += x->klen;
    }
  }
  for (size_t i = 0; i < nextra; i++) {
    v[m].k = extra[i].key;
    v[m].klen = strlen(extra[i].key);
    v[m].node = -1 - (int)i;
    v[m].order = -1 - (int)i; /* before the object's own members: those win */
    m++;
  }
  if (m <= 12) {
    for (size_t i = 1; i < m; i++) {
      jkey t = v[i];
      size_t j = i;
      while (j > 0 && jkey_cmp(&v[j - 1], &t) > 0) {
        v[j] = v[j - 1];
        j--;
      }
      v[j] = t;
    }
  } else {
    qsort(v, m, sizeof *v, jkey_cmp);
  }
  /* keep the last of each run of equal keys */
  size_t w = 0;
  for (size_t i = 0; i < m; i++) {
    if (i + 1 < m && v[i].klen == v[i + 1].klen && memcmp(v[i].k, v[i + 1].k, v[i].klen) == 0) continue;
    v[w++] = v[i];
  }
  /* the keys point into held: it must live as long as v, so v owns it */
  d->held = held;
  *keys = v;
  return (int)w;
}

/* ---------------------------------------------------------------- writing */

static int out_need(buf_t *b, size_t k) { return buf_reserve(b, k, 4096); }

static void out_put(buf_t *b, const char *s, size_t n) {
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static const char jhexdig[] = "0123456789abcdef";

/* Appends s[0..n) as a Go JSON string (encoding/json's encodeState.string
 * with HTML escaping when html): \" \\ \b \f \n \r \t, other control bytes as
 * \u00xx, <>& as \u003c.., U+2028/9 escaped, invalid UTF-8 bytes as
 * \ufffd.  Returns 0, or -1 when out of memory. */
int gofmt_jquote(buf_t *b, const char *str, size_t n, int html) {
  const unsigned char *s = (const unsigned char *)str, *end = s + n, *p = s, *run = s;
  if (out_need(b, n + 2)) return -1;
  b->p[b->len++] = '"';
  for (;;) {
    p = jskip(p, end, html);
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\' &&
           !(html && (*p == '<' || *p == '>' || *p == '&')))
      p++;
    if (p > run) {
      if (out_need(b, (size_t)(p - run))) return -1;
      out_put(b, (const char *)run, (size_t)(p - run));
    }
    if (p >= end) break;
    if (out_need(b, 8)) return -1;
    unsigned c = *p;
    if (c >= 0x80) {
      uint32_t cp;
      int k = gofmt_utf8_decode(p, (size_t)(end - p), &cp);
      if (k == 0) {
        out_put(b, "\\ufffd", 6);
        p++;
      } else if (cp == 0x2028 || cp == 0x2029) {
        out_put(b, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
        p += k;
      } else {
        out_put(b, (const char *)p, (size_t)k);
        p += k;
      }
      run = p;
      continue;
    }
    b->p[b->len++] = '\\';
    switch (c) {
    case '"': case '\\': b->p[b->len++] = (char)c; break;
    case '\b': b->p[b->len++] = 'b'; break;
    case '\f': b->p[b->len++] = 'f'; break;
    case '\n': b->p[b->len++] = 'n'; break;
    case '\r': b->p[b->len++] = 'r'; break;
    case '\t': b->p[b->len++] = 't'; break;
    default:
      out_put(b, "u00", 3);
      b->p[b->len++] = jhexdig[c >> 4];
      b->p[b->len++] = jhexdig[c & 15];
    }
    run = ++p;
  }
  if (out_need(b, 1)) return -1;
  b->p[b->len++] = '"';
  return 0;
}

/* a raw string span (escaped as it came) written as Go writes its text */
static int jw_string(gofmt_jdoc *d, buf_t *b, const char *s, size_t n, uint8_t flags, int html) {
  if (!(flags & (GOFMT_J_ESC | GOFMT_J_HIGH))) {
    const char *p = s, *e = s + n;
    if (html) {
      p = (const char *)jskip((const unsigned char *)p, (const unsigned char *)e, 1);
      while (p < e && *p != '<' && *p != '>' && *p != '&') p++;
    } else {
      p = e;
    }
    if (p == e) { /* nothing to change */
      if (out_need(b, n + 2)) return -1;
      b->p[b->len++] = '"';
      out_put(b, s, n);
      b->p[b->len++] = '"';
      return 0;
    }
  }
  size_t len;
  const char *t = gofmt_jtext(d, s, n, flags, &len);
  if (!t) return -1;
  return gofmt_jquote(b, t, len, html);
}

static int jw_indent(buf_t *b, const gofmt_jwopts *o, int depth) {
  size_t k = 1 + (size_t)depth * o->indentlen;
  if (out_need(b, k)) return -1;
  b->p[b->len++] = '\n';
  for (int i = 0; i < depth; i++) out_put(b, o->indent, o->indentlen);
  return 0;
}

static int jw_value(gofmt_jdoc *d, int id, buf_t *b, const gofmt_jwopts *o, int depth, int level,
                    const gofmt_jextra *extra, size_t nextra);

static int jw_number(const gofmt_jnode *x, buf_t *b) {
  int64_t i;
  double f;
  if (out_need(b, x->len + GOFMT_FLOAT_MAX)) return -1;
  switch (gofmt_jnumber(x->s, x->len, x->flags & GOFMT_J_FLOAT, &i, &f)) {
  case GOFMT_JNUM_INT: b->len += gofmt_int(b->p + b->len, i); break;
  case GOFMT_JNUM_FLOAT: b->len += gofmt_json_float(f, b->p + b->len); break;
  default: out_put(b, x->s, x->len);
  }
  return 0;
}

static int jw_object(gofmt_jdoc *d, int id, buf_t *b, const gofmt_jwopts *o, int depth, int level,
                     const gofmt_jextra *extra, size_t nextra) {
  jkey *keys;
  int n = jsorted(d, id, extra, nextra, &keys);
  char *held = d->held;
  d->held = NULL;
  if (n < 0) return -1;
  int rc = 0, written = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    /* the item's metadata.managedFields, unless asked for */
    if (level == 1 && o->drop_managed && keys[i].klen == 13 && memcmp(keys[i].k, "managedFields", 13) == 0)
      continue;
    if (out_need(b, 2)) {
      rc = -1;
      break;
    }
    b->p[b->len++] = written ? ',' : '{';
    written = 1;
    if (o->indent && jw_indent(b, o, depth + 1)) {
      rc = -1;
      break;
    }
    if (gofmt_jquote(b, keys[i].k, keys[i].klen, o->html) || out_need(b, 2)) {
      rc = -1;
      break;
    }
    if (o->indent) out_put(b, ": ", 2);
    else b->p[b->len++] = ':';
    if (keys[i].node < 0) {
      const gofmt_jextra *x = &extra[-1 - keys[i].node];
      rc = gofmt_jquote(b, x->value, strlen(x->value), o->html);
    } else {
      int meta = level == 0 && keys[i].klen == 8 && memcmp(keys[i].k, "metadata", 8) == 0;
      rc = jw_value(d, keys[i].node, b, o, depth + 1, meta ? 1 : 2, NULL, 0);
    }
  }
  free(keys);
  free(held);
  if (rc) return -1;
  if (!written) {
    if (out_need(b, 2)) return -1;
    out_put(b, "{}", 2);
    return 0;
  }
  if (o->indent && jw_indent(b, o, depth)) return -1;
  if (out_need(b, 1)) return -1;
  b->p[b->len++] = '}';
  return 0;
}

static int jw_value(gofmt_jdoc *d, int id, buf_t *b, const gofmt_jwopts *o, int depth, int level,
                    const gofmt_jextra *extra, size_t nextra) {
  const gofmt_jnode *x = &d->nodes[id];
  switch (x->type) {
  case 'o':
    return jw_object(d, id, b, o, depth, level, extra, nextra);
  case 'a': {
    if (x->count == 0) {
      if (out_need(b, 2)) return -1;
      out_put(b, "[]", 2);
      return 0;
    }
    int first = 1;
    for (int c = x->child; c >= 0; c = d->nodes[c].next) {
      if (out_need(b, 1)) return -1;
      b->p[b->len++] = first ? '[' : ',';
      first = 0;
      if (o->indent && jw_indent(b, o, depth + 1)) return -1;
      if (jw_value(d, c, b, o, depth + 1, 2, NULL, 0)) return -1;
    }
    if (o->indent && jw_indent(b, o, depth)) return -1;
    if (out_need(b, 1)) return -1;
    b->p[b->len++] = ']';
    return 0;
  }
  case 's': return jw_string(d, b, x->s, x->len, x->flags, o->html);
  case 'n': return jw_number(x, b);
  case 't':
    if (out_need(b, 4)) return -1;
    out_put(b, "true", 4);
    return 0;
  case 'f':
    if (out_need(b, 5)) return -1;
    out_put(b, "false", 5);
    return 0;
  default:
    if (out_need(b, 4)) return -1;
    out_put(b, "null", 4);
    return 0;
  }
}

/* Appends node id of d to b as json.MarshalIndent(v, prefix, indent) would
 * write the value decoded into Go's interface{} types, starting at indent
 * depth `depth` (the first line is not indented: the caller writes what
 * goes before it).  extra: string members added to the top object when
 * it lacks them (kind, apiVersion of a list's items).  Returns 0, or -1
 * when out of memory. */
int gofmt_jwrite(gofmt_jdoc *d, int id, buf_t *b, const gofmt_jwopts *o, int depth,
                 const gofmt_jextra *extra, size_t nextra) {
  return jw_value(d, id, b, o, depth, 0, extra, nextra);
}

/* ---------------------------------------------------------------- lists */

/* Starts reading the Kubernetes list in s[0..len) (NUL after it). */
void gofmt_jlist_init(gofmt_jlist *it, const char *s, size_t len) {
  memset(it, 0, sizeof *it);
  it->p = it->start = s;
  it->end = s + len;
}

static int jl_fail(gofmt_jlist *it, gofmt_jdoc *d, const char *what) {
  if (!d->err) {
    d->err = what;
    d->errpos = it->p;
  }
  it->state = 4;
  return -2;
}

/* Reads the list up to its next item, which it parses into d (reset
 * first): returns the item's node, -1 at the end of the list (the text
 * checked to its end), -2 on invalid JSON (d->err, d->errpos).  On the way
 * it notes metadata.continue and kind (raw spans into the text). */
int gofmt_jlist_next(gofmt_jlist *it, gofmt_jdoc *d) {
  const char *p = it->p;
  gofmt_jdoc_reset(d);
  d->end = it->end;
  for (;;) {
    JWS(p);
    it->p = p;
    switch (it->state) {
    case 0: /* before the list */
      if (*p != '{') return jl_fail(it, d, "a JSON object expected");
      p++;
      JWS(p);
      if (*p == '}') {
        p++;
        it->state = 3;
      } else {
        it->state = 1;
      }
      continue;
    case 1: { /* at a member */
      if (*p != '"') return jl_fail(it, d, "object key expected");
      const char *k;
      size_t klen;
      uint8_t kf;
      if (jd_string(d, &p, &k, &klen, &kf)) return jl_fail(it, d, "invalid key");
      JWS(p);
      if (*p != ':') {
        it->p = p;
        return jl_fail(it, d, "':' expected");
      }
      p++;
      JWS(p);
      if (!kf && klen == 5 && memcmp(k, "items", 5) == 0 && *p == '[') {
        p++;
        JWS(p);
        if (*p == ']') {
          p++;
          it->state = 5;
        } else {
          it->state = 2;
          it->p = p;
          int v = jd_value(d, &p, 0);
          if (v < 0) {
            it->state = 4;
            return -2;
          }
          it->p = p;
          return v;
        }
        continue;
      }
      int v = jd_value(d, &p, 0);
      if (v < 0) {
        it->state = 4;
        return -2;
      }
      if (!kf && klen == 8 && memcmp(k, "metadata", 8) == 0) {
        int c = gofmt_jget(d, v, "continue");
        if (c >= 0 && d->nodes[c].type == 's') {
          it->cont = d->nodes[c].s;
          it->contlen = d->nodes[c].len;
          it->contflags = d->nodes[c].flags;
        }
      } else if (!kf && klen == 4 && memcmp(k, "kind", 4) == 0 && d->nodes[v].type == 's') {
        it->kind = d->nodes[v].s;
        it->kindlen = d->nodes[v].len;
        it->kindflags = d->nodes[v].flags;
      }
      gofmt_jdoc_reset(d);
      it->state = 5;
      continue;
    }
    case 5: /* after a member */
      if (*p == ',') {
        p++;
        it->state = 1;
      } else if (*p == '}') {
        p++;
        it->state = 3;
      } else {
        return jl_fail(it, d, "',' or '}' expected");
      }
      continue;
    case 2: { /* after an item */
      if (*p == ']') {
        p++;
        it->state = 5;
        continue;
      }
      if (*p != ',') return jl_fail(it, d, "',' or ']' expected");
      p++;
      int v = jd_value(d, &p, 0);
      if (v < 0) {
        it->state = 4;
        return -2;
      }
      it->p = p;
      return v;
    }
    case 3: /* after the list: only whitespace */
      if (p != it->end) return jl_fail(it, d, "unexpected data after the list");
      return -1;
    default:
      return -2;
    }
  }
}
