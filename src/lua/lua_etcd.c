/* lua_etcd.c: the binding of src/core/pb.c and etcdscan.c, module ksh.etcdpb.  The etcd client
 * (connect, get, scan, put, del, txn, watch) is lua/etcd.lua on top of it.
 *
 *   encode(type, table) -> bytes      decode(type, bytes) -> table | nil, err
 *   range_scanner([early_header [, output]]) -> sc   sc:framer() -> framer (for http.stream)
 *   sc:clean() -> bool, sc:count() -> KeyValues seen
 *   kvs(record [, keys_only]) -> {kv, ...}     (REC_KVS records of the scanner)
 *   lines(record, values, raw) -> text, n      (one key per line, escaped)
 *   last_key(record) -> key          escape(s) -> text, escaped        prefix_end(prefix) -> range_end
 *   REC_KVS, REC_END, REC_HEADER: the first byte of the scanner's records (etcdscan.h)
 * etcdctl's output in C (etcd_out.c):
 *   output("json", text) | output("lines", values, raw) -> o: with range_scanner(early, o) the
 *     range's KeyValues are printed to stdout in C (o:count(); o:finish() -> true | nil, err;
 *     o:feed(record) for records read in Lua)
 *   watch_printer("simple"|"json") -> w
 *   w:feed(message, floor) -> text, printed, max_rev | false (not a batch of events) | nil, err
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "http.h"
#include "lua_http.h"
#include "etcd_out.h"
#include "etcdscan.h"
#include "pb.h"

int luaopen_ksh_etcdpb(lua_State *L);

#define SCANNER_MT "ksh.etcdpb.scanner"
#define WPRINT_MT "ksh.etcdpb.watch_printer"

/* --- encode: Lua table -> protobuf --- */

typedef struct {
  char msg[160];
} encerr;

static int enc_fail(encerr *e, const pb_msgdef *m, const pb_fielddef *f, const char *what) {
  snprintf(e->msg, sizeof e->msg, "%s.%s: %s", m->name, f ? f->name : "?", what);
  return -1;
}

static int encode_msg(lua_State *L, const pb_msgdef *m, int t, pb_buf *b, encerr *e, int depth);

/* Encode the value at the top of the stack as field f. */
static int encode_value(lua_State *L, const pb_msgdef *m, const pb_fielddef *f, pb_buf *b, encerr *e, int depth) {
  int ty = lua_type(L, -1);
  switch (f->type) {
  case PB_T_INT:
  case PB_T_UINT: {
    int isint;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    if (!isint) return enc_fail(e, m, f, "integer expected");
    return pb_put_uint(b, f->num, (uint64_t)v);
  }
  case PB_T_ID: {
    uint64_t v;
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1))
      v = (uint64_t)lua_tointeger(L, -1);
    else if (ty == LUA_TSTRING) {
      const char *s = lua_tostring(L, -1);
      char *endp;
      errno = 0;
      v = strtoull(s, &endp, 0);
      if (errno || endp == s || *endp || *s == '-') return enc_fail(e, m, f, "unsigned 64-bit ID expected");
    } else
      return enc_fail(e, m, f, "integer or decimal string expected");
    return pb_put_uint(b, f->num, v);
  }
  case PB_T_BOOL:
    if (!lua_toboolean(L, -1)) return 0;
    return pb_put_uint(b, f->num, 1);
  case PB_T_ENUM: {
    int v = -1;
    if (ty == LUA_TSTRING)
      v = pb_enum_value(f, lua_tostring(L, -1));
    else if (lua_isinteger(L, -1))
      v = (int)lua_tointeger(L, -1);
    if (v < 0) return enc_fail(e, m, f, "unknown enum value");
    return pb_put_uint(b, f->num, (uint64_t)v);
  }
  case PB_T_BYTES: {
    if (ty != LUA_TSTRING) return enc_fail(e, m, f, "string expected");
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    return pb_put_bytes(b, f->num, s, n);
  }
  case PB_T_MSG: {
    if (ty != LUA_TTABLE) return enc_fail(e, m, f, "table expected");
    if (depth > 16) return enc_fail(e, m, f, "nested too deep");
    pb_buf sub = {0};
    int rc = encode_msg(L, f->msg, lua_gettop(L), &sub, e, depth + 1);
    if (rc == 0) rc = pb_put_bytes(b, f->num, sub.p, sub.len);
    pb_buf_free(&sub);
    return rc;
  }
  }
  return -1;
}

