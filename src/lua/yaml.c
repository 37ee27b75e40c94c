/* yaml.c: the ksh.yaml module, YAML <-> Lua values over libyaml.
 *
 *   yaml.decode(s)              -> value | nil, err   first document (null if none)
 *   yaml.decode_all(s)          -> { doc1, doc2, ... } | nil, err
 *   yaml.encode(v [, opts])     -> string             opts: indent (2..9), width (-1: no folding)
 *   yaml.encode_all(docs [, opts]) -> string          documents separated by "---"
 *
 * Plain scalars resolve the way Kubernetes reads YAML (sigs.k8s.io/yaml over
 * go-yaml v2, YAML 1.1 flavoured): true/false/yes/no/on/off/y/n are booleans,
 * null/~/empty is null, 12, 0x1f, 0o17, 0755 (octal), 1_000 are integers,
 * 1.5, 1e3, .inf, .nan are floats, everything else (timestamps included) is a
 * string; quoted and block scalars are strings; !!str, !!int, !!float,
 * !!bool, !!null, !!binary (base64, decoded) are honoured. Mapping keys
 * become strings (1 -> "1", true -> "true"); "<<" merges mappings; aliases
 * are copied, at most KY_MAX_ALIAS_NODES values per document.
 * Null is json.null and sequences are marked with json.array(t) when the
 * json module loads; otherwise null is nil and sequences are plain tables.
 *
 * libyaml state lives in userdata with a __gc, so a Lua error (out of
 * memory, a misuse raised by encode) never leaks a parser or an emitter.
 * Malformed input is a failure of the world: nil, err with err.kind "parse",
 * err.line and err.column (1-based) and err.message "yaml: <problem> at line
 * L column C". Encoding something that has no YAML form raises. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "b64.h"
#include "error.h"
#include "gofmt.h"

int luaopen_ksh_yaml(lua_State *L);

#define KY_MAX_DEPTH 1000          /* nesting, in decode and encode */
#define KY_MAX_ALIAS_NODES 100000  /* values copied through aliases, per document */

#define KY_TAG_PREFIX "tag:yaml.org,2002:"
#define KY_BINARY_TAG KY_TAG_PREFIX "binary"

/* ---- the json module, when there is one ---- */

/* Pushes json.null and json.array, or two nils without a json module. */
static void ky_push_json(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "json");
  lua_remove(L, -2);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "json");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      if (!lua_isstring(L, -1)) lua_error(L); /* an interruption, not "module not found" */
      lua_pop(L, 1);
      lua_pushnil(L);
    }
  }
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    return;
  }
  lua_getfield(L, -1, "null");
  lua_getfield(L, -2, "array");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_remove(L, -3);
}

/* ---- decoding ---- */

typedef struct {
  yaml_parser_t parser;
  yaml_event_t ev;
  int parser_live, ev_live;
} ky_parser_ud;

static const char KY_PARSER_MT[] = "ksh.yaml.parser";
static const char KY_EMITTER_MT[] = "ksh.yaml.emitter";

static int ky_parser_gc(lua_State *L) {
  ky_parser_ud *u = luaL_checkudata(L, 1, KY_PARSER_MT);
  if (u->ev_live) yaml_event_delete(&u->ev), u->ev_live = 0;
  if (u->parser_live) yaml_parser_delete(&u->parser), u->parser_live = 0;
  return 0;
}

enum { KY_N_SCALAR = 1, KY_N_SEQ, KY_N_SEQ_OF_MAPS, KY_N_MAP, KY_N_BUSY };

typedef struct {
  lua_State *L;
  ky_parser_ud *u;
  const char *src;
  size_t srclen;
  int jnull, jarray;   /* stack slots: json.null, json.array (or nil) */
  int aval, akind;     /* stack slots: anchor -> value, anchor -> KY_N_* */
  long alias_nodes;
  long eline, ecol; /* where the failure is, 1-based */
} ky_dec;

/* Pushes "yaml: <msg> at line L column C", records the place, returns -1. */
static int ky_fail(ky_dec *d, const yaml_mark_t *m, const char *fmt, ...) {
  d->eline = (long)m->line + 1;
  d->ecol = (long)m->column + 1;
  va_list ap;
  va_start(ap, fmt);
  lua_pushliteral(d->L, "yaml: ");
  lua_pushvfstring(d->L, fmt, ap);
  va_end(ap);
  lua_pushfstring(d->L, " at line %I column %I", (lua_Integer)m->line + 1, (lua_Integer)m->column + 1);
  lua_concat(d->L, 3);
  return -1;
}

static int ky_parse_error(ky_dec *d) {
  yaml_parser_t *p = &d->u->parser;
  const char *problem = p->problem ? p->problem : "unknown problem parsing YAML";
  if (p->error == YAML_MEMORY_ERROR) luaL_error(d->L, "yaml: out of memory");
  if (p->error == YAML_READER_ERROR) {
    /* the reader knows a byte offset only: count the lines up to it */
    yaml_mark_t m = {0, 0, 0};
    size_t off = p->problem_offset < d->srclen ? p->problem_offset : d->srclen;
    for (size_t i = 0; i < off; i++) {
      if (d->src[i] == '\n') m.line++, m.column = 0;
      else m.column++;
    }
    char value[16] = "";
    if (p->problem_value != -1) snprintf(value, sizeof value, " #x%02X", (unsigned)p->problem_value);
    return ky_fail(d, &m, "%s%s", problem, value);
  }
  if (p->context) {
    lua_pushfstring(d->L, " (%s at line %I column %I)", p->context,
                    (lua_Integer)p->context_mark.line + 1, (lua_Integer)p->context_mark.column + 1);
    ky_fail(d, &p->problem_mark, "%s", problem);
    lua_insert(d->L, -2);
    lua_concat(d->L, 2);
    return -1;
  }
  return ky_fail(d, &p->problem_mark, "%s", problem);
}

