/* lua_k8spb.c: the ksh.k8spb module, Kubernetes' stored protobuf (k8spb.h)
 * for Lua.  lua/k8s/codec.lua builds k8s.decode / k8s.encode on it.
 *
 * k8spb.decode_text(value [, resource_version]) -> json_text | nil, err
 *   value starts with "k8s\0"; err.kind "corrupt" (err.offset) or
 *   "unknowntype" (err.api_version, err.object_kind).
 * k8spb.encode(obj, json_encode) -> bytes | nil, err
 *   obj: a table as k8s.decode returns it (apiVersion and kind set);
 *   json_encode: json.encode, for the raw JSON of RawExtension, FieldsV1
 *   and apiextensions JSON values.  err.kind "unknowntype" or "invalid"
 *   (err.path names the field).
 * k8spb.has_type(apiVersion, kind) -> boolean */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "error.h"
#include "k8spb.h"

int luaopen_ksh_k8spb(lua_State *L);

static int l_decode_text(lua_State *L) {
  size_t n;
  const char *v = luaL_checklstring(L, 1, &n);
  const char *rv = luaL_optstring(L, 2, NULL);
  pb_buf out = {0};
  k8spb_err err;
  if (k8spb_json(v, n, rv, &out, &err)) {
    pb_buf_free(&out);
    if (err.kind == K8SPB_UNKNOWNTYPE) {
      error_fail(L, "unknowntype", "%s", err.message);
      lua_pushstring(L, err.api_version);
      lua_setfield(L, -2, "api_version");
      lua_pushstring(L, err.kind_name);
      lua_setfield(L, -2, "object_kind");
      return 2;
    }
    if (err.kind == K8SPB_NOMEM) return luaL_error(L, "not enough memory");
    error_fail(L, "corrupt", "%s", err.message);
    lua_pushinteger(L, (lua_Integer)err.offset);
    lua_setfield(L, -2, "offset");
    return 2;
  }
  lua_pushlstring(L, out.p ? out.p : "", out.len);
  pb_buf_free(&out);
  return 1;
}

static int l_has_type(lua_State *L) {
  size_t al, kl;
  const char *av = luaL_checklstring(L, 1, &al), *k = luaL_checklstring(L, 2, &kl);
  lua_pushboolean(L, k8spb_lookup(av, al, k, kl) >= 0);
  return 1;
}

/* ------------------------------------------------------------ encoding */

typedef struct {
  lua_State *L;
  int json_encode; /* stack index of json.encode */
  char err[240];
  const char *errkind;
  char path[200];
  const char *uname; /* the "#12" key of the unknown field being written */
} enc;

/* the name of field f for messages: the schema's, or an unknown field's key */
static const char *fname(const enc *e, const k8s_field *f) { return f->name ? k8spb_name(f->name) : e->uname; }

static int bad(enc *e, const char *what, const char *name) {
  if (!e->errkind) {
    e->errkind = "invalid";
    snprintf(e->err, sizeof e->err, "k8s.encode: %s%s%s", name ? name : "", name ? ": " : "", what);
  }
  return -1;
}

static int is_nil(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  return t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL);
}

static int enc_msg(enc *e, uint32_t t, int idx, pb_buf *out);

/* a table json.decode made from a JSON array (metatable json.array) */
static int is_array(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  lua_getfield(L, -1, "__name");
  const char *n = lua_tostring(L, -1);
  int r = n && !strcmp(n, "json.array");
  lua_pop(L, 2);
  return r;
}

/* an integer from a Lua number or a json.number (its text) */
static int get_int(enc *e, int idx, int64_t *v, uint64_t *u, const char *name) {
  lua_State *L = e->L;
  if (lua_isinteger(L, idx)) {
    *v = lua_tointeger(L, idx);
    *u = (uint64_t)*v;
    return 0;
  }
  if (lua_type(L, idx) == LUA_TNUMBER) {
    double d = lua_tonumber(L, idx);
    if (d != (double)(int64_t)d) return bad(e, "not an integer", name);
    *v = (int64_t)d;
    *u = (uint64_t)*v;
    return 0;
  }
  if (lua_type(L, idx) == LUA_TUSERDATA) {
    const char *s = luaL_tolstring(L, idx, NULL);
    char *end;
    *u = strtoull(s, &end, 10);
    *v = (int64_t)*u;
    int ok = *s && !*end;
    lua_pop(L, 1);
    if (ok) return 0;
  }
  return bad(e, "not an integer", name);
}