static int encode_msg(lua_State *L, const pb_msgdef *m, int t, pb_buf *b, encerr *e, int depth) {
  /* refuse fields the message does not have (typos would be silently dropped) */
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !pb_field_by_name(m, lua_tostring(L, -1))) {
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)";
      snprintf(e->msg, sizeof e->msg, "%s has no field '%s'", m->name, k);
      lua_pop(L, 1);
      return -1;
    }
  }
  for (size_t i = 0; i < m->nfields; i++) {
    const pb_fielddef *f = &m->fields[i];
    lua_getfield(L, t, f->name);
    int rc = 0;
    if (lua_isnil(L, -1)) {
    } else if (f->repeated) {
      if (!lua_istable(L, -1)) rc = enc_fail(e, m, f, "list expected");
      int lt = lua_gettop(L);
      lua_Integer n = rc ? 0 : (lua_Integer)lua_rawlen(L, lt);
      for (lua_Integer j = 1; j <= n && rc == 0; j++) {
        lua_rawgeti(L, lt, j);
        rc = encode_value(L, m, f, b, e, depth);
        lua_pop(L, 1);
      }
    } else
      rc = encode_value(L, m, f, b, e, depth);
    lua_pop(L, 1);
    if (rc) {
      if (b->oom && !e->msg[0]) snprintf(e->msg, sizeof e->msg, "out of memory");
      return -1;
    }
  }
  return b->oom ? -1 : 0;
}

static const pb_msgdef *check_msgdef(lua_State *L, int i) {
  const char *name = luaL_checkstring(L, i);
  const pb_msgdef *m = pb_msg(name);
  if (!m) luaL_argerror(L, i, lua_pushfstring(L, "unknown message type '%s'", name));
  return m;
}

/* encode(type, table [, grpc]) -> bytes: with grpc, the 5-byte gRPC prefix too */
/* Push the buffer's bytes as a string and free the buffer; raises when the
 * buffer ran out of memory while it was filled. */
static void push_buf(lua_State *L, pb_buf *b) {
  int oom = b->oom;
  if (!oom) lua_pushlstring(L, b->p ? b->p : "", b->len);
  pb_buf_free(b);
  if (oom) luaL_error(L, "out of memory");
}

static int l_encode(lua_State *L) {
  const pb_msgdef *m = check_msgdef(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  int grpc = lua_toboolean(L, 3);
  pb_buf b = {0};
  encerr e = {{0}};
  if (grpc) pb_put_raw(&b, "\0\0\0\0\0", 5);
  if (encode_msg(L, m, 2, &b, &e, 0)) {
    pb_buf_free(&b);
    return luaL_error(L, "encode %s: %s", m->name, e.msg[0] ? e.msg : "out of memory");
  }
  if (grpc) {
    size_t n = b.len - 5;
    unsigned char *h = (unsigned char *)b.p;
    h[1] = (unsigned char)(n >> 24);
    h[2] = (unsigned char)(n >> 16);
    h[3] = (unsigned char)(n >> 8);
    h[4] = (unsigned char)n;
  }
  push_buf(L, &b);
  return 1;
}

/* --- decode: protobuf -> Lua table --- */

static void push_default(lua_State *L, const pb_fielddef *f) {
  switch (f->type) {
  case PB_T_INT:
  case PB_T_UINT: lua_pushinteger(L, 0); break;
  case PB_T_ID: lua_pushliteral(L, "0"); break;
  case PB_T_BOOL: lua_pushboolean(L, 0); break;
  case PB_T_ENUM: lua_pushstring(L, f->enums[0]); break;
  case PB_T_BYTES: lua_pushliteral(L, ""); break;
  case PB_T_MSG: lua_pushnil(L); break;
  }
}

static int decode_msg(lua_State *L, const pb_msgdef *m, const char *p, size_t len, int depth);

/* Push the Lua value of one scalar: returns 0, or -1 on a wire-type mismatch. */
static int push_scalar(lua_State *L, const pb_fielddef *f, int wiretype, uint64_t v) {
  if (wiretype != PB_VARINT) return -1;
  switch (f->type) {
  case PB_T_INT:
  case PB_T_UINT: lua_pushinteger(L, (lua_Integer)v); break;
  case PB_T_ID: {
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, v);
    lua_pushstring(L, s);
    break;
  }
  case PB_T_BOOL: lua_pushboolean(L, v != 0); break;
  case PB_T_ENUM: {
    size_t n = 0;
    while (f->enums[n]) n++;
    if (v < n)
      lua_pushstring(L, f->enums[v]);
    else
      lua_pushinteger(L, (lua_Integer)v);
    break;
  }
  default: return -1;
  }
  return 0;
}

