/* lua_snapshot.c: ksh.snapshot, etcd snapshot files (src/core/etcdsnap.h)
 * for lua/etcd/snapshot.lua.
 *
 *   snapshot.open(path, rev, force) -> snap | nil, err
 *       err.kind: "notfound", "io", "busy", "corrupt" (err.page or
 *       err.offset), "compacted" (err.compact_revision), "range" (a future
 *       revision)
 *   snap:info() -> {revision, read_revision, compact_revision,
 *       scheduled_compact_revision, term, consistent_index, revisions, keys,
 *       txid, page_size, trailer}
 *   snap:query(key, range_end|nil, opts) -> {kvs = {...}, more, count}
 *       (each kv also has revisions: how many revisions of it the file keeps)
 *       opts: limit, sort_order ("NONE"|"ASCEND"|"DESCEND"), sort_target
 *       ("KEY"|"VERSION"|"CREATE"|"MOD"|"VALUE"), keys_only, count_only,
 *       min/max_mod_revision, min/max_create_revision
 *   snap:span(key, range_end|nil) -> lo, hi (0-based, the live keys in range)
 *   snap:record(i, hi, keys_only) -> rec, next | nil: a 'K' record (as
 *       ksh.etcdpb's scanner gives: pb.kvs / pb.lines read it) of the keys
 *       i..hi-1, about 256 KB at most
 *   snap:close() (also __gc, __close): idempotent; a closed snap raises. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "etcdscan.h"
#include "etcdsnap.h"
#include "pb.h"

int luaopen_ksh_snapshot(lua_State *L);

#define SNAP_MT "ksh.snapshot"

typedef struct {
  etcdsnap *s;
} snap;

static snap *check_open(lua_State *L) {
  snap *u = luaL_checkudata(L, 1, SNAP_MT);
  if (!u->s) luaL_error(L, "attempt to use a closed etcd snapshot");
  return u;
}

/* the error kind of a core error code */
static const char *snap_kind(int code) {
  switch (code) {
  case BBOLT_ENOENT: return "notfound";
  case BBOLT_BUSY: return "busy";
  case BBOLT_CORRUPT:
  case ETCDSNAP_NOTETCD: return "corrupt";
  case ETCDSNAP_COMPACTED: return "compacted";
  case ETCDSNAP_FUTURE: return "range";
  default: return "io";
  }
}

static int l_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer rev = luaL_optinteger(L, 2, 0);
  int force = lua_toboolean(L, 3);
  snap *u = lua_newuserdatauv(L, sizeof *u, 1);
  u->s = NULL;
  luaL_setmetatable(L, SNAP_MT);
  bbolt_err e;
  memset(&e, 0, sizeof e);
  e.offset = -1;
  u->s = etcdsnap_open(path, rev, force ? BBOLT_FORCE : 0, &e);
  if (!u->s) {
    const char *kind = snap_kind(e.code);
    error_fail(L, kind, "etcd snapshot %s: %s", path, e.msg);
    if (e.code == BBOLT_CORRUPT && e.page != BBOLT_NOPAGE) {
      lua_pushinteger(L, (lua_Integer)e.page);
      lua_setfield(L, -2, "page");
    }
    if (e.offset >= 0) {
      lua_pushinteger(L, (lua_Integer)e.offset);
      lua_setfield(L, -2, "offset");
    }
    if (e.sys_errno) {
      lua_pushinteger(L, e.sys_errno);
      lua_setfield(L, -2, "errno");
    }
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    return 2;
  }
  return 1;
}

static int l_info(lua_State *L) {
  snap *u = check_open(L);
  const etcdsnap_info *in = etcdsnap_get_info(u->s);
  lua_createtable(L, 0, 10);
#define SETI(name, v)                 \
  lua_pushinteger(L, (lua_Integer)(v)); \
  lua_setfield(L, -2, name)
  SETI("revision", in->revision);
  SETI("read_revision", in->read_revision);
  SETI("compact_revision", in->compact_revision);
  SETI("scheduled_compact_revision", in->scheduled_compact);
  SETI("term", in->term);
  SETI("consistent_index", in->consistent_index);
  SETI("revisions", in->revisions);
  SETI("keys", etcdsnap_count(u->s));
#undef SETI
  return 1;
}

static void push_kv(lua_State *L, const etcdsnap_kv *kv, int keys_only) {
  lua_createtable(L, 0, 7);
  lua_pushlstring(L, (const char *)kv->key, kv->klen);
  lua_setfield(L, -2, "key");
  lua_pushinteger(L, kv->create);
  lua_setfield(L, -2, "create_revision");
  lua_pushinteger(L, kv->mod);
  lua_setfield(L, -2, "mod_revision");
  lua_pushinteger(L, kv->version);
  lua_setfield(L, -2, "version");
  if (keys_only) lua_pushliteral(L, "");
  else lua_pushlstring(L, (const char *)kv->val, kv->vlen);
  lua_setfield(L, -2, "value");
  lua_pushinteger(L, kv->lease);
  lua_setfield(L, -2, "lease");
  lua_pushinteger(L, kv->nrev);
  lua_setfield(L, -2, "revisions");
}

static int opt_bool(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static lua_Integer opt_int(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  lua_Integer v = 0;
  if (!lua_isnil(L, -1)) {
    int isnum;
    v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) luaL_error(L, "etcd snapshot: option %s: an integer expected", name);
  }
  lua_pop(L, 1);
  return v;
}

static int opt_enum(lua_State *L, int t, const char *name, const char *const *names) {
  lua_getfield(L, t, name);
  int v = 0;
  if (!lua_isnil(L, -1)) {
    const char *s = luaL_checkstring(L, -1);
    for (v = 0; names[v] && strcmp(names[v], s); v++) {}
    if (!names[v]) luaL_error(L, "etcd snapshot: option %s: unknown value %s", name, s);
  }
  lua_pop(L, 1);
  return v;
}