/* Reads the next event into d->u->ev (deleting the previous one). */
static int ky_next(ky_dec *d) {
  ky_parser_ud *u = d->u;
  if (u->ev_live) yaml_event_delete(&u->ev), u->ev_live = 0;
  if (!yaml_parser_parse(&u->parser, &u->ev)) return ky_parse_error(d);
  u->ev_live = 1;
  return 0;
}

static int ky_node(ky_dec *d, int depth, int *kind);

/* Tag to the short name go-yaml prints in its errors: !!int */
static const char *ky_short_tag(const char *tag) {
  size_t n = sizeof KY_TAG_PREFIX - 1;
  return strncmp(tag, KY_TAG_PREFIX, n) == 0 ? tag + n : tag;
}

static const char *ky_kind_name(gofmt_yaml_kind k) {
  static const char *const names[] = {"str", "null", "bool", "int", "float", "timestamp"};
  return names[k];
}

static void ky_push_resolved(ky_dec *d, const gofmt_yaml_val *v, const char *s, size_t n) {
  lua_State *L = d->L;
  switch (v->kind) {
  case GOFMT_YAML_NULL: lua_pushvalue(L, d->jnull); break;
  case GOFMT_YAML_BOOL: lua_pushboolean(L, v->b); break;
  case GOFMT_YAML_INT:
    if (v->big) lua_pushnumber(L, (lua_Number)v->f);
    else lua_pushinteger(L, v->i);
    break;
  case GOFMT_YAML_FLOAT: lua_pushnumber(L, (lua_Number)v->f); break;
  default: lua_pushlstring(L, s, n); break; /* strings, timestamps, "<<" */
  }
}

/* Pushes the Lua value of the scalar event in d->u->ev. */
static int ky_scalar(ky_dec *d) {
  lua_State *L = d->L;
  yaml_event_t *ev = &d->u->ev;
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  gofmt_yaml_val v;
  if (!tag) {
    if (ev->data.scalar.plain_implicit) {
      gofmt_yaml_resolve(s, n, 0, &v);
      ky_push_resolved(d, &v, s, n);
    } else {
      lua_pushlstring(L, s, n);
    }
    return 0;
  }
  const char *t = ky_short_tag(tag);
  if (t == tag) { /* "!", "!local", full URIs: the text as it is */
    lua_pushlstring(L, s, n);
    return 0;
  }
  if (strcmp(t, "binary") == 0) {
    luaL_Buffer b;
    size_t bad;
    unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, b64_decoded_max(n));
    ptrdiff_t m = b64_decode(s, n, out, 0, &bad);
    if (m < 0) return ky_fail(d, &ev->start_mark, "!!binary value is not base64 (byte %I)", (lua_Integer)bad + 1);
    luaL_pushresultsize(&b, (size_t)m);
    return 0;
  }
  gofmt_yaml_kind want;
  if (strcmp(t, "str") == 0) want = GOFMT_YAML_STR;
  else if (strcmp(t, "null") == 0) want = GOFMT_YAML_NULL;
  else if (strcmp(t, "bool") == 0) want = GOFMT_YAML_BOOL;
  else if (strcmp(t, "int") == 0) want = GOFMT_YAML_INT;
  else if (strcmp(t, "float") == 0) want = GOFMT_YAML_FLOAT;
  else if (strcmp(t, "timestamp") == 0) want = GOFMT_YAML_TIMESTAMP;
  else want = GOFMT_YAML_STR; /* !!merge, !!set, ... as text */
  if (want == GOFMT_YAML_STR) {
    lua_pushlstring(L, s, n);
    return 0;
  }
  gofmt_yaml_resolve(s, n, want == GOFMT_YAML_TIMESTAMP, &v);
  if (want == GOFMT_YAML_FLOAT && v.kind == GOFMT_YAML_INT) {
    if (!v.big) v.f = (double)v.i;
    v.kind = GOFMT_YAML_FLOAT;
  }
  if (v.kind != want && !(want == GOFMT_YAML_TIMESTAMP && v.kind == GOFMT_YAML_STR)) {
    char shown[68]; /* the value, cut short: it is only there to be recognized */
    snprintf(shown, sizeof shown, n > 64 ? "%.60s..." : "%s", s);
    return ky_fail(d, &ev->start_mark, "cannot decode !!%s `%s` as a !!%s", ky_kind_name(v.kind), shown, t);
  }
  ky_push_resolved(d, &v, s, n);
  return 0;
}

/* Replaces the table on top of the stack with a deep copy, counting values. */
static int ky_copy(ky_dec *d, int depth, const yaml_mark_t *m) {
  lua_State *L = d->L;
  if (depth > KY_MAX_DEPTH) return ky_fail(d, m, "alias nested deeper than %d levels", KY_MAX_DEPTH);
  luaL_checkstack(L, 8, "yaml: nesting too deep");
  int src = lua_gettop(L);
  lua_createtable(L, (int)lua_rawlen(L, src), 0);
  lua_pushnil(L);
  while (lua_next(L, src)) {
    if (++d->alias_nodes > KY_MAX_ALIAS_NODES)
      return ky_fail(d, m, "document contains excessive aliasing (more than %d values)", KY_MAX_ALIAS_NODES);
    if (lua_type(L, -1) == LUA_TTABLE && ky_copy(d, depth + 1, m)) return -1;
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, src + 1);
  }
  if (lua_getmetatable(L, src)) lua_setmetatable(L, src + 1);
  lua_remove(L, src);
  return 0;
}