/* one value of field f (not a container) at idx, written as field f->num */
static int enc_value(enc *e, const k8s_field *f, int idx, pb_buf *out) {
  lua_State *L = e->L;
  int64_t v;
  uint64_t u;
  switch (f->kind) {
  case K_STRING: {
    if (lua_type(L, idx) != LUA_TSTRING) return bad(e, "a string expected", fname(e, f));
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    return pb_put_bytes(out, f->num, s, n);
  }
  case K_BYTES: {
    if (lua_type(L, idx) != LUA_TSTRING) return bad(e, "a base64 string expected", fname(e, f));
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    unsigned char *d = malloc(b64_decoded_max(n) + 1);
    if (!d) return bad(e, "out of memory", NULL);
    ptrdiff_t dn = b64_decode(s, n, d, 0, NULL);
    int rc = dn < 0 ? bad(e, "not base64", fname(e, f)) : pb_put_bytes(out, f->num, d, (size_t)dn);
    free(d);
    return rc;
  }
  case K_BOOL:
    if (lua_type(L, idx) != LUA_TBOOLEAN) return bad(e, "a boolean expected", fname(e, f));
    return pb_put_uint(out, f->num, (uint64_t)lua_toboolean(L, idx));
  case K_INT32:
  case K_INT64:
  case K_UINT64:
    if (get_int(e, idx, &v, &u, fname(e, f))) return -1;
    if (f->kind == K_INT32 && (v < INT32_MIN || v > INT32_MAX)) return bad(e, "out of int32 range", fname(e, f));
    return pb_put_uint(out, f->num, u);
  case K_FLOAT64: {
    if (lua_type(L, idx) != LUA_TNUMBER) return bad(e, "a number expected", fname(e, f));
    double d = lua_tonumber(L, idx);
    unsigned char b[8];
    memcpy(&u, &d, 8);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
    pb_put_key(out, f->num, PB_FIXED64);
    return pb_put_raw(out, b, 8);
  }
  case K_MSG: {
    pb_buf sub = {0};
    int rc = enc_msg(e, f->type, idx, &sub);
    if (!rc) rc = pb_put_bytes(out, f->num, sub.p ? sub.p : "", sub.len);
    pb_buf_free(&sub);
    return rc;
  }
  }
  return bad(e, "unknown kind", fname(e, f));
}

/* the zero value of a non-pointer scalar (Go writes it always) */
static int enc_zero(enc *e, const k8s_field *f, pb_buf *out) {
  switch (f->kind) {
  case K_STRING: return pb_put_bytes(out, f->num, "", 0);
  case K_FLOAT64: {
    unsigned char b[8] = {0};
    pb_put_key(out, f->num, PB_FIXED64);
    return pb_put_raw(out, b, 8);
  }
  case K_MSG: { /* a zero struct: its specials see nil, others {} */
    lua_pushnil(e->L);
    int rc = enc_value(e, f, lua_gettop(e->L), out);
    lua_pop(e->L, 1);
    return rc;
  }
  case K_BYTES: return 0;
  default: return pb_put_uint(out, f->num, 0);
  }
}

static int cmp_keys(const void *a, const void *b) {
  const char *const *x = a, *const *y = b;
  /* keys are Lua strings: compare with their lengths (embedded NULs) */
  size_t xl = *(const size_t *)(x[1]), yl = *(const size_t *)(y[1]);
  int r = memcmp(x[0], y[0], xl < yl ? xl : yl);
  return r ? r : (xl > yl) - (xl < yl);
}