static void range_args(lua_State *L, etcdsnap_range *r) {
  r->key = luaL_checklstring(L, 2, &r->kn);
  r->has_end = !lua_isnoneornil(L, 3);
  if (r->has_end) r->end = luaL_checklstring(L, 3, &r->en);
}

static int l_query(lua_State *L) {
  snap *u = check_open(L);
  etcdsnap_range r;
  memset(&r, 0, sizeof r);
  range_args(L, &r);
  luaL_checktype(L, 4, LUA_TTABLE);
  static const char *const orders[] = {"NONE", "ASCEND", "DESCEND", NULL};
  static const char *const targets[] = {"KEY", "VERSION", "CREATE", "MOD", "VALUE", NULL};
  r.limit = opt_int(L, 4, "limit");
  r.sort_order = opt_enum(L, 4, "sort_order", orders);
  r.sort_target = opt_enum(L, 4, "sort_target", targets);
  r.count_only = opt_bool(L, 4, "count_only");
  r.min_mod = opt_int(L, 4, "min_mod_revision");
  r.max_mod = opt_int(L, 4, "max_mod_revision");
  r.min_create = opt_int(L, 4, "min_create_revision");
  r.max_create = opt_int(L, 4, "max_create_revision");
  int keys_only = opt_bool(L, 4, "keys_only");
  const etcdsnap_kv **v;
  size_t n;
  int64_t count;
  int more;
  if (etcdsnap_query(u->s, &r, &v, &n, &count, &more)) return luaL_error(L, "etcd snapshot: out of memory");
  lua_createtable(L, 0, 3);
  lua_createtable(L, (int)(n < 1u << 24 ? n : 0), 0);
  for (size_t i = 0; i < n; i++) {
    push_kv(L, v[i], keys_only);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  free((void *)v);
  lua_setfield(L, -2, "kvs");
  lua_pushboolean(L, more);
  lua_setfield(L, -2, "more");
  lua_pushinteger(L, count);
  lua_setfield(L, -2, "count");
  return 1;
}

static int l_span(lua_State *L) {
  snap *u = check_open(L);
  etcdsnap_range r;
  memset(&r, 0, sizeof r);
  range_args(L, &r);
  size_t lo, hi;
  etcdsnap_span(u->s, r.key, r.kn, r.end, r.en, r.has_end, &lo, &hi);
  lua_pushinteger(L, (lua_Integer)lo);
  lua_pushinteger(L, (lua_Integer)hi);
  return 2;
}

/* a KeyValue without its value (keys_only), as etcd sends it */
static void put_kv_keys_only(pb_buf *b, const etcdsnap_kv *kv) {
  pb_buf m = {0};
  pb_put_bytes(&m, 1, kv->key, kv->klen);
  if (kv->create) pb_put_uint(&m, 2, (uint64_t)kv->create);
  if (kv->mod) pb_put_uint(&m, 3, (uint64_t)kv->mod);
  if (kv->version) pb_put_uint(&m, 4, (uint64_t)kv->version);
  if (kv->lease) pb_put_uint(&m, 6, (uint64_t)kv->lease);
  pb_put_bytes(b, 2, m.p, m.len);
  pb_buf_free(&m);
}

static int l_record(lua_State *L) {
  snap *u = check_open(L);
  lua_Integer i = luaL_checkinteger(L, 2), hi = luaL_checkinteger(L, 3);
  int keys_only = lua_toboolean(L, 4);
  lua_Integer n = (lua_Integer)etcdsnap_count(u->s);
  if (hi > n) hi = n;
  if (i < 0 || i >= hi) {
    lua_pushnil(L);
    return 1;
  }
  pb_buf b = {0};
  char *tmp = NULL;
  size_t tmpcap = 0;
  int ioerr = 0;
  pb_put_raw(&b, (char[]){ETCDSCAN_REC_KVS}, 1);
  for (; i < hi && b.len < (256u << 10) && !b.oom; i++) {
    const etcdsnap_kv *kv = etcdsnap_at(u->s, (size_t)i);
    if (keys_only) {
      put_kv_keys_only(&b, kv); /* the keys are in memory: no page of the file read */
      continue;
    }
    /* the value read with pread, not through the map: values in key order lie all over the file */
    if (kv->kvlen > tmpcap) {
      char *t = realloc(tmp, kv->kvlen);
      if (!t) {
        b.oom = 1;
        break;
      }
      tmp = t, tmpcap = kv->kvlen;
    }
    if (etcdsnap_copy_kv(u->s, kv, tmp)) {
      ioerr = errno;
      break;
    }
    pb_put_bytes(&b, 2, tmp, kv->kvlen);
  }
  free(tmp);
  if (b.oom || ioerr) {
    pb_buf_free(&b);
    if (ioerr) return luaL_error(L, "etcd snapshot: read: %s", strerror(ioerr));
    return luaL_error(L, "etcd snapshot: out of memory");
  }
  lua_pushlstring(L, b.p, b.len);
  pb_buf_free(&b);
  lua_pushinteger(L, i);
  return 2;
}

static int l_close(lua_State *L) {
  snap *u = luaL_checkudata(L, 1, SNAP_MT);
  etcdsnap *s = u->s;
  u->s = NULL;
  etcdsnap_close(s);
  return 0;
}

int luaopen_ksh_snapshot(lua_State *L) {
  static const luaL_Reg meth[] = {{"info", l_info},     {"query", l_query}, {"span", l_span},
                                  {"record", l_record}, {"close", l_close}, {NULL, NULL}};
  luaL_newmetatable(L, SNAP_MT);
  luaL_newlib(L, meth);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