/* Push the value of field fd (a scalar, or the message/bytes in fl). */
static int push_field(lua_State *L, const pb_fielddef *fd, const pb_field *fl, int depth) {
  if (fd->type == PB_T_BYTES) {
    if (fl->wiretype != PB_LEN) return -1;
    lua_pushlstring(L, fl->data, fl->len);
    return 0;
  }
  if (fd->type == PB_T_MSG) {
    if (fl->wiretype != PB_LEN) return -1;
    return decode_msg(L, fd->msg, fl->data, fl->len, depth + 1);
  }
  return push_scalar(L, fd, fl->wiretype, fl->v);
}

/* Push a table for message m; returns 0, or -1 when malformed (nothing pushed). */
static int decode_msg(lua_State *L, const pb_msgdef *m, const char *p, size_t len, int depth) {
  if (depth > 32) return -1;
  luaL_checkstack(L, 8, "decode");
  lua_createtable(L, 0, (int)m->nfields);
  int t = lua_gettop(L);
  for (size_t i = 0; i < m->nfields; i++) {
    const pb_fielddef *f = &m->fields[i];
    if (f->repeated)
      lua_newtable(L);
    else
      push_default(L, f);
    lua_setfield(L, t, f->name);
  }
  const char *end = p + len;
  pb_field fl;
  int rc;
  while ((rc = pb_next(&p, end, &fl)) == 1) {
    const pb_fielddef *fd = pb_field_by_num(m, fl.field);
    if (!fd) continue;
    if (fd->repeated) {
      lua_getfield(L, t, fd->name);
      lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
      if (fl.wiretype == PB_LEN && fd->type != PB_T_BYTES && fd->type != PB_T_MSG) {
        /* packed scalars */
        const unsigned char *q = (const unsigned char *)fl.data, *qe = q + fl.len;
        while (q < qe) {
          uint64_t v;
          if (pb_get_varint(&q, qe, &v) != 1 || push_scalar(L, fd, PB_VARINT, v)) {
            lua_settop(L, t - 1);
            return -1;
          }
          lua_rawseti(L, -2, ++n);
        }
      } else {
        if (push_field(L, fd, &fl, depth)) {
          lua_settop(L, t - 1);
          return -1;
        }
        lua_rawseti(L, -2, n + 1);
      }
      lua_pop(L, 1);
    } else {
      if (push_field(L, fd, &fl, depth)) {
        lua_settop(L, t - 1);
        return -1;
      }
      lua_setfield(L, t, fd->name);
    }
  }
  if (rc < 0) {
    lua_settop(L, t - 1);
    return -1;
  }
  return 0;
}

/* decode(type, bytes) -> table | nil, err (kind "protocol") */
static int l_decode(lua_State *L) {
  const pb_msgdef *m = check_msgdef(L, 1);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (decode_msg(L, m, s, n, 0)) return error_fail(L, "protocol", "malformed %s message", m->name);
  return 1;
}