static int enc_map(enc *e, const k8s_field *f, int idx, pb_buf *out) {
  lua_State *L = e->L;
  if (!lua_istable(L, idx)) return bad(e, "an object expected", fname(e, f));
  size_t n = 0, cap = 16;
  const char **keys = malloc(cap * 2 * sizeof *keys);
  size_t *lens = malloc(cap * sizeof *lens);
  if (!keys || !lens) {
    free(keys);
    free(lens);
    return bad(e, "out of memory", NULL);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      free(keys);
      free(lens);
      lua_pop(L, 1);
      return bad(e, "a key that is not a string", fname(e, f));
    }
    if (n == cap) {
      cap *= 2;
      const char **nk = realloc(keys, cap * 2 * sizeof *keys);
      size_t *nl = realloc(lens, cap * sizeof *lens);
      if (nk) keys = nk;
      if (nl) lens = nl;
      if (!nk || !nl) {
        free(keys);
        free(lens);
        lua_pop(L, 1);
        return bad(e, "out of memory", NULL);
      }
    }
    keys[2 * n] = lua_tolstring(L, -1, &lens[n]); /* the key stays alive: it is in the table */
    n++;
  }
  for (size_t i = 0; i < n; i++) keys[2 * i + 1] = (const char *)&lens[i];
  qsort(keys, n, 2 * sizeof *keys, cmp_keys);
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    size_t kl = *(const size_t *)keys[2 * i + 1];
    pb_buf ent = {0};
    pb_put_bytes(&ent, 1, keys[2 * i], kl);
    lua_pushlstring(L, keys[2 * i], kl);
    lua_rawget(L, idx);
    k8s_field vf = *f;
    vf.num = 2;
    if (is_nil(L, -1) && f->kind == K_BYTES) rc = 0;
    else if (is_nil(L, -1)) rc = enc_zero(e, &vf, &ent);
    else rc = enc_value(e, &vf, lua_gettop(L), &ent);
    lua_pop(L, 1);
    if (!rc) rc = pb_put_bytes(out, f->num, ent.p ? ent.p : "", ent.len);
    pb_buf_free(&ent);
  }
  free(keys);
  free(lens);
  return rc;
}

static int enc_slice(enc *e, const k8s_field *f, int idx, pb_buf *out) {
  lua_State *L = e->L;
  if (!lua_istable(L, idx)) return bad(e, "an array expected", fname(e, f));
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    int rc = enc_value(e, f, lua_gettop(L), out);
    lua_pop(L, 1);
    if (rc) return -1;
  }
  return 0;
}

/* days since 1970-01-01 of a civil date */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* RFC 3339 -> seconds and nanoseconds; 0 or -1 */
static int parse_time(const char *s, int64_t *sec, int32_t *nsec) {
  int y, mo, d, h, mi, se, n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19) return -1;
  const char *p = s + 19;
  int32_t ns = 0;
  if (*p == '.') {
    int digits = 0;
    p++;
    while (*p >= '0' && *p <= '9') {
      if (digits < 9) ns = ns * 10 + (*p - '0');
      digits++;
      p++;
    }
    for (; digits < 9; digits++) ns *= 10;
  }
  int64_t off = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    int oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
    off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
    p += 6;
  } else
    return -1;
  if (*p) return -1;
  *sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
  *nsec = ns;
  return 0;
}

/* Go's time.ParseDuration; 0 or -1 */
static int parse_duration(const char *s, int64_t *out) {
  const char *p = s;
  int neg = 0;
  if (*p == '-' || *p == '+') neg = *p++ == '-';
  if (!strcmp(p, "0")) {
    *out = 0;
    return 0;
  }
  if (!*p) return -1;
  double total = 0;
  while (*p) {
    char *end;
    double x = strtod(p, &end);
    if (end == p) return -1;
    p = end;
    double unit;
    if (!strncmp(p, "ns", 2)) unit = 1, p += 2;
    else if (!strncmp(p, "us", 2)) unit = 1e3, p += 2;
    else if (!strncmp(p, "\xc2\xb5s", 3) || !strncmp(p, "\xce\xbcs", 3)) unit = 1e3, p += 3;
    else if (!strncmp(p, "ms", 2)) unit = 1e6, p += 2;
    else if (*p == 's') unit = 1e9, p++;
    else if (*p == 'm') unit = 60e9, p++;
    else if (*p == 'h') unit = 3600e9, p++;
    else return -1;
    total += x * unit;
  }
  *out = (int64_t)(neg ? -total : total);
  return 0;
}

/* raw JSON of a RawExtension / FieldsV1 / JSON: json.encode(value) */
static int enc_rawjson(enc *e, int idx, pb_buf *out) {
  lua_State *L = e->L;
  if (is_nil(L, idx)) return 0;
  lua_pushvalue(L, e->json_encode);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  int rc = pb_put_bytes(out, 1, s, n);
  lua_pop(L, 1);
  return rc;
}