static int ky_alias(ky_dec *d, int depth, int *kind) {
  lua_State *L = d->L;
  yaml_event_t *ev = &d->u->ev;
  const char *name = (const char *)ev->data.alias.anchor;
  lua_getfield(L, d->akind, name);
  *kind = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (*kind == 0) return ky_fail(d, &ev->start_mark, "unknown anchor '%s' referenced", name);
  if (*kind == KY_N_BUSY) return ky_fail(d, &ev->start_mark, "anchor '%s' value contains itself", name);
  lua_getfield(L, d->aval, name);
  if (++d->alias_nodes > KY_MAX_ALIAS_NODES)
    return ky_fail(d, &ev->start_mark, "document contains excessive aliasing (more than %d values)",
                   KY_MAX_ALIAS_NODES);
  if (lua_type(L, -1) == LUA_TTABLE) return ky_copy(d, depth, &ev->start_mark);
  return 0;
}

/* Records the value on top of the stack under the anchor named at stack slot a. */
static void ky_anchor_set(ky_dec *d, int a, int kind) {
  lua_State *L = d->L;
  lua_pushvalue(L, a);
  lua_pushvalue(L, -2);
  lua_rawset(L, d->aval);
  lua_pushvalue(L, a);
  lua_pushinteger(L, kind);
  lua_rawset(L, d->akind);
}

/* Pushes the anchor name of a collection start event (or nothing: returns 0)
 * and marks it busy until the collection ends. */
static int ky_anchor_begin(ky_dec *d, const yaml_char_t *anchor) {
  lua_State *L = d->L;
  if (!anchor) return 0;
  lua_pushstring(L, (const char *)anchor);
  lua_pushvalue(L, -1);
  lua_pushinteger(L, KY_N_BUSY);
  lua_rawset(L, d->akind);
  return lua_gettop(L);
}

/* Turns the mapping key on top of the stack into a string, as
 * sigs.k8s.io/yaml does (1 -> "1", true -> "true", null -> "null"). */
static int ky_key_string(ky_dec *d, int kind, const yaml_mark_t *m) {
  lua_State *L = d->L;
  if (kind != KY_N_SCALAR) return ky_fail(d, m, "invalid map key: a %s", kind == KY_N_MAP ? "mapping" : "sequence");
  char buf[40];
  switch (lua_type(L, -1)) {
  case LUA_TSTRING: return 0;
  case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false"); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, -1)) lua_pushfstring(L, "%I", (lua_Integer)lua_tointeger(L, -1));
    else lua_pushlstring(L, buf, gofmt_yaml_float((double)lua_tonumber(L, -1), buf));
    break;
  default: lua_pushliteral(L, "null"); break;
  }
  lua_remove(L, -2);
  return 0;
}

static int ky_is_merge_key(const yaml_event_t *ev) {
  if (ev->type != YAML_SCALAR_EVENT) return 0;
  const char *tag = (const char *)ev->data.scalar.tag;
  if (tag) return strcmp(tag, KY_TAG_PREFIX "merge") == 0;
  return ev->data.scalar.plain_implicit && ev->data.scalar.length == 2 &&
         memcmp(ev->data.scalar.value, "<<", 2) == 0;
}

/* Mapping body: the table is on top of the stack; the start event was read. */
static int ky_mapping(ky_dec *d, int depth) {
  lua_State *L = d->L;
  int t = lua_gettop(L), merges = 0, nmerge = 0, kind;
  for (;;) {
    if (ky_next(d)) return -1;
    yaml_event_t *ev = &d->u->ev;
    if (ev->type == YAML_MAPPING_END_EVENT) break;
    yaml_mark_t km = ev->start_mark;
    if (ky_is_merge_key(ev)) {
      if (ky_next(d) || ky_node(d, depth + 1, &kind)) return -1;
      if (!merges) {
        lua_newtable(L);
        lua_insert(L, -2);
        merges = t + 1;
      }
      if (kind == KY_N_MAP) {
        lua_rawseti(L, merges, ++nmerge);
      } else if (kind == KY_N_SEQ_OF_MAPS) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
          lua_rawgeti(L, -1, i);
          lua_rawseti(L, merges, ++nmerge);
        }
        lua_pop(L, 1);
      } else {
        return ky_fail(d, &km, "map merge requires map or sequence of maps as the value");
      }
      continue;
    }
    if (ky_node(d, depth + 1, &kind) || ky_key_string(d, kind, &km)) return -1;
    if (ky_next(d) || ky_node(d, depth + 1, &kind)) return -1;
    lua_rawset(L, t);
  }
  /* merged keys never replace the mapping's own; earlier sources win */
  for (int i = 1; i <= nmerge; i++) {
    lua_rawgeti(L, merges, i);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      if (lua_rawget(L, t) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, t);
      } else {
        lua_pop(L, 2);
      }
    }
    lua_pop(L, 1);
  }
  if (merges) lua_settop(L, t);
  return 0;
}

/* Builds the node whose first event is in d->u->ev and pushes its value;
 * *kind tells what it was (KY_N_*). Returns 0, or -1 with the message pushed. */
