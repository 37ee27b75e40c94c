/* json.c: the json module, a JSON codec whose output matches Go's
 * encoding/json (so kubectl's and etcdctl's) byte for byte. lua-cjson 2.1.0
 * turns 3 into 3.0, keeps 14 digits, cannot tell [] from {} and writes \/.
 *
 * json.decode(s [, opts]) -> value | nil, err
 *   - integers that fit int64 become Lua integers, other numbers floats;
 *     "-0" becomes the float -0.0 (it re-encodes as -0, as Go does);
 *   - a number a double cannot hold exactly becomes a json.number: integers
 *     beyond int64 (18446744073709551615), more digits than a double keeps
 *     (1.0000000000000000001), 1e400, 1e-400. It is a userdata keeping the
 *     text and re-encodes verbatim; tostring() gives the text, arithmetic
 *     and < <= against numbers use the nearest float (tonumber(tostring(n))),
 *     == is true between json.numbers with the same text (never against a
 *     Lua number: Lua does not call __eq for mixed types), .. concatenates
 *     the text. json.number(text) makes one; json.number_mt is its metatable;
 *   - arrays get the shared metatable json.array_mt (no methods; __name
 *     "json.array"), so json.encode(json.decode("[]")) == "[]";
 *   - objects are plain tables without a metatable; with opts.order = true
 *     each object gets its own metatable {__jsonorder = {keys in document
 *     order}} so it re-encodes in that order (slower: use it for etcd-style
 *     struct-ordered output, not for big lists);
 *   - null becomes json.null, a NULL light userdata (== cjson.null);
 *   - strings must be valid UTF-8; \u escapes of lone surrogates become
 *     U+FFFD (as in Go); duplicate keys: the last wins;
 *   - nesting deeper than opts.depth (default 1000) is an error;
 *   - errors are nil, err with err.kind "parse", err.offset N (the 0-based
 *     byte offset) and err.message "json: <what> at offset N":
 *     "json: unexpected character 'x' at offset 12", "json: unexpected end
 *     of input at offset 4", "json: invalid UTF-8 at offset 1",
 *     "json: unexpected character 'x' after the value at offset 4".
 *     A non-string s or an unknown option raises (misuse).
 * json.decode_at(s, pos [, opts]) -> value, next_pos | nil | nil, err, errpos
 *   decodes one value at byte pos (1-based) after skipping whitespace, in
 *   place (no copy of s); next_pos is the byte just after the value. Only
 *   whitespace from pos on: a single nil. Error: nil, err, errpos with
 *   errpos = offset + 1; errpos == #s + 1 means the input ended inside the
 *   value (a partial record: wait for more bytes). For newline-delimited
 *   watch streams: loop decode_at until it returns nil.
 * json.encode(v [, opts]) -> string; raises "json: ..." on what JSON cannot
 *   hold: functions, threads, userdata other than json.null / json.number,
 *   NaN and infinities ("json: unsupported value: NaN", as Go), cycles,
 *   nesting deeper than 1000, keys that are not strings or integers.
 *   - integers as integers; floats as Go: shortest digits that read back,
 *     plain for 1e-6 <= |x| < 1e21 (3.0 -> 3, 1e20 -> 100000000000000000000),
 *     else 1.5e-7 / 1e+21;
 *   - strings as Go's encodeState.string: \" \\ \b \f \n \r \t, other
 *     bytes < 0x20 as \u00xx (lower-case hex), U+2028/U+2029 as \u2028/9,
 *     each invalid UTF-8 byte as \ufffd, / as is; <, >, & as \u003c
 *     \u003e \u0026 unless opts.escape_html == false. Lua strings holding
 *     binary data are therefore not preserved: base64 them first;
 *   - tables: marked with json.array_mt -> array of t[1..#t] (other keys
 *     ignored; an empty one is []); else keys exactly 1..n (n > 0) -> array;
 *     else an object: string keys, and integer keys written as decimal
 *     strings (like Go's map[int]); an empty unmarked table is {}. Keys are
 *     sorted by byte like Go's maps (opts.sort_keys = false: pairs() order,
 *     except tables with integer keys, which stay sorted); a metatable field
 *     __jsonorder = {"k1", "k2", ...} writes those keys first in that order
 *     (absent ones skipped), then the others sorted by byte. Objects keep
 *     their values on the Lua stack while written: about a million keys at
 *     most in one object;
 *   - opts.indent: a number of spaces or a string; output is then
 *     json.MarshalIndent(v, "", indent) byte for byte (": ", empty [] and
 *     {} kept on one line); 0, "" or nil: compact, as json.Marshal. No
 *     trailing newline either way.
 * json.array([t]) -> t marked with json.array_mt (a new table without t);
 *   raises if t has another metatable. json.isarray(v) -> is v marked?
 *
 * The decoder relies on the NUL byte Lua keeps after every string's last
 * byte: scanning stops at it, and (p == end) tells it from a NUL inside. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "gofmt.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define JSON_SSE2 1
#endif

int luaopen_json(lua_State *L);

#define JSON_DEFAULT_DEPTH 1000
/* upvalues shared by the module's functions */
#define UV_ARRAY_MT lua_upvalueindex(1)
#define UV_NUMBER_MT lua_upvalueindex(2)
#define UV_BUFFER_MT lua_upvalueindex(3)
#define UV_WL_MT lua_upvalueindex(4)
#define UV_KEYCACHE lua_upvalueindex(5)

/* ---------------------------------------------------------------- helpers */

/* character classes, filled once by luaopen_json */
static unsigned char str_plain[256];  /* decoder: byte needs no attention inside a string */
static unsigned char esc_go[256];     /* encoder: byte needs escaping (or UTF-8 checking) */
static unsigned char esc_nohtml[256]; /* same, with <, >, & left alone */

static void json_init_tables(void) {
  for (int c = 0; c < 256; c++) {
    int special = c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
    str_plain[c] = !special;
    esc_nohtml[c] = (unsigned char)special;
    esc_go[c] = (unsigned char)(special || c == '<' || c == '>' || c == '&');
  }
}

/* skips, 16 bytes at a time, bytes that need no attention: printable ASCII
 * other than " and \\ (and <, >, & when html is set); stops at most 16
 * bytes before end, the byte loops of the callers finish the job */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end, int html) {
#ifdef JSON_SSE2
  const __m128i sp = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
  const __m128i lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>'), amp = _mm_set1_epi8('&');
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* signed compare: < 0x20 catches control bytes and bytes >= 0x80 */
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, sp),
                             _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
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