static int enc_special(enc *e, const k8s_type *ty, uint32_t t, int idx, pb_buf *out) {
  lua_State *L = e->L;
  const k8s_field *fa = k8spb_field(t, 0), *fb = ty->nfields > 1 ? k8spb_field(t, 1) : NULL;
  const char *tname = k8spb_name(ty->name);
  switch (ty->special) {
  case S_TIME:
  case S_MICROTIME: {
    if (is_nil(L, idx)) return 0; /* the zero time: an empty message */
    int64_t sec;
    int32_t ns;
    if (lua_type(L, idx) != LUA_TSTRING || parse_time(lua_tostring(L, idx), &sec, &ns))
      return bad(e, "an RFC 3339 time expected", tname);
    pb_put_uint(out, 1, (uint64_t)sec);
    return pb_put_uint(out, 2, ty->special == S_MICROTIME ? (uint64_t)(int64_t)(ns / 1000 * 1000) : 0);
  }
  case S_QUANTITY: {
    if (is_nil(L, idx)) return pb_put_bytes(out, 1, "0", 1);
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) return bad(e, "a quantity expected", tname);
    size_t n;
    const char *s = luaL_tolstring(L, idx, &n);
    int rc = pb_put_bytes(out, 1, s, n);
    lua_pop(L, 1);
    return rc;
  }
  case S_INTORSTR: {
    if (lua_type(L, idx) == LUA_TSTRING) {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      pb_put_uint(out, 1, 1);
      pb_put_uint(out, 2, 0);
      return pb_put_bytes(out, 3, s, n);
    }
    int64_t v = 0;
    uint64_t u = 0;
    if (!is_nil(L, idx) && get_int(e, idx, &v, &u, tname)) return -1;
    pb_put_uint(out, 1, 0);
    pb_put_uint(out, 2, (uint64_t)(int64_t)(int32_t)v);
    return pb_put_bytes(out, 3, "", 0);
  }
  case S_DURATION: {
    int64_t ns = 0;
    if (!is_nil(L, idx) && (lua_type(L, idx) != LUA_TSTRING || parse_duration(lua_tostring(L, idx), &ns)))
      return bad(e, "a duration expected", tname);
    return pb_put_uint(out, 1, (uint64_t)ns);
  }
  case S_RAWJSON: return enc_rawjson(e, idx, out);
  case S_WRAPPER:
    if (is_nil(L, idx)) return 0;
    return enc_slice(e, fa, idx, out);
  case S_PROPS_OR_ARRAY:
  case S_PROPS_OR_STRARRAY: {
    /* fa: schema (ptr, 1), fb: the list (2) */
    if (is_nil(L, idx)) return 0;
    if (!lua_istable(L, idx)) return bad(e, "an object or an array expected", tname);
    if (lua_rawlen(L, idx) > 0 || is_array(L, idx))
      return enc_slice(e, fb, idx, out);
    return enc_value(e, fa, idx, out);
  }
  case S_PROPS_OR_BOOL: /* fa: allows (1), fb: schema (2) */
    if (lua_type(L, idx) == LUA_TBOOLEAN) return pb_put_uint(out, 1, (uint64_t)lua_toboolean(L, idx));
    if (is_nil(L, idx)) return pb_put_uint(out, 1, 0);
    pb_put_uint(out, 1, 1);
    return enc_value(e, fb, idx, out);
  }
  return bad(e, "no rule for this type", tname);
}