/* --- output sinks: a range's records printed to stdout in C --- */

enum { SINK_LINES, SINK_JSON };

#define SINK_FLUSH (256u * 1024)

typedef struct {
  int kind;
  int values, raw;   /* SINK_LINES: pb.lines' flags */
  etcd_out_range jr; /* SINK_JSON */
  buf_t out;
  long count;        /* KeyValues printed */
  int werr;          /* errno of a failed write to stdout */
  buf_t last;        /* the key of the last KeyValue (where a paged scan goes on) */
} sink;

/* the key of the last KeyValue of a record's kvs into *last; 0 or -1 */
static int record_last_key(const char *p, size_t n, buf_t *last) {
  const char *end = p + n, *kv = NULL;
  size_t kvn = 0;
  pb_field fl, kf;
  int rc;
  while ((rc = pb_next(&p, end, &fl)) == 1)
    if (fl.field == 2 && fl.wiretype == PB_LEN) kv = fl.data, kvn = fl.len;
  if (rc < 0) return -1;
  if (!kv) return 0;
  last->len = 0;
  const char *q = kv, *qe = kv + kvn;
  while ((rc = pb_next(&q, qe, &kf)) == 1)
    if (kf.field == 1 && kf.wiretype == PB_LEN) return buf_add(last, kf.data, kf.len);
  return rc < 0 ? -1 : buf_add(last, "", 0);
}

static int sink_write(sink *k) {
  size_t off = 0;
  while (off < k->out.len && !k->werr) {
    ssize_t w = write(1, k->out.p + off, k->out.len - off);
    if (w > 0) off += (size_t)w;
    else if (w < 0 && errno == EINTR) continue;
    else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pf = {.fd = 1, .events = POLLOUT};
      poll(&pf, 1, -1);
    } else k->werr = w < 0 ? errno : EIO;
  }
  k->out.len = 0;
  return k->werr ? -1 : 0;
}

/* the lines of a KeyValue record (pb.lines) appended to out */
static int lines_of(buf_t *out, const char *p, size_t n, int values, int raw, long *count);

static int sink_feed(sink *k, const char *rec, size_t n) {
  int rc;
  if (k->kind == SINK_JSON) {
    rc = etcd_out_range_feed(&k->jr, &k->out, rec, n);
    if (!rc && rec[0] == ETCDSCAN_REC_KVS) k->count = k->jr.nkvs;
  } else {
    rc = rec[0] == ETCDSCAN_REC_KVS ? lines_of(&k->out, rec + 1, n - 1, k->values, k->raw, &k->count) : 0;
  }
  if (rc || (rec[0] == ETCDSCAN_REC_KVS && record_last_key(rec + 1, n - 1, &k->last))) return -1;
  return k->out.len >= SINK_FLUSH ? sink_write(k) : 0;
}

#define SINK_MT "ksh.etcdpb.output"