#define IS_DIGIT(c) ((unsigned)((c) - '0') < 10)

/* scans a JSON number at p; returns its end, or NULL with *bad at the
 * offending byte; *isfloat tells a fraction or exponent was seen */
static const char *num_scan(const char *p, int *isfloat, const char **bad) {
  *isfloat = 0;
  if (*p == '-') p++;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (IS_DIGIT(*p)) p++;
  } else {
    *bad = p;
    return NULL;
  }
  if (*p == '.') {
    p++;
    *isfloat = 1;
    if (!IS_DIGIT(*p)) {
      *bad = p;
      return NULL;
    }
    while (IS_DIGIT(*p)) p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    *isfloat = 1;
    if (*p == '+' || *p == '-') p++;
    if (!IS_DIGIT(*p)) {
      *bad = p;
      return NULL;
    }
    while (IS_DIGIT(*p)) p++;
  }
  return p;
}

/* ---------------------------------------------------------------- json.number */

static void push_number_obj(lua_State *L, const char *s, size_t len, int mtidx) {
  char *u = lua_newuserdatauv(L, len + 1, 0);
  memcpy(u, s, len);
  u[len] = '\0';
  lua_pushvalue(L, mtidx);
  lua_setmetatable(L, -2);
}

/* text of a json.number at idx, or NULL */
static const char *number_text(lua_State *L, int idx, size_t *len) {
  const char *u = luaL_testudata(L, idx, "json.number");
  if (u && len) *len = lua_rawlen(L, idx) - 1;
  return u;
}

/* pushes the value at idx as a Lua number (a json.number converts to the nearest float) */
static void number_arg(lua_State *L, int idx) {
  const char *t = number_text(L, idx, NULL);
  if (t) {
    if (lua_stringtonumber(L, t) == 0) lua_pushnumber(L, strtod(t, NULL));
  } else {
    lua_pushnumber(L, luaL_checknumber(L, idx));
  }
}

static int number_tostring(lua_State *L) {
  size_t len;
  const char *t = number_text(L, 1, &len);
  lua_pushlstring(L, t ? t : "?", t ? len : 1);
  return 1;
}

static int number_eq(lua_State *L) {
  size_t la = 0, lb = 0;
  const char *a = number_text(L, 1, &la), *b = number_text(L, 2, &lb);
  lua_pushboolean(L, a && b && la == lb && memcmp(a, b, la) == 0);
  return 1;
}

static int number_lt(lua_State *L) {
  number_arg(L, 1);
  number_arg(L, 2);
  lua_pushboolean(L, lua_compare(L, -2, -1, LUA_OPLT));
  return 1;
}

static int number_le(lua_State *L) {
  number_arg(L, 1);
  number_arg(L, 2);
  lua_pushboolean(L, lua_compare(L, -2, -1, LUA_OPLE));
  return 1;
}

static int number_arith(lua_State *L) {
  int op = (int)lua_tointeger(L, lua_upvalueindex(1));
  number_arg(L, 1);
  if (op == LUA_OPUNM) {
    lua_pushvalue(L, -1);
  } else {
    number_arg(L, 2);
  }
  lua_arith(L, op);
  return 1;
}

static int number_concat(lua_State *L) {
  for (int i = 1; i <= 2; i++) {
    size_t len;
    const char *t = number_text(L, i, &len);
    if (t)
      lua_pushlstring(L, t, len);
    else if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER)
      lua_pushvalue(L, i);
    else
      return luaL_error(L, "attempt to concatenate a json.number with a %s value", luaL_typename(L, i));
  }
  lua_concat(L, 2);
  return 1;
}

/* json.number(text) -> a json.number keeping text (which must be a JSON number) */
static int json_number(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len), *bad;
  int isfloat;
  const char *e = num_scan(s, &isfloat, &bad);
  if (!e || (size_t)(e - s) != len) return luaL_argerror(L, 1, "not a JSON number");
  push_number_obj(L, s, len, UV_NUMBER_MT);
  return 1;
}

/* ---------------------------------------------------------------- decoder */

/* Object keys: a small direct-mapped cache of the keys last seen (Kubernetes
 * objects repeat a few hundred field names), so a key is pushed from a
 * table slot instead of being hashed and interned again.  The strings live
 * in a Lua table (the userdata's user value), their bytes here. */
#define KC_SIZE 1024
#define KC_MAXLEN 40
typedef struct {
  uint32_t len;
  char s[KC_MAXLEN];
} kc_ent;

typedef struct {
  lua_State *L;
  const char *s, *p, *end;
  int depth, maxdepth, order;
  kc_ent *kc; /* the key cache, its table at stack index kct */
  int kct;
  char msg[96];
} dec_t;

static int dec_fail(dec_t *d, const char *at, const char *fmt, ...) {
  char what[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  d->p = at;
  snprintf(d->msg, sizeof d->msg, "json: %s at offset %zu", what, (size_t)(at - d->s));
  return -1;
}

static int dec_unexpected(dec_t *d, const char *at) {
  unsigned char c = (unsigned char)*at;
  if (at >= d->end) return dec_fail(d, d->end, "unexpected end of input");
  if (c > 0x20 && c < 0x7F && c != '\'') return dec_fail(d, at, "unexpected character '%c'", c);
  return dec_fail(d, at, "unexpected byte 0x%02x", c);
}

#define SKIP_WS(p) \
  while (*(p) == ' ' || *(p) == '\n' || *(p) == '\r' || *(p) == '\t') (p)++

static int dec_value(dec_t *d);

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* d->p at the opening quote: pushes the string, leaves d->p after the closing one */
static int dec_string(dec_t *d) {
  const unsigned char *start = (const unsigned char *)d->p + 1, *p = start;
  int esc = 0;
  const unsigned char *uend = (const unsigned char *)d->end;
  for (;;) {
    p = skip_plain(p, uend, 0);
    while (str_plain[*p]) p++;
    unsigned c = *p;
    if (c == '"') break;
    if (c == '\\') {
      esc = 1;
      switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case 'u':
        for (int i = 2; i < 6; i++)
          if (hexval(p[i]) < 0) {
            if ((const char *)p + i >= d->end) return dec_unexpected(d, d->end);
            return dec_fail(d, (const char *)p + i, "invalid \\u escape");
          }
        p += 6;
        break;
      default:
        if ((const char *)p + 1 >= d->end) return dec_unexpected(d, d->end);
        if (p[1] > 0x20 && p[1] < 0x7F && p[1] != '\'')
          return dec_fail(d, (const char *)p, "invalid escape '\\%c'", p[1]);
        return dec_fail(d, (const char *)p, "invalid escape");
      }
    } else if (c >= 0x80) {
      uint32_t cp;
      int n = gofmt_utf8_decode(p, (size_t)((const unsigned char *)d->end - p), &cp);
      if (!n) return dec_fail(d, (const char *)p, "invalid UTF-8");
      p += n;
    } else if ((const char *)p >= d->end) {
      return dec_unexpected(d, d->end);
    } else {
      return dec_fail(d, (const char *)p, "control character 0x%02x in string", c);
    }
  }
  size_t raw = (size_t)(p - start);
  d->p = (const char *)p + 1;
  if (!esc) {
    lua_pushlstring(d->L, (const char *)start, raw);
    return 0;
  }
  /* second pass: the text is valid, only the escapes need decoding (the
   * core's decoder: the result is never longer than the raw text) */
  luaL_Buffer b;
  char *o = luaL_buffinitsize(d->L, &b, raw);
  luaL_pushresultsize(&b, gofmt_junescape((const char *)start, raw, o));
  return 0;
}