static int ky_node(ky_dec *d, int depth, int *kind) {
  lua_State *L = d->L;
  yaml_event_t *ev = &d->u->ev;
  if (depth > KY_MAX_DEPTH) return ky_fail(d, &ev->start_mark, "nesting deeper than %d levels", KY_MAX_DEPTH);
  luaL_checkstack(L, 10, "yaml: nesting too deep");
  int a;
  switch (ev->type) {
  case YAML_ALIAS_EVENT: return ky_alias(d, depth, kind);
  case YAML_SCALAR_EVENT: {
    *kind = KY_N_SCALAR;
    a = ky_anchor_begin(d, ev->data.scalar.anchor);
    if (ky_scalar(d)) return -1;
    break;
  }
  case YAML_SEQUENCE_START_EVENT: {
    a = ky_anchor_begin(d, ev->data.sequence_start.anchor);
    lua_newtable(L);
    int t = lua_gettop(L), all_maps = 1, k;
    for (lua_Integer i = 1;; i++) {
      if (ky_next(d)) return -1;
      if (d->u->ev.type == YAML_SEQUENCE_END_EVENT) {
        if (i == 1) all_maps = 0;
        break;
      }
      if (ky_node(d, depth + 1, &k)) return -1;
      if (k != KY_N_MAP) all_maps = 0;
      lua_rawseti(L, t, i);
    }
    *kind = all_maps ? KY_N_SEQ_OF_MAPS : KY_N_SEQ;
    if (!lua_isnil(L, d->jarray)) {
      lua_pushvalue(L, d->jarray);
      lua_pushvalue(L, t);
      lua_call(L, 1, 0);
    }
    break;
  }
  case YAML_MAPPING_START_EVENT: {
    *kind = KY_N_MAP;
    a = ky_anchor_begin(d, ev->data.mapping_start.anchor);
    lua_newtable(L);
    if (ky_mapping(d, depth)) return -1;
    break;
  }
  default: return ky_fail(d, &ev->start_mark, "unexpected event %d", (int)ev->type);
  }
  if (a) {
    ky_anchor_set(d, a, *kind);
    lua_remove(L, a);
  }
  return 0;
}

/* decode(s) / decode_all(s): returns the values pushed */
static int ky_decode(lua_State *L, int all) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  ky_parser_ud *u = lua_newuserdatauv(L, sizeof *u, 0); /* 2 */
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, KY_PARSER_MT);
  if (!yaml_parser_initialize(&u->parser)) return luaL_error(L, "yaml: out of memory");
  u->parser_live = 1;
  yaml_parser_set_input_string(&u->parser, (const unsigned char *)s, n);
  ky_push_json(L); /* 3, 4 */
  ky_dec d = {L, u, s, n, 3, 4, 0, 0, 0, 0, 0};
  lua_newtable(L); /* 5: results */
  lua_Integer ndocs = 0;
  int rc = ky_next(&d); /* stream start */
  while (rc == 0) {
    if ((rc = ky_next(&d)) != 0 || u->ev.type == YAML_STREAM_END_EVENT) break;
    lua_settop(L, 5);
    lua_newtable(L); /* 6: anchors are per document */
    lua_newtable(L); /* 7 */
    d.aval = 6, d.akind = 7, d.alias_nodes = 0;
    int kind;
    if ((rc = ky_next(&d)) != 0 || (rc = ky_node(&d, 0, &kind)) != 0) break;
    if ((rc = ky_next(&d)) != 0) break; /* document end */
    lua_rawseti(L, 5, ++ndocs);
    lua_settop(L, 5);
    if (!all) break;
  }
  if (u->ev_live) yaml_event_delete(&u->ev), u->ev_live = 0;
  yaml_parser_delete(&u->parser), u->parser_live = 0;
  if (rc) { /* the message is on top */
    error_fail(L, "parse", "%s", lua_tostring(L, -1));
    lua_pushinteger(L, d.eline);
    lua_setfield(L, -2, "line");
    lua_pushinteger(L, d.ecol);
    lua_setfield(L, -2, "column");
    return 2;
  }
  if (all) {
    lua_settop(L, 5);
    if (!lua_isnil(L, 4)) {
      lua_pushvalue(L, 4);
      lua_pushvalue(L, 5);
      lua_call(L, 1, 0);
    }
    return 1;
  }
  if (ndocs == 0) {
    lua_pushvalue(L, 3);
    return 1;
  }
  lua_rawgeti(L, 5, 1);
  return 1;
}

static int ky_decode_one(lua_State *L) { return ky_decode(L, 0); }
static int ky_decode_all(lua_State *L) { return ky_decode(L, 1); }

/* ---- encoding ---- */

typedef struct {
  yaml_emitter_t em;
  int live;
  char *buf;
  size_t len, cap;
} ky_emitter_ud;

static int ky_emitter_gc(lua_State *L) {
  ky_emitter_ud *u = luaL_checkudata(L, 1, KY_EMITTER_MT);
  if (u->live) yaml_emitter_delete(&u->em), u->live = 0;
  free(u->buf);
  u->buf = NULL;
  return 0;
}

/* libyaml's output handler: append to a C buffer (no Lua here). */
static int ky_write(void *data, unsigned char *buffer, size_t size) {
  ky_emitter_ud *u = data;
  if (size > u->cap - u->len) {
    size_t cap = u->cap ? u->cap : 1024;
    while (cap - u->len < size) cap *= 2;
    char *b = realloc(u->buf, cap);
    if (!b) return 0;
    u->buf = b, u->cap = cap;
  }
  memcpy(u->buf + u->len, buffer, size);
  u->len += size;
  return 1;
}

typedef struct {
  lua_State *L;
  ky_emitter_ud *u;
  int jnull;   /* stack slot: json.null or nil */
  int arraymt; /* stack slot: the metatable json.array sets, or nil */
} ky_enc;

/* Emits ev (libyaml owns it from here on, even on failure); raises on error. */
static void ky_emit(ky_enc *e, yaml_event_t *ev, int made) {
  if (!made) luaL_error(e->L, "yaml.encode: out of memory");
  if (!yaml_emitter_emit(&e->u->em, ev))
    luaL_error(e->L, "yaml.encode: %s", e->u->em.problem ? e->u->em.problem : "emitter error");
}

static void ky_emit_scalar(ky_enc *e, const char *tag, const char *s, size_t n, yaml_scalar_style_t style) {
  yaml_event_t ev;
  int implicit = tag == NULL;
  int made = yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)s, (int)n,
                                          implicit, implicit, style);
  ky_emit(e, &ev, made);
}