/* output("json", text) | output("lines", values, raw) -> a sink for range_scanner */
static int l_output(lua_State *L) {
  static const char *const kinds[] = {"lines", "json", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  sink *k = lua_newuserdatauv(L, sizeof *k, 0);
  memset(k, 0, sizeof *k);
  k->kind = kind == 0 ? SINK_LINES : SINK_JSON;
  if (k->kind == SINK_JSON) k->jr.text = lua_toboolean(L, 2);
  else k->values = lua_toboolean(L, 2), k->raw = lua_toboolean(L, 3);
  luaL_setmetatable(L, SINK_MT);
  return 1;
}

/* o:finish() -> true | nil, err: writes what is left (json: the end of the document) */
static int sink_finish(lua_State *L) {
  sink *k = luaL_checkudata(L, 1, SINK_MT);
  if (k->kind == SINK_JSON && etcd_out_range_finish(&k->jr, &k->out)) return luaL_error(L, "out of memory");
  if (sink_write(k)) return error_fail(L, k->werr == EPIPE ? "pipe" : "io", "write to stdout: %s", strerror(k->werr));
  lua_pushboolean(L, 1);
  return 1;
}

/* o:feed(record) -> true | nil, err: a record from Lua (a snapshot file's scan) */
static int sink_lfeed(lua_State *L) {
  sink *k = luaL_checkudata(L, 1, SINK_MT);
  size_t n;
  const char *rec = luaL_checklstring(L, 2, &n);
  if (n == 0 || sink_feed(k, rec, n)) {
    if (k->werr) return error_fail(L, k->werr == EPIPE ? "pipe" : "io", "write to stdout: %s", strerror(k->werr));
    return error_fail(L, "protocol", "malformed KeyValue record");
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* o:last_key() -> the key of the last KeyValue printed | nil */
static int sink_last_key(lua_State *L) {
  sink *k = luaL_checkudata(L, 1, SINK_MT);
  if (!k->last.p) return 0;
  lua_pushlstring(L, k->last.p, k->last.len);
  return 1;
}

static int sink_count(lua_State *L) {
  sink *k = luaL_checkudata(L, 1, SINK_MT);
  lua_pushinteger(L, k->count);
  return 1;
}

static int sink_gc(lua_State *L) {
  sink *k = luaL_checkudata(L, 1, SINK_MT);
  etcd_out_range_free(&k->jr);
  buf_free(&k->out);
  buf_free(&k->last);
  return 0;
}

/* --- the streamed RangeResponse --- */

typedef struct {
  etcdscan_range s;
  sink *out; /* records printed here instead of queued (kept alive by a user value) */
} scanner;

typedef struct {
  http_req *r;
  scanner *sc;
} emit_ctx;

static int emit_cb(void *ctx, const char *d, size_t n) {
  emit_ctx *e = ctx;
  sink *k = e->sc->out;
  if (k && n > 0) {
    if (sink_feed(k, d, n)) return -1;
    if (d[0] != ETCDSCAN_REC_END) return 0; /* the end still goes to Lua: pages, more, count */
  }
  return http_emit(e->r, d, n);
}

static long range_framer(void *ud, http_req *r, const char *data, size_t len) {
  scanner *sc = ud;
  emit_ctx e = {r, sc};
  long c = etcdscan_feed(&sc->s, data, len, emit_cb, &e);
  if (c < 0) {
    if (sc->out && sc->out->werr)
      http_fail(r, sc->out->werr == EPIPE ? "pipe" : "io", strerror(sc->out->werr));
    else
      http_fail(r, "protocol", sc->out ? "malformed RangeResponse (or out of memory)" : sc->s.err);
  }
  return c;
}

static int l_range_scanner(lua_State *L) {
  int early = lua_toboolean(L, 1);
  sink *k = lua_isnoneornil(L, 2) ? NULL : luaL_checkudata(L, 2, SINK_MT);
  scanner *sc = lua_newuserdatauv(L, sizeof *sc, 1);
  memset(sc, 0, sizeof *sc);
  sc->s.early_header = early;
  sc->out = k;
  if (k) {
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 1);
  }
  luaL_setmetatable(L, SCANNER_MT);
  return 1;
}

/* sc:framer() -> a framer feeding sc (for http.stream's opts.framer) */
static int sc_framer(lua_State *L) {
  scanner *sc = luaL_checkudata(L, 1, SCANNER_MT);
  httpc_push_framer(L, range_framer, sc, 1);
  return 1;
}

static int sc_clean(lua_State *L) {
  scanner *sc = luaL_checkudata(L, 1, SCANNER_MT);
  lua_pushboolean(L, etcdscan_clean(&sc->s));
  return 1;
}

static int sc_count(lua_State *L) {
  scanner *sc = luaL_checkudata(L, 1, SCANNER_MT);
  lua_pushinteger(L, sc->s.kvs);
  return 1;
}

static int sc_gc(lua_State *L) {
  scanner *sc = luaL_checkudata(L, 1, SCANNER_MT);
  etcdscan_free(&sc->s);
  return 0;
}

static const char *check_record(lua_State *L, size_t *n) {
  const char *s = luaL_checklstring(L, 1, n);
  if (*n == 0 || s[0] != ETCDSCAN_REC_KVS) luaL_argerror(L, 1, "not a KeyValue record");
  (*n)--;
  return s + 1;
}

/* Malformed data from the server: nil, err (kind "protocol"). */
static int malformed_record(lua_State *L) { return error_fail(L, "protocol", "malformed KeyValue record"); }

/* kvs(record) -> {kv, ...} | nil, err */
static int l_kvs(lua_State *L) {
  size_t n;
  const char *p = check_record(L, &n), *end = p + n;
  const pb_msgdef *kvdef = pb_msg("KeyValue");
  lua_newtable(L);
  lua_Integer i = 0;
  pb_field fl;
  int rc;
  while ((rc = pb_next(&p, end, &fl)) == 1) {
    if (fl.field != 2 || fl.wiretype != PB_LEN || decode_msg(L, kvdef, fl.data, fl.len, 1))
      return malformed_record(L);
    lua_rawseti(L, -2, ++i);
  }
  if (rc < 0) return malformed_record(L);
  return 1;
}

/* last_key(record) -> the key of the record's last KeyValue | nothing | nil, err */
static int l_last_key(lua_State *L) {
  size_t n;
  const char *p = check_record(L, &n), *end = p + n;
  pb_field fl, kf;
  const char *last = NULL;
  size_t lastn = 0;
  int rc;
  while ((rc = pb_next(&p, end, &fl)) == 1)
    if (fl.field == 2 && fl.wiretype == PB_LEN) last = fl.data, lastn = fl.len;
  if (rc < 0) return malformed_record(L);
  if (!last) return 0;
  const char *q = last, *qe = last + lastn;
  while ((rc = pb_next(&q, qe, &kf)) == 1) {
    if (kf.field == 1 && kf.wiretype == PB_LEN) {
      lua_pushlstring(L, kf.data, kf.len);
      return 1;
    }
  }
  if (rc < 0) return malformed_record(L);
  lua_pushliteral(L, "");
  return 1;
}

/* lines(record, values, raw) -> text, n: each key on a line (escaped unless
 * raw), followed by a line with its value when values is true; nil, err
 * when the record is malformed */
static int l_lines(lua_State *L) {
  size_t n;
  const char *p = check_record(L, &n);
  int values = lua_toboolean(L, 2), raw = lua_toboolean(L, 3);
  buf_t out = {0};
  long count = 0;
  if (lines_of(&out, p, n, values, raw, &count)) {
    buf_free(&out);
    return malformed_record(L);
  }
  lua_pushlstring(L, out.p ? out.p : "", out.len);
  buf_free(&out);
  lua_pushinteger(L, count);
  return 2;
}

static int lines_of(buf_t *out, const char *p, size_t n, int values, int raw, long *count) {
  const char *end = p + n;
  pb_field fl, kf;
  int rc;
  /* etcdscan_escape writes a pb_buf: out lent to one (both grow with realloc) */
  pb_buf b = {out->p, out->len, out->cap, 0};
  while ((rc = pb_next(&p, end, &fl)) == 1) {
    if (fl.field != 2 || fl.wiretype != PB_LEN) break;
    const char *key = "", *val = "";
    size_t kl = 0, vl = 0;
    const char *q = fl.data, *qe = fl.data + fl.len;
    int r2;
    while ((r2 = pb_next(&q, qe, &kf)) == 1) {
      if (kf.wiretype != PB_LEN) continue;
      if (kf.field == 1) key = kf.data, kl = kf.len;
      else if (kf.field == 5) val = kf.data, vl = kf.len;
    }
    if (r2 < 0) {
      rc = -1;
      break;
    }
    if (raw) pb_put_raw(&b, key, kl);
    else etcdscan_escape(&b, key, kl);
    pb_put_raw(&b, "\n", 1);
    if (values) {
      if (raw) pb_put_raw(&b, val, vl);
      else etcdscan_escape(&b, val, vl);
      pb_put_raw(&b, "\n", 1);
    }
    (*count)++;
  }
  out->p = b.p, out->len = b.len, out->cap = b.cap;
  return rc != 0 || b.oom ? -1 : 0;
}

/* escape(s) -> text, escaped */
static int l_escape(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  pb_buf b = {0};
  int esc = etcdscan_escape(&b, s, n);
  push_buf(L, &b);
  lua_pushboolean(L, esc);
  return 2;
}

/* prefix_end(prefix) -> range_end */
static int l_prefix_end(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, n + 1);
  luaL_pushresultsize(&b, etcdscan_prefix_end(s, n, out));
  return 1;
}

/* --- etcdctl's output (etcd_out.c) --- */

static void push_out(lua_State *L, buf_t *b) {
  lua_pushlstring(L, b->p ? b->p : "", b->len);
  b->len = 0;
  if (b->cap > (1u << 22)) buf_free(b); /* keep a usual piece's memory, not a huge one's */
}

typedef struct {
  int format;
  buf_t out;
} wprinter;

/* watch_printer(format) -> printer of WatchResponses as etcdctl watch -w format */
static int l_watch_printer(lua_State *L) {
  static const char *const formats[] = {"simple", "json", NULL};
  int f = luaL_checkoption(L, 1, NULL, formats);
  wprinter *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  w->format = f == 0 ? ETCD_OUT_SIMPLE : ETCD_OUT_JSON;
  luaL_setmetatable(L, WPRINT_MT);
  return 1;
}

static int wp_feed(lua_State *L) {
  wprinter *w = luaL_checkudata(L, 1, WPRINT_MT);
  size_t n;
  const char *m = luaL_checklstring(L, 2, &n);
  lua_Integer floor = luaL_checkinteger(L, 3);
  etcd_out_watchinfo wi;
  if (etcd_out_watch(&w->out, m, n, w->format, floor, &wi)) {
    w->out.len = 0;
    return error_fail(L, "protocol", "malformed WatchResponse (or out of memory)");
  }
  if (wi.created || wi.canceled || wi.events == 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_out(L, &w->out);
  lua_pushinteger(L, wi.printed);
  lua_pushinteger(L, wi.max_rev);
  return 3;
}

static int wp_gc(lua_State *L) {
  wprinter *w = luaL_checkudata(L, 1, WPRINT_MT);
  buf_free(&w->out);
  return 0;
}

static void new_class(lua_State *L, const char *name, const luaL_Reg *meth, lua_CFunction gc) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, meth, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}

int luaopen_ksh_etcdpb(lua_State *L) {
  static const luaL_Reg sc_meth[] = {{"framer", sc_framer}, {"clean", sc_clean}, {"count", sc_count}, {NULL, NULL}};
  luaL_newmetatable(L, SCANNER_MT);
  luaL_newlib(L, sc_meth);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, sc_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg sink_meth[] = {{"finish", sink_finish}, {"feed", sink_lfeed}, {"count", sink_count},
                                        {"last_key", sink_last_key}, {NULL, NULL}};
  new_class(L, SINK_MT, sink_meth, sink_gc);
  static const luaL_Reg wp_meth[] = {{"feed", wp_feed}, {NULL, NULL}};
  new_class(L, WPRINT_MT, wp_meth, wp_gc);
  static const luaL_Reg fns[] = {{"encode", l_encode}, {"decode", l_decode}, {"range_scanner", l_range_scanner},
                                 {"kvs", l_kvs},       {"lines", l_lines},   {"escape", l_escape},
                                 {"prefix_end", l_prefix_end}, {"last_key", l_last_key},
                                 {"output", l_output}, {"watch_printer", l_watch_printer}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_pushlstring(L, (char[]){ETCDSCAN_REC_KVS}, 1);
  lua_setfield(L, -2, "REC_KVS");
  lua_pushlstring(L, (char[]){ETCDSCAN_REC_END}, 1);
  lua_setfield(L, -2, "REC_END");
  lua_pushlstring(L, (char[]){ETCDSCAN_REC_HEADER}, 1);
  lua_setfield(L, -2, "REC_HEADER");
  return 1;
}