static int dec_number(dec_t *d) {
  lua_State *L = d->L;
  const char *s = d->p, *bad;
  int isfloat;
  const char *e = num_scan(s, &isfloat, &bad);
  if (!e) return dec_unexpected(d, bad);
  d->p = e;
  size_t len = (size_t)(e - s);
  if (!isfloat) {
    int neg = *s == '-';
    const char *q = s + neg;
    size_t nd = len - (size_t)neg;
    if (nd <= 19) {
      unsigned long long u = 0;
      for (; q < e; q++) u = u * 10 + (unsigned)(*q - '0');
      if (neg && u == 0) {
        lua_pushnumber(L, -0.0); /* keep the sign: -0 re-encodes as -0 */
        return 0;
      }
      if (!neg && u <= (unsigned long long)INT64_MAX) {
        lua_pushinteger(L, (lua_Integer)u);
        return 0;
      }
      if (neg && u <= (unsigned long long)INT64_MAX + 1) {
        lua_pushinteger(L, (lua_Integer)(0ULL - u));
        return 0;
      }
    }
    push_number_obj(L, s, len, UV_NUMBER_MT);
    return 0;
  }
  /* a float: convert with Lua's own reader (it copes with the locale's radix) */
  char buf[64];
  const char *text = buf;
  if (len < sizeof buf) {
    memcpy(buf, s, len);
    buf[len] = '\0';
  } else {
    lua_pushlstring(L, s, len);
    text = lua_tostring(L, -1);
  }
  int ok = lua_stringtonumber(L, text) != 0;
  if (text != buf) lua_remove(L, ok ? -2 : -1);
  if (ok && gofmt_jnum_exact(s, e, lua_tonumber(L, -1))) return 0;
  if (ok) lua_pop(L, 1);
  push_number_obj(L, s, len, UV_NUMBER_MT);
  return 0;
}

static int dec_literal(dec_t *d, const char *lit, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (d->p[i] != lit[i]) return dec_unexpected(d, d->p + i);
  d->p += n;
  return 0;
}

static int dec_enter(dec_t *d) {
  if (++d->depth > d->maxdepth) return dec_fail(d, d->p, "nesting deeper than %d", d->maxdepth);
  if (!lua_checkstack(d->L, 8)) return dec_fail(d, d->p, "nesting too deep");
  return 0;
}

/* Members and elements wait on the Lua stack until their container ends,
 * so each table is created at its final size (no rehash as it grows); past
 * DEC_BATCH of them the table is made and filled as it goes. */
#define DEC_BATCH 256

static int dec_array(dec_t *d) {
  lua_State *L = d->L;
  if (dec_enter(d)) return -1;
  d->p++;
  int base = lua_gettop(L); /* elements at base + 1 .. */
  int tbl = 0;             /* stack index of the table once made */
  lua_Integer n = 0;       /* elements so far */
  SKIP_WS(d->p);
  if (*d->p == ']') {
    d->p++;
  } else {
    for (;;) {
      if (!lua_checkstack(L, 4)) return dec_fail(d, d->p, "nesting too deep");
      if (dec_value(d)) return -1;
      n++;
      if (tbl) {
        lua_rawseti(L, tbl, n);
      } else if (n == DEC_BATCH) { /* a long array: make the table, move the batch in */
        lua_createtable(L, DEC_BATCH * 4, 0);
        lua_rotate(L, base + 1, 1);
        tbl = base + 1;
        for (lua_Integer i = n; i >= 1; i--) lua_rawseti(L, tbl, i);
      }
      SKIP_WS(d->p);
      if (*d->p == ',') {
        d->p++;
        continue;
      }
      if (*d->p == ']') {
        d->p++;
        break;
      }
      return dec_unexpected(d, d->p);
    }
  }
  if (!tbl) { /* the table on top, filled from the stack, then moved down */
    lua_createtable(L, (int)n, 0);
    int t = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_pushvalue(L, base + (int)i);
      lua_rawseti(L, t, i);
    }
    lua_copy(L, t, base + 1);
    lua_settop(L, base + 1);
  }
  lua_pushvalue(L, UV_ARRAY_MT);
  lua_setmetatable(L, -2);
  d->depth--;
  return 0;
}

/* d->p at a key's opening quote: pushes the key, through the cache when it
 * is short and has no escapes */
static int dec_key(dec_t *d) {
  const unsigned char *start = (const unsigned char *)d->p + 1, *p = start;
  while (str_plain[*p]) p++;
  size_t len = (size_t)(p - start);
  if (*p != '"' || len > KC_MAXLEN || len == 0) return dec_string(d);
  unsigned h = ((unsigned)len * 2654435761u) ^ ((unsigned)start[0] << 7) ^ ((unsigned)start[len - 1] << 13) ^
               ((unsigned)start[len / 2] << 3) ^ ((unsigned)start[len >> 2] << 17);
  h = (h ^ (h >> 11)) & (KC_SIZE - 1);
  kc_ent *e = &d->kc[h];
  d->p = (const char *)p + 1;
  if (e->len == len && memcmp(e->s, start, len) == 0) {
    lua_rawgeti(d->L, d->kct, (lua_Integer)h + 1);
    return 0;
  }
  lua_pushlstring(d->L, (const char *)start, len);
  lua_pushvalue(d->L, -1);
  lua_rawseti(d->L, d->kct, (lua_Integer)h + 1);
  e->len = (uint32_t)len;
  memcpy(e->s, start, len);
  return 0;
}