/* go-yaml v2's stringv: invalid UTF-8 becomes !!binary base64; text with a
 * newline is a literal block; text that would read back as another type
 * (true, 0755, 1e3, 2001-12-14, "", null, ...) is double-quoted; the rest is
 * plain, and libyaml's emitter itself single-quotes what cannot be plain
 * (leading "- ", ": ", " #", leading or trailing spaces, indicators). */
static void ky_emit_string(ky_enc *e, const char *s, size_t n) {
  if (n > INT32_MAX) luaL_error(e->L, "yaml.encode: string too long");
  if (!gofmt_utf8_valid((const unsigned char *)s, n)) {
    size_t elen = b64_encoded_len(n, 0), lines = elen / 70 + 1;
    char *tmp = lua_newuserdatauv(e->L, elen + 1 + elen + lines + 1, 0);
    char *enc = tmp, *out = tmp + elen + 1;
    size_t k = 0;
    b64_encode((const unsigned char *)s, n, enc, 0);
    for (size_t i = 0; i < elen; i += 70) {
      size_t j = i + 70 < elen ? i + 70 : elen;
      memcpy(out + k, enc + i, j - i);
      k += j - i;
      if (lines > 1) out[k++] = '\n';
    }
    ky_emit_scalar(e, KY_BINARY_TAG, out, k, lines > 1 ? YAML_LITERAL_SCALAR_STYLE : YAML_PLAIN_SCALAR_STYLE);
    lua_pop(e->L, 1);
    return;
  }
  yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
  if (memchr(s, '\n', n)) style = YAML_LITERAL_SCALAR_STYLE;
  else if (gofmt_yaml_quote(s, n)) style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
  ky_emit_scalar(e, NULL, s, n, style);
}

/* A number as YAML text (Go's formatting for floats); buf holds 40 bytes. */
static size_t ky_number_text(lua_State *L, int idx, char *buf) {
  if (lua_isinteger(L, idx)) return (size_t)snprintf(buf, 40, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
  return gofmt_yaml_float((double)lua_tonumber(L, idx), buf);
}

static void ky_emit_value(ky_enc *e, int idx, int depth);

/* Is the table at idx a sequence? Marked by json.array, or keys exactly 1..n
 * (n > 0). Returns the length, or -1 for a mapping; *count gets the key count. */
static lua_Integer ky_seq_len(ky_enc *e, int idx, lua_Integer *count) {
  lua_State *L = e->L;
  if (!lua_isnil(L, e->arraymt) && lua_getmetatable(L, idx)) {
    int marked = lua_rawequal(L, -1, e->arraymt);
    lua_pop(L, 1);
    if (marked) return (lua_Integer)lua_rawlen(L, idx);
  }
  lua_Integer n = 0, max = 0;
  int ints = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    n++;
    if (ints && lua_isinteger(L, -1)) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k < 1) ints = 0;
      else if (k > max) max = k;
    } else {
      ints = 0;
    }
  }
  *count = n;
  return ints && n > 0 && max == n ? n : -1;
}

static void ky_emit_table(ky_enc *e, int idx, int depth) {
  lua_State *L = e->L;
  yaml_event_t ev;
  if (depth > KY_MAX_DEPTH) luaL_error(L, "yaml.encode: nesting deeper than %d levels (a cycle?)", KY_MAX_DEPTH);
  luaL_checkstack(L, 10, "yaml.encode: nesting too deep");
  lua_Integer count = 0, len = ky_seq_len(e, idx, &count);
  if (len >= 0) {
    ky_emit(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
    for (lua_Integer i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      ky_emit_value(e, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
    }
    ky_emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
    return;
  }
  if (count > INT32_MAX) luaL_error(L, "yaml.encode: table too large");
  /* keys: originals in one table, their text in another, sorted in C */
  int top = lua_gettop(L);
  gofmt_yaml_key *keys = lua_newuserdatauv(L, (size_t)count * sizeof *keys + 1, 0);
  lua_createtable(L, (int)count, 0); /* top + 2: original keys */
  lua_createtable(L, (int)count, 0); /* top + 3: key text */
  int orig = top + 2, text = top + 3, n = 0;
  char buf[40];
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: lua_pushvalue(L, -1); break;
    case LUA_TNUMBER: lua_pushlstring(L, buf, ky_number_text(L, -1, buf)); break;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false"); break;
    default: luaL_error(L, "yaml.encode: a %s cannot be a mapping key", luaL_typename(L, -1));
    }
    keys[n].s = lua_tolstring(L, -1, &keys[n].n);
    keys[n].i = n + 1;
    lua_rawseti(L, text, n + 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, orig, ++n);
  }
  gofmt_yaml_sort_keys(keys, (size_t)n);
  ky_emit(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, orig, keys[i].i);
    if (lua_type(L, -1) == LUA_TSTRING) ky_emit_string(e, keys[i].s, keys[i].n);
    else ky_emit_scalar(e, NULL, keys[i].s, keys[i].n, YAML_PLAIN_SCALAR_STYLE);
    lua_rawget(L, idx);
    ky_emit_value(e, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  ky_emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
  lua_settop(L, top);
}

static void ky_emit_value(ky_enc *e, int idx, int depth) {
  lua_State *L = e->L;
  char buf[40];
  switch (lua_type(L, idx)) {
  case LUA_TNIL: ky_emit_scalar(e, NULL, "null", 4, YAML_PLAIN_SCALAR_STYLE); break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) ky_emit_scalar(e, NULL, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    else ky_emit_scalar(e, NULL, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    break;
  case LUA_TNUMBER: ky_emit_scalar(e, NULL, buf, ky_number_text(L, idx, buf), YAML_PLAIN_SCALAR_STYLE); break;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    ky_emit_string(e, s, n);
    break;
  }
  case LUA_TTABLE: ky_emit_table(e, idx, depth); break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL || lua_rawequal(L, idx, e->jnull)) {
      ky_emit_scalar(e, NULL, "null", 4, YAML_PLAIN_SCALAR_STYLE);
      break;
    }
    luaL_error(L, "yaml.encode: cannot encode a light userdata");
    break;
  case LUA_TUSERDATA: { /* a json.number keeps the digits JSON had */
    const char *text = luaL_testudata(L, idx, "json.number");
    if (text) {
      ky_emit_scalar(e, NULL, text, lua_rawlen(L, idx) - 1, YAML_PLAIN_SCALAR_STYLE);
      break;
    }
  }
    /* fall through */
  default: luaL_error(L, "yaml.encode: cannot encode a %s", luaL_typename(L, idx));
  }
}