static int enc_msg(enc *e, uint32_t t, int idx, pb_buf *out) {
  lua_State *L = e->L;
  const k8s_type *ty = k8spb_type(t);
  luaL_checkstack(L, 20, "k8s.encode");
  if (ty->special != S_NONE) return enc_special(e, ty, t, idx, out);
  if (is_nil(L, idx)) {
    lua_newtable(L);
    int rc = enc_msg(e, t, lua_gettop(L), out);
    lua_pop(L, 1);
    return rc;
  }
  if (!lua_istable(L, idx)) return bad(e, "an object expected", k8spb_name(ty->name));
  for (uint32_t w = 0; w < ty->nfields; w++) {
    const k8s_field *f = k8spb_field(t, k8spb_wire_index(t, w));
    if (f->kind == K_TYPEMETA) continue;
    if (f->flags & F_INLINE) {
      if (enc_value(e, f, idx, out)) return -1;
      continue;
    }
    lua_getfield(L, idx, k8spb_name(f->name));
    int v = lua_gettop(L), rc = 0;
    int nil = is_nil(L, v);
    switch (f->shape) {
    case C_ONE:
      if (f->kind == K_MSG && k8spb_type(f->type)->special == S_WRAPPER) rc = nil ? 0 : enc_value(e, f, v, out);
      else if (nil) rc = enc_zero(e, f, out);
      else rc = enc_value(e, f, v, out);
      break;
    case C_PTR: rc = nil ? 0 : enc_value(e, f, v, out); break;
    case C_SLICE: rc = nil ? 0 : enc_slice(e, f, v, out); break;
    case C_MAP: rc = nil ? 0 : enc_map(e, f, v, out); break;
    }
    lua_pop(L, 1);
    if (rc) {
      if (e->errkind && strlen(e->path) < sizeof e->path - 80) {
        char tmp[200];
        snprintf(tmp, sizeof tmp, "%s%s%s", k8spb_name(f->name), *e->path ? "." : "", e->path);
        memcpy(e->path, tmp, sizeof tmp);
      }
      return -1;
    }
  }
  /* fields kept by number ("#12": integer or base64), after the known ones */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k && k[0] == '#' && k[1] >= '1' && k[1] <= '9') {
      unsigned num = (unsigned)strtoul(k + 1, NULL, 10);
      k8s_field uf = {0, num, lua_type(L, -1) == LUA_TSTRING ? K_BYTES : K_UINT64, C_ONE, 0, 0};
      e->uname = k;
      int rc = enc_value(e, &uf, lua_gettop(L), out);
      e->uname = NULL;
      if (rc) {
        lua_pop(L, 2);
        return -1;
      }
    }
    lua_pop(L, 1);
  }
  return out->oom ? bad(e, "out of memory", NULL) : 0;
}

static int l_encode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_settop(L, 2);
  lua_getfield(L, 1, "apiVersion");
  lua_getfield(L, 1, "kind");
  size_t al = 0, kl = 0;
  const char *av = lua_tolstring(L, 3, &al), *kind = lua_tolstring(L, 4, &kl);
  if (!av || !kind) return error_fail(L, "unknowntype", "k8s.encode: the object has no apiVersion and kind");
  int32_t t = k8spb_lookup(av, al, kind, kl);
  if (t < 0) {
    error_fail(L, "unknowntype", "k8s.encode: no schema for apiVersion '%s' kind '%s' (custom resources are stored as JSON)",
               av, kind);
    lua_pushstring(L, av);
    lua_setfield(L, -2, "api_version");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "object_kind");
    return 2;
  }
  enc e = {L, 2, "", NULL, "", NULL};
  pb_buf raw = {0}, out = {0};
  if (enc_msg(&e, (uint32_t)t, 1, &raw)) {
    pb_buf_free(&raw);
    error_fail(L, e.errkind, "%s%s%s", e.err, *e.path ? " at " : "", e.path);
    lua_pushstring(L, e.path);
    lua_setfield(L, -2, "path");
    return 2;
  }
  /* the envelope: k8s\0 + runtime.Unknown{typeMeta{apiVersion, kind}, raw, "", ""} */
  pb_buf tm = {0};
  pb_put_bytes(&tm, 1, av, al);
  pb_put_bytes(&tm, 2, kind, kl);
  pb_put_raw(&out, K8SPB_MAGIC, K8SPB_MAGIC_LEN);
  pb_put_bytes(&out, 1, tm.p, tm.len);
  pb_put_bytes(&out, 2, raw.p ? raw.p : "", raw.len);
  pb_put_bytes(&out, 3, "", 0);
  pb_put_bytes(&out, 4, "", 0);
  pb_buf_free(&tm);
  pb_buf_free(&raw);
  if (out.oom) {
    pb_buf_free(&out);
    return luaL_error(L, "not enough memory");
  }
  lua_pushlstring(L, out.p, out.len);
  pb_buf_free(&out);
  return 1;
}

/* luaopen_ksh_k8spb: the module table. */
int luaopen_ksh_k8spb(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"decode_text", l_decode_text}, {"encode", l_encode}, {"has_type", l_has_type}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