/* objects without opts.order: pairs wait on the stack (see DEC_BATCH) */
static int dec_object_fast(dec_t *d) {
  lua_State *L = d->L;
  int base = lua_gettop(L), tbl = 0, n = 0;
  SKIP_WS(d->p);
  if (*d->p == '}') {
    d->p++;
  } else {
    for (;;) {
      SKIP_WS(d->p);
      if (*d->p != '"') return dec_unexpected(d, d->p);
      if (!lua_checkstack(L, 6)) return dec_fail(d, d->p, "nesting too deep");
      if (dec_key(d)) return -1;
      SKIP_WS(d->p);
      if (*d->p != ':') return dec_unexpected(d, d->p);
      d->p++;
      if (dec_value(d)) return -1;
      n++;
      if (tbl) {
        lua_rawset(L, tbl);
      } else if (n == DEC_BATCH) {
        lua_createtable(L, 0, DEC_BATCH * 2);
        lua_rotate(L, base + 1, 1);
        tbl = base + 1;
        for (int i = 0; i < n; i++) { /* in document order: the last duplicate wins */
          lua_pushvalue(L, tbl + 1 + 2 * i);
          lua_pushvalue(L, tbl + 2 + 2 * i);
          lua_rawset(L, tbl);
        }
        lua_settop(L, tbl);
      }
      SKIP_WS(d->p);
      if (*d->p == ',') {
        d->p++;
        continue;
      }
      if (*d->p == '}') {
        d->p++;
        break;
      }
      return dec_unexpected(d, d->p);
    }
  }
  if (!tbl) { /* the table on top, filled from the stack, then moved down */
    lua_createtable(L, 0, n);
    int t = lua_gettop(L);
    for (int i = 0; i < n; i++) {
      lua_pushvalue(L, base + 1 + 2 * i);
      lua_pushvalue(L, base + 2 + 2 * i);
      lua_rawset(L, t);
    }
    lua_copy(L, t, base + 1);
    lua_settop(L, base + 1);
  }
  d->depth--;
  return 0;
}

static int dec_object(dec_t *d) {
  lua_State *L = d->L;
  lua_Integer nord = 0;
  if (dec_enter(d)) return -1;
  d->p++;
  if (!d->order) return dec_object_fast(d);
  lua_createtable(L, 0, 0);
  if (d->order) lua_createtable(L, 4, 0);
  int obj = lua_gettop(L) - (d->order ? 1 : 0);
  SKIP_WS(d->p);
  if (*d->p == '}') {
    d->p++;
  } else {
    for (;;) {
      SKIP_WS(d->p);
      if (*d->p != '"') return dec_unexpected(d, d->p);
      if (dec_string(d)) return -1;
      SKIP_WS(d->p);
      if (*d->p != ':') return dec_unexpected(d, d->p);
      d->p++;
      if (dec_value(d)) return -1;
      if (d->order) { /* [obj ord key val]: note the key the first time it is seen */
        lua_pushvalue(L, -2);
        if (lua_rawget(L, obj) == LUA_TNIL) {
          lua_pushvalue(L, -3);
          lua_rawseti(L, obj + 1, ++nord);
        }
        lua_pop(L, 1);
      }
      lua_rawset(L, obj);
      SKIP_WS(d->p);
      if (*d->p == ',') {
        d->p++;
        continue;
      }
      if (*d->p == '}') {
        d->p++;
        break;
      }
      return dec_unexpected(d, d->p);
    }
  }
  if (d->order) { /* [obj ord] -> obj with metatable {__jsonorder = ord} */
    lua_createtable(L, 0, 1);
    lua_rotate(L, -2, 1);
    lua_setfield(L, -2, "__jsonorder");
    lua_setmetatable(L, -2);
  }
  d->depth--;
  return 0;
}

static int dec_value(dec_t *d) {
  SKIP_WS(d->p);
  switch (*d->p) {
  case '{': return dec_object(d);
  case '[': return dec_array(d);
  case '"': return dec_key(d);
  case 't':
    if (dec_literal(d, "true", 4)) return -1;
    lua_pushboolean(d->L, 1);
    return 0;
  case 'f':
    if (dec_literal(d, "false", 5)) return -1;
    lua_pushboolean(d->L, 0);
    return 0;
  case 'n':
    if (dec_literal(d, "null", 4)) return -1;
    lua_pushlightuserdata(d->L, NULL);
    return 0;
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    return dec_number(d);
  default:
    return dec_unexpected(d, d->p);
  }
}

static void dec_opts(lua_State *L, int idx, dec_t *d) {
  d->maxdepth = JSON_DEFAULT_DEPTH;
  d->order = 0;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (strcmp(k, "depth") == 0) {
      lua_Integer v = luaL_checkinteger(L, -1);
      if (v < 1 || v > 10000) luaL_error(L, "json: depth must be between 1 and 10000");
      d->maxdepth = (int)v;
    } else if (strcmp(k, "order") == 0) {
      d->order = lua_toboolean(L, -1);
    } else {
      luaL_error(L, "json: unknown decode option '%s'", k);
    }
    lua_pop(L, 1);
  }
}

/* decodes one value at s + pos (0-based); returns 0 and pushes it, or -1 with d->msg set */
static int dec_run(lua_State *L, dec_t *d, const char *s, size_t len, size_t pos) {
  d->L = L;
  d->s = s;
  d->p = s + pos;
  d->end = s + len;
  d->depth = 0;
  int top = lua_gettop(L);
  d->kc = lua_touserdata(L, UV_KEYCACHE);
  lua_getiuservalue(L, UV_KEYCACHE, 1);
  d->kct = top + 1;
  if (dec_value(d)) {
    lua_settop(L, top);
    return -1;
  }
  lua_remove(L, top + 1);
  return 0;
}