/* encode(v [, opts]) / encode_all(docs [, opts]) */
static int ky_encode(lua_State *L, int all) {
  luaL_checkany(L, 1);
  if (all) luaL_checktype(L, 1, LUA_TTABLE);
  int indent = 2, width = 80;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    if (lua_getfield(L, 2, "indent") != LUA_TNIL) indent = (int)luaL_checkinteger(L, -1);
    if (lua_getfield(L, 2, "width") != LUA_TNIL) width = (int)luaL_checkinteger(L, -1);
    luaL_argcheck(L, indent >= 2 && indent <= 9, 2, "indent must be 2..9");
  }
  lua_settop(L, 2);
  ky_push_json(L); /* 3: json.null, 4: json.array -> its metatable */
  if (!lua_isnil(L, 4)) {
    lua_newtable(L);
    lua_call(L, 1, 1);
    if (!lua_istable(L, 4) || !lua_getmetatable(L, 4)) lua_pushnil(L);
    lua_replace(L, 4);
  }
  ky_emitter_ud *u = lua_newuserdatauv(L, sizeof *u, 0); /* 5 */
  memset(u, 0, sizeof *u);
  luaL_setmetatable(L, KY_EMITTER_MT);
  if (!yaml_emitter_initialize(&u->em)) return luaL_error(L, "yaml.encode: out of memory");
  u->live = 1;
  yaml_emitter_set_output(&u->em, ky_write, u);
  yaml_emitter_set_unicode(&u->em, 1);
  yaml_emitter_set_indent(&u->em, indent);
  yaml_emitter_set_width(&u->em, width);
  ky_enc e = {L, u, 3, 4};
  yaml_event_t ev;
  ky_emit(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
  lua_Integer ndocs = all ? (lua_Integer)lua_rawlen(L, 1) : 1;
  for (lua_Integer i = 1; i <= ndocs; i++) {
    if (all) lua_rawgeti(L, 1, i);
    else lua_pushvalue(L, 1);
    ky_emit(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    ky_emit_value(&e, lua_gettop(L), 0);
    ky_emit(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
    lua_pop(L, 1);
  }
  ky_emit(&e, &ev, yaml_stream_end_event_initialize(&ev));
  if (!yaml_emitter_flush(&u->em)) return luaL_error(L, "yaml.encode: out of memory");
  /* libyaml ends a stream whose last scalar is a "|+" block with "...";
   * go-yaml does not, and the end of the stream ends the block anyway */
  if (u->len >= 5 && memcmp(u->buf + u->len - 5, "\n...\n", 5) == 0) u->len -= 4;
  lua_pushlstring(L, u->buf ? u->buf : "", u->len);
  yaml_emitter_delete(&u->em), u->live = 0;
  free(u->buf), u->buf = NULL;
  return 1;
}

static int ky_encode_one(lua_State *L) { return ky_encode(L, 0); }
static int ky_encode_all(lua_State *L) { return ky_encode(L, 1); }

/* ---- lists to output, from JSON bytes (no Lua tables) ---- */

static const char KY_LW_MT[] = "ksh.yaml.listwriter";

typedef struct {
  ky_emitter_ud u; /* first: ky_write gets &u */
  gofmt_jdoc doc;
  FILE *f;
  int state; /* 0: nothing written, 1: inside items, 2: finished */
} ky_lw;

static int ky_lw_gc(lua_State *L) {
  ky_lw *w = luaL_checkudata(L, 1, KY_LW_MT);
  if (w->u.live) yaml_emitter_delete(&w->u.em), w->u.live = 0;
  free(w->u.buf);
  w->u.buf = NULL;
  gofmt_jdoc_free(&w->doc);
  return 0;
}

static ky_lw *ky_lw_check(lua_State *L) {
  ky_lw *w = luaL_checkudata(L, 1, KY_LW_MT);
  if (!w->u.live) luaL_error(L, "attempt to use a finished yaml list writer");
  return w;
}

/* writes what the emitter has produced so far to the file */
static void ky_lw_flush(lua_State *L, ky_lw *w) {
  if (!yaml_emitter_flush(&w->u.em)) luaL_error(L, "yaml: out of memory");
  if (w->u.len && fwrite(w->u.buf, 1, w->u.len, w->f) != w->u.len) luaL_error(L, "yaml: write failed");
  w->u.len = 0;
}

static void ky_plain(ky_enc *e, const char *s) { ky_emit_scalar(e, NULL, s, strlen(s), YAML_PLAIN_SCALAR_STYLE); }

typedef struct {
  const char *k;
  size_t n;
  int node; /* >= 0: a member; < 0: -1 - the extra's index */
} ky_jkey;

static int ky_jkey_cmp(const void *a, const void *b) {
  const ky_jkey *x = a, *y = b;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  return x->n < y->n ? -1 : x->n > y->n;
}

/* by key, then document order */
static int ky_jkey_order(const void *a, const void *b) {
  int c = ky_jkey_cmp(a, b);
  if (c) return c;
  const ky_jkey *x = a, *y = b;
  return x->node < y->node ? -1 : x->node > y->node;
}

static void ky_jvalue(ky_enc *e, gofmt_jdoc *d, int id, int level, const gofmt_jextra *extra, size_t nextra, int drop);

/* an object: the last of duplicate keys, extras only where the key is
 * missing, in go-yaml's key order */
static void ky_jobject(ky_enc *e, gofmt_jdoc *d, int id, int level, const gofmt_jextra *extra, size_t nextra,
                       int drop) {
  lua_State *L = e->L;
  yaml_event_t ev;
  size_t n = d->nodes[id].count + nextra, m = 0, held = 0;
  luaL_checkstack(L, 4, "yaml: nesting too deep");
  for (int c = d->nodes[id].child; c >= 0; c = d->nodes[c].next)
    if (d->nodes[c].kflags & GOFMT_J_ESC) held += d->nodes[c].klen;
  /* userdata: the key arrays and decoded keys, collected if an error unwinds */
  char *mem = lua_newuserdatauv(L, n * (sizeof(ky_jkey) + sizeof(gofmt_yaml_key)) + held + 1, 0);
  ky_jkey *v = (ky_jkey *)(void *)mem;
  gofmt_yaml_key *keys = (gofmt_yaml_key *)(void *)(mem + n * sizeof(ky_jkey));
  char *hk = mem + n * (sizeof(ky_jkey) + sizeof(gofmt_yaml_key));
  for (int c = d->nodes[id].child; c >= 0; c = d->nodes[c].next) {
    gofmt_jnode *x = &d->nodes[c];
    v[m].node = c;
    if (x->kflags & GOFMT_J_ESC) {
      v[m].n = gofmt_junescape(x->k, x->klen, hk);
      v[m].k = hk;
      hk += x->klen;
    } else {
      v[m].k = x->k;
      v[m].n = x->klen;
    }
    m++;
  }
  /* the last of equal keys: sorted by bytes, document order breaking ties */
  qsort(v, m, sizeof *v, ky_jkey_order);
  size_t w = 0;
  for (size_t i = 0; i < m; i++) {
    if (i + 1 < m && ky_jkey_cmp(&v[i], &v[i + 1]) == 0) continue;
    v[w++] = v[i];
  }
  m = w;
  for (size_t i = 0; i < nextra; i++) {
    ky_jkey t = {extra[i].key, strlen(extra[i].key), -1 - (int)i};
    int have = 0;
    for (size_t j = 0; j < m && !have; j++) have = ky_jkey_cmp(&v[j], &t) == 0;
    if (!have) v[m++] = t;
  }
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    if (drop && level == 1 && v[i].n == 13 && memcmp(v[i].k, "managedFields", 13) == 0) continue;
    keys[k].s = v[i].k;
    keys[k].n = v[i].n;
    keys[k].i = (int)i;
    k++;
  }
  gofmt_yaml_sort_keys(keys, k);
  ky_emit(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
  for (size_t i = 0; i < k; i++) {
    ky_jkey *x = &v[keys[i].i];
    ky_emit_string(e, x->k, x->n);
    if (x->node < 0) {
      const char *val = extra[-1 - x->node].value;
      ky_emit_string(e, val, strlen(val));
    } else {
      int meta = level == 0 && x->n == 8 && memcmp(x->k, "metadata", 8) == 0;
      ky_jvalue(e, d, x->node, meta ? 1 : 2, NULL, 0, drop);
    }
  }
  ky_emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
  lua_pop(L, 1);
}

/* one value of the tree, as ky_emit_value emits what json.decode makes of it */
static void ky_jvalue(ky_enc *e, gofmt_jdoc *d, int id, int level, const gofmt_jextra *extra, size_t nextra,
                      int drop) {
  const gofmt_jnode *x = &d->nodes[id];
  yaml_event_t ev;
  char buf[40];
  switch (x->type) {
  case 'o': ky_jobject(e, d, id, level, extra, nextra, drop); break;
  case 'a':
    luaL_checkstack(e->L, 4, "yaml: nesting too deep");
    ky_emit(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
    for (int c = x->child; c >= 0; c = d->nodes[c].next) ky_jvalue(e, d, c, 2, NULL, 0, drop);
    ky_emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
    break;
  case 's': {
    size_t n;
    const char *t = gofmt_jtext(d, x->s, x->len, x->flags, &n);
    if (!t) luaL_error(e->L, "yaml: out of memory");
    ky_emit_string(e, t, n);
    break;
  }
  case 'n': {
    int64_t i;
    double f;
    switch (gofmt_jnumber(x->s, x->len, x->flags & GOFMT_J_FLOAT, &i, &f)) {
    case GOFMT_JNUM_INT: ky_emit_scalar(e, NULL, buf, gofmt_int(buf, i), YAML_PLAIN_SCALAR_STYLE); break;
    case GOFMT_JNUM_FLOAT: ky_emit_scalar(e, NULL, buf, gofmt_yaml_float(f, buf), YAML_PLAIN_SCALAR_STYLE); break;
    default: ky_emit_scalar(e, NULL, x->s, x->len, YAML_PLAIN_SCALAR_STYLE);
    }
    break;
  }
  case 't': ky_plain(e, "true"); break;
  case 'f': ky_plain(e, "false"); break;
  default: ky_plain(e, "null"); break;
  }
}

/* yaml.list_writer(file) -> w: writes kubectl's `-o yaml` of a List
 * (apiVersion: v1, items:, kind: List, metadata: resourceVersion: "") to
 * file, its items fed page by page from JSON response bodies by
 * w:items(body, opts), ended by w:finish().  The same bytes as
 * yaml.encode of the decoded list, without Lua tables. */
static int ky_list_writer(lua_State *L) {
  luaL_Stream *fs = luaL_checkudata(L, 1, LUA_FILEHANDLE);
  if (!fs->closef) return luaL_error(L, "attempt to use a closed file");
  ky_lw *w = lua_newuserdatauv(L, sizeof *w, 1);
  memset(w, 0, sizeof *w);
  luaL_setmetatable(L, KY_LW_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* keep the file alive */
  if (!yaml_emitter_initialize(&w->u.em)) return luaL_error(L, "yaml: out of memory");
  w->u.live = 1;
  w->f = fs->f;
  yaml_emitter_set_output(&w->u.em, ky_write, &w->u);
  yaml_emitter_set_unicode(&w->u.em, 1);
  yaml_emitter_set_indent(&w->u.em, 2);
  yaml_emitter_set_width(&w->u.em, 80);
  return 1;
}

static void ky_lw_start(ky_enc *e, ky_lw *w) {
  yaml_event_t ev;
  if (w->state) return;
  ky_emit(e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
  ky_emit(e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
  ky_emit(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
  ky_plain(e, "apiVersion");
  ky_plain(e, "v1");
  ky_plain(e, "items");
  ky_emit(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
  w->state = 1;
}

/* w:items(body, opts) -> count, continue | nil, err: the items of the JSON
 * list body (opts: kind, api_version set on items lacking them,
 * managed_fields to keep metadata.managedFields); continue is the list's
 * metadata.continue (nil when empty) */
static int ky_lw_items(lua_State *L) {
  ky_lw *w = ky_lw_check(L);
  size_t len;
  const char *body = luaL_checklstring(L, 2, &len);
  if (w->state == 2) return luaL_error(L, "yaml list writer: items after finish");
  gofmt_jextra extra[2];
  size_t nextra = 0;
  int drop = 1;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "api_version") != LUA_TNIL) {
      extra[nextra].key = "apiVersion";
      extra[nextra++].value = luaL_checkstring(L, -1);
    }
    if (lua_getfield(L, 3, "kind") != LUA_TNIL) {
      extra[nextra].key = "kind";
      extra[nextra++].value = luaL_checkstring(L, -1);
    }
    lua_getfield(L, 3, "managed_fields");
    drop = !lua_toboolean(L, -1);
  }
  lua_settop(L, 3 + 3);
  lua_pushnil(L); /* 7: continue */
  ky_enc e = {L, &w->u, 0, 0};
  ky_lw_start(&e, w);
  gofmt_jdoc *d = &w->doc;
  gofmt_jlist it;
  gofmt_jlist_init(&it, body, len);
  lua_Integer count = 0;
  int item;
  while ((item = gofmt_jlist_next(&it, d)) >= 0) {
    if (d->nodes[item].type == 'o') ky_jvalue(&e, d, item, 0, extra, nextra, drop);
    else ky_jvalue(&e, d, item, 2, NULL, 0, drop);
    count++;
    if (w->u.len >= 65536) ky_lw_flush(L, w);
  }
  if (item == -2) {
    ky_lw_flush(L, w);
    error_fail(L, "parse", "json: %s at offset %I", d->err ? d->err : "unexpected input",
               (lua_Integer)((d->errpos ? d->errpos : it.p) - body));
    return 2;
  }
  if (it.cont && it.contlen) {
    size_t n;
    const char *t = gofmt_jtext(d, it.cont, it.contlen, it.contflags, &n);
    if (!t) return luaL_error(L, "yaml: out of memory");
    lua_pushlstring(L, t, n);
    lua_replace(L, 7);
  }
  ky_lw_flush(L, w);
  lua_pushinteger(L, count);
  lua_pushvalue(L, 7);
  return 2;
}

/* w:finish(): ends the list (kind: List, metadata) and writes the rest */
static int ky_lw_finish(lua_State *L) {
  ky_lw *w = ky_lw_check(L);
  if (w->state == 2) return 0;
  ky_enc e = {L, &w->u, 0, 0};
  yaml_event_t ev;
  ky_lw_start(&e, w);
  ky_emit(&e, &ev, yaml_sequence_end_event_initialize(&ev));
  ky_plain(&e, "kind");
  ky_plain(&e, "List");
  ky_plain(&e, "metadata");
  ky_emit(&e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
  ky_plain(&e, "resourceVersion");
  ky_emit_string(&e, "", 0);
  ky_emit(&e, &ev, yaml_mapping_end_event_initialize(&ev));
  ky_emit(&e, &ev, yaml_mapping_end_event_initialize(&ev));
  ky_emit(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
  ky_emit(&e, &ev, yaml_stream_end_event_initialize(&ev));
  if (!yaml_emitter_flush(&w->u.em)) return luaL_error(L, "yaml: out of memory");
  /* as yaml.encode: no "..." after a "|+" block (go-yaml writes none) */
  if (w->u.len >= 5 && memcmp(w->u.buf + w->u.len - 5, "\n...\n", 5) == 0) w->u.len -= 4;
  ky_lw_flush(L, w);
  w->state = 2;
  return 0;
}

/* The ksh.yaml module table. */
int luaopen_ksh_yaml(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"decode", ky_decode_one}, {"decode_all", ky_decode_all},
      {"encode", ky_encode_one}, {"encode_all", ky_encode_all},
      {"list_writer", ky_list_writer}, {NULL, NULL},
  };
  if (luaL_newmetatable(L, KY_PARSER_MT)) {
    lua_pushcfunction(L, ky_parser_gc);
    lua_setfield(L, -2, "__gc");
  }
  if (luaL_newmetatable(L, KY_EMITTER_MT)) {
    lua_pushcfunction(L, ky_emitter_gc);
    lua_setfield(L, -2, "__gc");
  }
  if (luaL_newmetatable(L, KY_LW_MT)) {
    static const luaL_Reg lw[] = {{"items", ky_lw_items}, {"finish", ky_lw_finish}, {NULL, NULL}};
    lua_pushcfunction(L, ky_lw_gc);
    lua_setfield(L, -2, "__gc");
    luaL_newlib(L, lw);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 3);
  luaL_newlib(L, fns);
  return 1;
}