/* Pushes nil, err for the failure in d (kind "parse", offset); returns 2. */
static int dec_error(lua_State *L, dec_t *d) {
  error_fail(L, "parse", "%s", d->msg);
  lua_pushinteger(L, (lua_Integer)(d->p - d->s));
  lua_setfield(L, -2, "offset");
  return 2;
}

/* json.decode(s [, opts]) -> value | nil, err */
static int json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  dec_t d;
  dec_opts(L, 2, &d);
  lua_settop(L, 2);
  if (dec_run(L, &d, s, len, 0) == 0) {
    SKIP_WS(d.p);
    if (d.p == d.end) return 1;
    lua_pop(L, 1);
    unsigned char c = (unsigned char)*d.p;
    if (c > 0x20 && c < 0x7F && c != '\'')
      dec_fail(&d, d.p, "unexpected character '%c' after the value", c);
    else
      dec_fail(&d, d.p, "unexpected byte 0x%02x after the value", c);
  }
  return dec_error(L, &d);
}

/* json.decode_at(s, pos [, opts]) -> value, next_pos | nil (only whitespace
 * left) | nil, err, errpos; pos and next_pos are 1-based; next_pos is the
 * byte just after the value; errpos = the error's offset + 1 (#s + 1 when
 * the input ends inside the value: wait for more data) */
static int json_decode_at(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer pos = luaL_checkinteger(L, 2);
  luaL_argcheck(L, pos >= 1, 2, "position must be >= 1");
  dec_t d;
  dec_opts(L, 3, &d);
  lua_settop(L, 3);
  if ((size_t)(pos - 1) >= len) {
    lua_pushnil(L);
    return 1;
  }
  const char *p = s + pos - 1;
  SKIP_WS(p);
  if (p >= s + len) {
    lua_pushnil(L);
    return 1;
  }
  if (dec_run(L, &d, s, len, (size_t)(p - s)) == 0) {
    lua_pushinteger(L, (lua_Integer)(d.p - s) + 1);
    return 2;
  }
  dec_error(L, &d);
  lua_pushinteger(L, (lua_Integer)(d.p - s) + 1);
  return 3;
}

/* ---------------------------------------------------------------- encoder */

typedef struct {
  const char *k;
  size_t klen;
  int vidx; /* stack index of the value; 0 once written */
} ent_t;

typedef struct { /* userdata: freed by __gc if an error unwinds the encoder */
  char *p;
  size_t n, cap;
  ent_t *ents;
  size_t nents, ecap;
} ebuf_t;

typedef struct {
  lua_State *L;
  ebuf_t *b;
  const unsigned char *esc; /* esc_go or esc_nohtml */
  const char *indent;       /* NULL: compact */
  size_t indentlen;
  int sort, depth;
  const void *array_mt, *number_mt;
  const void *path[JSON_DEFAULT_DEPTH + 1];
} enc_t;

static int ebuf_gc(lua_State *L) {
  ebuf_t *b = lua_touserdata(L, 1);
  free(b->p);
  free(b->ents);
  b->p = NULL;
  b->ents = NULL;
  b->n = b->cap = b->nents = b->ecap = 0;
  return 0;
}

static void buf_grow(enc_t *e, size_t need) {
  ebuf_t *b = e->b;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap - b->n < need) {
    if (cap > ((size_t)-1) / 2) luaL_error(e->L, "json: output too large");
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) luaL_error(e->L, "json: out of memory");
  b->p = p;
  b->cap = cap;
}

#define NEED(e, k) \
  do { \
    if ((e)->b->cap - (e)->b->n < (size_t)(k)) buf_grow((e), (k)); \
  } while (0)
#define PUTC(e, c) ((e)->b->p[(e)->b->n++] = (char)(c))

static void put(enc_t *e, const char *s, size_t n) {
  NEED(e, n);
  memcpy(e->b->p + e->b->n, s, n);
  e->b->n += n;
}

static void put_newline(enc_t *e, int depth) {
  if (!e->indent) return;
  NEED(e, 1 + (size_t)depth * e->indentlen);
  PUTC(e, '\n');
  for (int i = 0; i < depth; i++) {
    memcpy(e->b->p + e->b->n, e->indent, e->indentlen);
    e->b->n += e->indentlen;
  }
}


/* Go's appendString (gofmt_jquote, which the C output paths use too): \" \\
 * \b \f \n \r \t, other bytes < 0x20 as \u00xx, <>& as \u003c.. (escape_html),
 * U+2028/9 escaped, invalid UTF-8 bytes as \ufffd */
static void enc_string(enc_t *e, const char *str, size_t len) {
  /* the encoder's buffer lent to the core's quoting (both grow it with realloc) */
  buf_t b = {e->b->p, e->b->n, e->b->cap};
  int rc = gofmt_jquote(&b, str, len, e->esc == esc_go);
  e->b->p = b.p;
  e->b->n = b.len;
  e->b->cap = b.cap;
  if (rc) luaL_error(e->L, "json: out of memory");
}

static void enc_value(enc_t *e, int idx);

static int ent_cmp(const void *a, const void *b) {
  const ent_t *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static void sort_ents(ent_t *v, size_t n) {
  if (n > 12) {
    qsort(v, n, sizeof *v, ent_cmp);
    return;
  }
  for (size_t i = 1; i < n; i++) {
    ent_t t = v[i];
    size_t j = i;
    while (j > 0 && ent_cmp(&v[j - 1], &t) > 0) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = t;
  }
}

static void add_ent(enc_t *e, const char *k, size_t klen, int vidx) {
  ebuf_t *b = e->b;
  if (b->nents == b->ecap) {
    size_t cap = b->ecap ? b->ecap * 2 : 64;
    ent_t *n = realloc(b->ents, cap * sizeof *n);
    if (!n) luaL_error(e->L, "json: out of memory");
    b->ents = n;
    b->ecap = cap;
  }
  b->ents[b->nents].k = k;
  b->ents[b->nents].klen = klen;
  b->ents[b->nents].vidx = vidx;
  b->nents++;
}

static void enc_member(enc_t *e, size_t i, int *first) {
  ent_t en = e->b->ents[i]; /* copy: writing the value may move the array */
  e->b->ents[i].vidx = 0;
  if (!*first) {
    NEED(e, 1);
    PUTC(e, ',');
  }
  *first = 0;
  put_newline(e, e->depth);
  enc_string(e, en.k, en.klen);
  if (e->indent)
    put(e, ": ", 2);
  else
    put(e, ":", 1);
  enc_value(e, en.vidx);
}

static void enc_object(enc_t *e, int idx, int ordidx) {
  lua_State *L = e->L;
  ebuf_t *b = e->b;
  size_t e0 = b->nents;
  int intkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* keeps each value on the stack, the key on top for lua_next */
    luaL_checkstack(L, 4, "json: object too large");
    size_t kl;
    const char *ks;
    switch (lua_type(L, -2)) {
    case LUA_TSTRING:
      ks = lua_tolstring(L, -2, &kl); /* alive as a key of the table */
      lua_insert(L, -2);              /* [.. v k] */
      add_ent(e, ks, kl, lua_gettop(L) - 1);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, -2)) { /* like Go's map[int]: the decimal string */
        char tmp[24];
        kl = gofmt_int(tmp, lua_tointeger(L, -2));
        lua_pushlstring(L, tmp, kl); /* [.. k v ks] */
        lua_rotate(L, -3, 1);        /* [.. ks k v] */
        lua_insert(L, -2);           /* [.. ks v k] */
        ks = lua_tostring(L, -3);
        add_ent(e, ks, kl, lua_gettop(L) - 1);
        intkeys = 1;
        break;
      }
      /* fall through */
    default:
      luaL_error(L, "json: cannot encode a table key of type %s%s", luaL_typename(L, -2),
                 lua_type(L, -2) == LUA_TNUMBER ? " (float)" : "");
    }
  }
  size_t n = b->nents - e0;
  if (n == 0) {
    put(e, "{}", 2);
    return;
  }
  if (e->sort || ordidx || intkeys) {
    sort_ents(b->ents + e0, n);
    for (size_t i = e0 + 1; i < e0 + n; i++)
      if (ent_cmp(&b->ents[i - 1], &b->ents[i]) == 0)
        luaL_error(L, "json: duplicate key \"%s\" (an integer and a string key)", b->ents[i].k);
  }
  NEED(e, 1);
  PUTC(e, '{');
  int first = 1;
  if (ordidx) { /* keys named by __jsonorder first, in that order */
    lua_Integer on = (lua_Integer)lua_rawlen(L, ordidx);
    for (lua_Integer j = 1; j <= on; j++) {
      int t = lua_rawgeti(L, ordidx, j);
      ent_t key = {NULL, 0, 0};
      char tmp[24];
      if (t == LUA_TSTRING) {
        key.k = lua_tolstring(L, -1, &key.klen);
      } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
        key.klen = gofmt_int(tmp, lua_tointeger(L, -1));
        key.k = tmp;
      }
      if (key.k) {
        ent_t *hit = bsearch(&key, e->b->ents + e0, n, sizeof(ent_t), ent_cmp);
        if (hit && hit->vidx) enc_member(e, (size_t)(hit - e->b->ents), &first);
      }
      lua_pop(L, 1);
    }
  }
  for (size_t i = e0; i < e0 + n; i++)
    if (e->b->ents[i].vidx) enc_member(e, i, &first);
  put_newline(e, e->depth - 1);
  NEED(e, 1);
  PUTC(e, '}');
  e->b->nents = e0;
}

static void enc_array(enc_t *e, int idx, lua_Integer n) {
  lua_State *L = e->L;
  if (n == 0) {
    put(e, "[]", 2);
    return;
  }
  NEED(e, 1);
  PUTC(e, '[');
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) {
      NEED(e, 1);
      PUTC(e, ',');
    }
    put_newline(e, e->depth);
    lua_rawgeti(L, idx, i);
    enc_value(e, lua_gettop(L));
    lua_pop(L, 1);
  }
  put_newline(e, e->depth - 1);
  NEED(e, 1);
  PUTC(e, ']');
}

/* keys exactly the integers 1..n? */
static int pure_array(lua_State *L, int idx, lua_Integer n) {
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1 || k > n) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  return count == n;
}

static void enc_table(enc_t *e, int idx) {
  lua_State *L = e->L;
  const void *ptr = lua_topointer(L, idx);
  if (e->depth >= JSON_DEFAULT_DEPTH) {
    for (int i = 0; i < e->depth; i++)
      if (e->path[i] == ptr) luaL_error(L, "json: cannot encode a table that contains itself (a cycle)");
    luaL_error(L, "json: cannot encode tables nested deeper than %d", JSON_DEFAULT_DEPTH);
  }
  e->path[e->depth++] = ptr;
  luaL_checkstack(L, 8, "json: nesting too deep");
  int top = lua_gettop(L), ordidx = 0, isarray = -1;
  if (lua_getmetatable(L, idx)) {
    if (lua_topointer(L, -1) == e->array_mt) {
      isarray = 1;
    } else if (lua_getfield(L, -1, "__jsonorder") == LUA_TTABLE) {
      ordidx = lua_gettop(L);
      isarray = 0;
    }
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (isarray < 0) isarray = n > 0 && pure_array(L, idx, n);
  if (isarray)
    enc_array(e, idx, n);
  else
    enc_object(e, idx, ordidx);
  lua_settop(L, top);
  e->depth--;
}

static void enc_value(enc_t *e, int idx) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    put(e, "null", 4);
    break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      put(e, "true", 4);
    else
      put(e, "false", 5);
    break;
  case LUA_TNUMBER: {
    NEED(e, GOFMT_FLOAT_MAX);
    if (lua_isinteger(L, idx)) {
      e->b->n += gofmt_int(e->b->p + e->b->n, lua_tointeger(L, idx));
    } else {
      double x = lua_tonumber(L, idx);
      size_t n = gofmt_json_float(x, e->b->p + e->b->n);
      if (!n) luaL_error(L, "json: unsupported value: %s", isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf");
      e->b->n += n;
    }
    break;
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    enc_string(e, s, len);
    break;
  }
  case LUA_TTABLE:
    enc_table(e, idx);
    break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      put(e, "null", 4);
      break;
    }
    luaL_error(L, "json: cannot encode a light userdata value");
    break;
  case LUA_TUSERDATA:
    if (lua_getmetatable(L, idx)) {
      const void *mt = lua_topointer(L, -1);
      lua_pop(L, 1);
      if (mt == e->number_mt) {
        put(e, lua_touserdata(L, idx), lua_rawlen(L, idx) - 1);
        break;
      }
    }
    luaL_error(L, "json: cannot encode a %s value", luaL_typename(L, idx));
    break;
  default:
    luaL_error(L, "json: cannot encode a %s value", luaL_typename(L, idx));
  }
}

static void enc_opts(lua_State *L, int idx, enc_t *e) {
  e->indent = NULL;
  e->indentlen = 0;
  e->sort = 1;
  e->esc = esc_go;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (strcmp(k, "indent") == 0) {
      if (lua_type(L, -1) == LUA_TSTRING) {
        e->indent = lua_tolstring(L, -1, &e->indentlen); /* alive in opts */
      } else if (!lua_isnil(L, -1)) {
        lua_Integer w = luaL_checkinteger(L, -1);
        if (w < 0 || w > 64) luaL_error(L, "json: indent must be between 0 and 64 spaces");
        e->indent = "                                                                ";
        e->indentlen = (size_t)w;
      }
      if (e->indentlen == 0) e->indent = NULL;
    } else if (strcmp(k, "sort_keys") == 0) {
      e->sort = lua_toboolean(L, -1);
    } else if (strcmp(k, "escape_html") == 0) {
      e->esc = lua_toboolean(L, -1) ? esc_go : esc_nohtml;
    } else {
      luaL_error(L, "json: unknown encode option '%s'", k);
    }
    lua_pop(L, 1);
  }
}

/* json.encode(v [, opts]) -> string; raises on functions, cycles, NaN... */
static int json_encode(lua_State *L) {
  luaL_checkany(L, 1);
  enc_t e;
  enc_opts(L, 2, &e);
  lua_settop(L, 2);
  e.L = L;
  e.depth = 0;
  e.array_mt = lua_topointer(L, UV_ARRAY_MT);
  e.number_mt = lua_topointer(L, UV_NUMBER_MT);
  e.b = lua_newuserdatauv(L, sizeof(ebuf_t), 0);
  memset(e.b, 0, sizeof *e.b);
  lua_pushvalue(L, UV_BUFFER_MT);
  lua_setmetatable(L, -2);
  enc_value(&e, 1);
  lua_pushlstring(L, e.b->p, e.b->n);
  lua_pushcfunction(L, ebuf_gc); /* free now rather than at the next collection */
  lua_pushvalue(L, 3);
  lua_call(L, 1, 0);
  return 1;
}

/* ---------------------------------------------------------------- lists to output */

typedef struct { /* userdata: freed by __gc if an error unwinds */
  gofmt_jdoc doc;
  buf_t out;
} wl_t;

static int wl_gc(lua_State *L) {
  wl_t *w = lua_touserdata(L, 1);
  gofmt_jdoc_free(&w->doc);
  buf_free(&w->out);
  return 0;
}

static const char *opt_string(lua_State *L, int idx, const char *k, const char *dflt) {
  const char *v = dflt;
  if (lua_getfield(L, idx, k) != LUA_TNIL) v = luaL_checkstring(L, -1); /* alive in opts */
  lua_pop(L, 1);
  return v;
}

static int wl_flush(lua_State *L, FILE *f, wl_t *w) {
  if (w->out.len && fwrite(w->out.p, 1, w->out.len, f) != w->out.len)
    return luaL_fileresult(L, 0, NULL);
  w->out.len = 0;
  return 0;
}

/* the text of member key of object obj when it is a string, else NULL */
static const char *wl_str(gofmt_jdoc *d, int obj, const char *key, size_t *n, char *buf, size_t cap) {
  int c = gofmt_jget(d, obj, key);
  if (c < 0 || d->nodes[c].type != 's') return NULL;
  const char *t = gofmt_jtext(d, d->nodes[c].s, d->nodes[c].len, d->nodes[c].flags, n);
  if (!t || *n >= cap) return t; /* (too long for buf: used as it is) */
  memcpy(buf, t, *n); /* gofmt_jtext's scratch is reused by the next call */
  return buf;
}

/* kubectl -o name of one item, as printers.name(item) after the kind and
 * apiVersion of the list were filled in: kind[.group]/name */
static int wl_name(gofmt_jdoc *d, int item, const char *kind, const char *api, buf_t *out) {
  if (d->nodes[item].type != 'o') return 0;
  char kb[256], ab[256], nb[512];
  size_t kl = 0, al = 0, nl = 3;
  const char *k = wl_str(d, item, "kind", &kl, kb, sizeof kb);
  if (!k && kind) k = kind, kl = strlen(kind);
  const char *a = wl_str(d, item, "apiVersion", &al, ab, sizeof ab);
  if (!a && api) a = api, al = strlen(api);
  const char *nm = wl_str(d, gofmt_jget(d, item, "metadata"), "name", &nl, nb, sizeof nb);
  if (!nm) nm = "nil", nl = 3;
  size_t gl = 0; /* the group: apiVersion up to its last "/" */
  for (size_t i = 0; i < al; i++)
    if (a[i] == '/') gl = i;
  size_t at = out->len;
  if (buf_add(out, k ? k : "nil", k ? kl : 3)) return -1;
  for (size_t i = at; i < out->len; i++)
    if (out->p[i] >= 'A' && out->p[i] <= 'Z') out->p[i] = (char)(out->p[i] - 'A' + 'a');
  if (gl && (buf_add(out, ".", 1) || buf_add(out, a, gl))) return -1;
  if (buf_add(out, "/", 1) || buf_add(out, nm, nl) || buf_add(out, "\n", 1)) return -1;
  return 0;
}

/* json.write_items(file, body, opts) -> count, continue, list_kind | nil, err
 * Writes the items of the Kubernetes list in the JSON text body to the open
 * file (io.stdout), each as json.encode(item, {indent = 4, sort_keys = true})
 * would after json.decode (same numbers, same escaping), item by item,
 * without Lua tables: memory stays bounded by one item.  opts: depth (of
 * the items, default 2: inside kubectl's List), lead (written before the
 * first item, if any), sep (between items, default ",\n"), kind and
 * api_version (set on items that lack them), managed_fields (keep
 * metadata.managedFields), format ("name": one kind[.group]/name line per
 * item, as kubectl -o name, instead of JSON).  Each item line starts with depth * 4 spaces.
 * Returns the number of items written, metadata.continue (nil when empty)
 * and the list's kind.  Invalid JSON: nil, err (kind "parse"). */
static int json_write_items(lua_State *L) {
  luaL_Stream *fs = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  if (!fs->closef) return luaL_error(L, "attempt to use a closed file");
  size_t len;
  const char *body = luaL_checklstring(L, 2, &len);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_Integer depth = 2;
  if (lua_getfield(L, 3, "depth") != LUA_TNIL) depth = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  luaL_argcheck(L, depth >= 0 && depth <= 16, 3, "depth must be 0..16");
  const char *lead = opt_string(L, 3, "lead", "");
  const char *sep = opt_string(L, 3, "sep", ",\n");
  const char *kind = opt_string(L, 3, "kind", NULL);
  const char *api = opt_string(L, 3, "api_version", NULL);
  lua_getfield(L, 3, "managed_fields");
  int keep_managed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  const char *format = opt_string(L, 3, "format", "json");
  int names = strcmp(format, "name") == 0;
  luaL_argcheck(L, names || strcmp(format, "json") == 0, 3, "format: json or name");
  lua_settop(L, 3);
  wl_t *w = lua_newuserdatauv(L, sizeof *w, 0); /* 4 */
  memset(w, 0, sizeof *w);
  lua_pushvalue(L, UV_WL_MT);
  lua_setmetatable(L, -2);
  gofmt_jwopts wo = {"    ", 4, 1, !keep_managed};
  gofmt_jextra extra[2];
  size_t nextra = 0;
  if (api) extra[nextra].key = "apiVersion", extra[nextra++].value = api;
  if (kind) extra[nextra].key = "kind", extra[nextra++].value = kind;
  char pad[16 * 4 + 1];
  memset(pad, ' ', (size_t)depth * 4);
  pad[depth * 4] = '\0';

  lua_Integer count = 0;
  gofmt_jdoc *d = &w->doc;
  gofmt_jlist it;
  gofmt_jlist_init(&it, body, len);
  int item;
  while ((item = gofmt_jlist_next(&it, d)) >= 0) {
    if (names) {
      if (wl_name(d, item, kind, api, &w->out)) return luaL_error(L, "json: out of memory");
      count++;
      if (w->out.len >= 65536 && wl_flush(L, fs->f, w)) return 3;
      continue;
    }
    const char *pre = count == 0 ? lead : sep;
    if (buf_add(&w->out, pre, strlen(pre)) || buf_add(&w->out, pad, (size_t)depth * 4))
      return luaL_error(L, "json: out of memory");
    int obj = d->nodes[item].type == 'o';
    if (gofmt_jwrite(d, item, &w->out, &wo, (int)depth, obj ? extra : NULL, obj ? nextra : 0))
      return luaL_error(L, "json: out of memory");
    count++;
    if (w->out.len >= 65536 && wl_flush(L, fs->f, w)) return 3;
  }
  if (wl_flush(L, fs->f, w)) return 3;
  if (item == -2) {
    error_fail(L, "parse", "json: %s at offset %I", d->err ? d->err : "unexpected input",
               (lua_Integer)((d->errpos ? d->errpos : it.p) - body));
    return 2;
  }
  lua_pushinteger(L, count);
  size_t n;
  const char *t;
  if (it.cont && it.contlen && (t = gofmt_jtext(d, it.cont, it.contlen, it.contflags, &n)))
    lua_pushlstring(L, t, n);
  else
    lua_pushnil(L);
  if (it.kind && (t = gofmt_jtext(d, it.kind, it.kindlen, it.kindflags, &n)))
    lua_pushlstring(L, t, n);
  else
    lua_pushnil(L);
  return 3;
}

/* ---------------------------------------------------------------- the rest */

/* json.array([t]) -> t marked as an array (a new one without t) */
static int json_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getmetatable(L, 1)) {
      if (!lua_rawequal(L, -1, UV_ARRAY_MT)) return luaL_argerror(L, 1, "table already has a metatable");
      lua_pop(L, 1);
    }
  }
  lua_pushvalue(L, UV_ARRAY_MT);
  lua_setmetatable(L, -2);
  return 1;
}

/* json.isarray(v) -> true if v carries json.array_mt (decoded or json.array) */
static int json_isarray(lua_State *L) {
  int r = lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1) && lua_rawequal(L, -1, UV_ARRAY_MT);
  lua_pushboolean(L, r);
  return 1;
}

int luaopen_json(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"decode", json_decode}, {"decode_at", json_decode_at}, {"encode", json_encode},
      {"array", json_array},   {"isarray", json_isarray},     {"number", json_number},
      {"write_items", json_write_items}, {NULL, NULL}};
  static const struct {
    const char *name;
    int op;
  } ariths[] = {{"__add", LUA_OPADD}, {"__sub", LUA_OPSUB},   {"__mul", LUA_OPMUL},
                {"__div", LUA_OPDIV}, {"__mod", LUA_OPMOD},   {"__pow", LUA_OPPOW},
                {"__unm", LUA_OPUNM}, {"__idiv", LUA_OPIDIV}, {NULL, 0}};
  json_init_tables();
  lua_createtable(L, 0, 12);
  luaL_newmetatable(L, "json.array");
  luaL_newmetatable(L, "json.number");
  static const luaL_Reg nfuncs[] = {{"__tostring", number_tostring}, {"__eq", number_eq},
                                    {"__lt", number_lt},             {"__le", number_le},
                                    {"__concat", number_concat},     {NULL, NULL}};
  luaL_setfuncs(L, nfuncs, 0);
  for (int i = 0; ariths[i].name; i++) {
    lua_pushinteger(L, ariths[i].op);
    lua_pushcclosure(L, number_arith, 1);
    lua_setfield(L, -2, ariths[i].name);
  }
  luaL_newmetatable(L, "json.buffer");
  lua_pushcfunction(L, ebuf_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newmetatable(L, "json.listwriter");
  lua_pushcfunction(L, wl_gc);
  lua_setfield(L, -2, "__gc");
  kc_ent *kc = lua_newuserdatauv(L, KC_SIZE * sizeof(kc_ent), 1);
  memset(kc, 0, KC_SIZE * sizeof(kc_ent));
  lua_createtable(L, KC_SIZE, 0);
  lua_setiuservalue(L, -2, 1);
  /* [M array_mt number_mt buffer_mt wl_mt keycache] */
  lua_pushvalue(L, -5);
  lua_setfield(L, -7, "array_mt");
  lua_pushvalue(L, -4);
  lua_setfield(L, -7, "number_mt");
  luaL_setfuncs(L, funcs, 5);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
