/* lua_http.c: the thin binding of src/core/http.c, module ksh.httpc.  The
 * user API (request, stream, errors, logging) is lua/ksh/http.lua on top of
 * it.
 *
 *   start(opts) -> req | nil, err       opts as http.request's, plus framing =
 *       "none"|"lines"|"grpc"|"raw", or framer = a framer from another binding
 *   isframer(v) -> bool                 is v a framer (HTTPC_FRAMER_MT)?
 *   req:wait(), :next(), :state(), :error() -> err | nil (err: kind and
 *   message as http_error gives them), :headers(),
 *   :trailers(), :body(), :info(), :close() */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "host.h"
#include "http.h"
#include "lua_http.h"

int luaopen_ksh_httpc(lua_State *L);

#define MT "ksh.httpc.req"

typedef struct {
  http_req *r;
  task_t *waiter;
  int seen; /* events seen by the last wait: bumped by notify */
  int events;
} lreq;

/* A C framer and its state; the state's owner is user value 1. */
typedef struct {
  http_framer fn;
  void *ud;
} lframer;

static int framer_tostring(lua_State *L) {
  lua_pushfstring(L, "framer (%p)", lua_touserdata(L, 1));
  return 1;
}

void httpc_push_framer(lua_State *L, http_framer fn, void *ud, int owner) {
  owner = lua_absindex(L, owner);
  lframer *f = lua_newuserdatauv(L, sizeof *f, 1);
  f->fn = fn;
  f->ud = ud;
  lua_pushvalue(L, owner);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, HTTPC_FRAMER_MT)) {
    lua_pushcfunction(L, framer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "framer");
    lua_setfield(L, -2, "__metatable"); /* sealed: getmetatable gives a string */
  }
  lua_setmetatable(L, -2);
}

/* isframer(v) -> bool */
static int l_isframer(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, HTTPC_FRAMER_MT) != NULL);
  return 1;
}

static lreq *check(lua_State *L) { return luaL_checkudata(L, 1, MT); }

static lreq *check_open(lua_State *L) {
  lreq *q = check(L);
  if (!q->r) luaL_error(L, "attempt to use a closed request");
  return q;
}

static void on_notify(void *ud, http_req *r) {
  lreq *q = ud;
  (void)r;
  q->events++;
  if (q->waiter) {
    task_t *t = q->waiter;
    q->waiter = NULL;
    host_wake(t, 0);
  }
}

static const char *opt_str(lua_State *L, int t, const char *k, size_t *len) {
  lua_getfield(L, t, k);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1); /* the string stays referenced by the options table */
  return s;
}

static double opt_num(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  double v = 0;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1)) luaL_error(L, "option '%s' must be a number", k);
    v = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int opt_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

void httpc_opts(lua_State *L, int t, http_opts *op) {
  t = lua_absindex(L, t);
  luaL_checktype(L, t, LUA_TTABLE);
  http_opts o;
  memset(&o, 0, sizeof o);
  size_t n;
  o.url = opt_str(L, t, "url", &n);
  if (!o.url) luaL_argerror(L, t, "url is required");
  o.method = opt_str(L, t, "method", &n);
  o.body = opt_str(L, t, "body", &o.body_len);
  o.cacert_file = opt_str(L, t, "cacert", &n);
  o.cert_file = opt_str(L, t, "cert", &n);
  o.key_file = opt_str(L, t, "key", &n);
  o.cacert_pem = opt_str(L, t, "cacert_pem", &o.cacert_pem_len);
  o.cert_pem = opt_str(L, t, "cert_pem", &o.cert_pem_len);
  o.key_pem = opt_str(L, t, "key_pem", &o.key_pem_len);
  o.server_name = opt_str(L, t, "server_name", &n);
  o.user = opt_str(L, t, "user", &n);
  o.password = opt_str(L, t, "password", &n);
  o.proxy = opt_str(L, t, "proxy", &n);
  o.insecure = opt_bool(L, t, "insecure");
  o.h2c = opt_bool(L, t, "h2c");
  o.http1 = opt_bool(L, t, "http1");
  o.compressed = opt_bool(L, t, "compressed");
  o.connect_timeout = opt_num(L, t, "connect_timeout");
  o.timeout = opt_num(L, t, "timeout");
  o.idle_timeout = opt_num(L, t, "idle_timeout");
  o.max_queue = (size_t)opt_num(L, t, "max_queue");
  const char *fr = opt_str(L, t, "framing", &n);
  if (!fr || strcmp(fr, "none") == 0) o.framing = HTTP_FRAME_NONE;
  else if (strcmp(fr, "lines") == 0) o.framing = HTTP_FRAME_LINES;
  else if (strcmp(fr, "grpc") == 0) o.framing = HTTP_FRAME_GRPC;
  else if (strcmp(fr, "raw") == 0) o.framing = HTTP_FRAME_RAW;
  else if (strcmp(fr, "custom") != 0)
    luaL_error(L, "unknown framing '%s' (none, lines, grpc, raw)", fr);
  /* a C framer from another binding: a typed userdata, never a raw pointer */
  if (lua_getfield(L, t, "framer") != LUA_TNIL) {
    lframer *f = luaL_testudata(L, -1, HTTPC_FRAMER_MT);
    if (!f)
      luaL_argerror(L, t, lua_pushfstring(L, "'framer' must be a framer (from scanner:framer()), got %s",
                                                 luaL_typename(L, -1)));
    o.framing = HTTP_FRAME_CUSTOM;
    o.framer = f->fn;
    o.framer_ud = f->ud;
  } else if (o.framing == HTTP_FRAME_NONE && fr && strcmp(fr, "custom") == 0) {
    luaL_argerror(L, t, "framing 'custom' needs a framer");
  }
  lua_pop(L, 1); /* the framer stays referenced by the options table */

  /* headers: {["Name"] = "value"} or {"Name: value", ...}; the strings are
   * anchored in a table on the stack while http_start copies them */
  lua_newtable(L);
  int anchor = lua_gettop(L);
  lua_Integer cnt = 0;
  lua_getfield(L, t, "headers");
  if (lua_istable(L, -1)) {
    int ht = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, ht)) {
      if (lua_type(L, -2) == LUA_TSTRING) {
        const char *v = luaL_tolstring(L, -1, NULL);
        lua_pushfstring(L, "%s: %s", lua_tostring(L, -3), v);
        lua_rawseti(L, anchor, ++cnt);
        lua_pop(L, 2);
      } else {
        if (lua_type(L, -1) == LUA_TSTRING) {
          lua_pushvalue(L, -1);
          lua_rawseti(L, anchor, ++cnt);
        }
        lua_pop(L, 1);
      }
    }
  }
  const char **hv = lua_newuserdatauv(L, (size_t)(cnt + 1) * sizeof *hv, 0);
  for (lua_Integer i = 1; i <= cnt; i++) {
    lua_rawgeti(L, anchor, i);
    hv[i - 1] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  hv[cnt] = NULL;
  o.headers = hv;
  *op = o;
}

/* start{url=, method=, headers={...}, body=, framing="lines"|"grpc"|"raw", ...} -> req | nil, err */
static int l_start(lua_State *L) {
  http_opts o;
  httpc_opts(L, 1, &o);
  lreq *q = lua_newuserdatauv(L, sizeof *q, 1);
  memset(q, 0, sizeof *q);
  luaL_setmetatable(L, MT);
  const char *err = NULL;
  q->r = http_start(host_loop(L), &o, on_notify, q, &err);
  if (!q->r)
    return error_fail(L, strcmp(err, "malformed URL") == 0 ? "url" : "error", "%s %s: %s",
                      o.method ? o.method : "GET", o.url, err);
  /* the options table stays alive as long as the request */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static void wait_cancel(void *ud) {
  lreq *q = ud;
  q->waiter = NULL;
  if (q->r) http_cancel(q->r);
}

/* req:wait() -> waits until something happened since the previous wait */
static int l_wait(lua_State *L) {
  lreq *q = check_open(L);
  if (q->events != q->seen || http_done(q->r) || http_queued(q->r) > 0) {
    q->seen = q->events;
    return 0;
  }
  task_t *t = host_task(L);
  q->waiter = t;
  lua_settop(L, 1); /* keep the request referenced while parked */
  return host_yield(L, t, wait_cancel, q);
}

static int l_next(lua_State *L) {
  lreq *q = check_open(L);
  const char *d;
  size_t n;
  if (!http_next_record(q->r, &d, &n)) return 0;
  lua_pushlstring(L, d, n);
  return 1;
}

/* req:state() -> headers_done, done, status, queued records, peak queued bytes */
static int l_state(lua_State *L) {
  lreq *q = check_open(L);
  lua_pushboolean(L, http_headers_done(q->r));
  lua_pushboolean(L, http_done(q->r));
  lua_pushinteger(L, http_status(q->r));
  lua_pushinteger(L, (lua_Integer)http_queued(q->r));
  lua_pushinteger(L, (lua_Integer)http_queue_peak(q->r));
  return 5;
}

/* req:error() -> err | nil: the transport failure of a finished transfer */
static int l_error(lua_State *L) {
  lreq *q = check_open(L);
  const char *kind;
  const char *msg = http_error(q->r, &kind);
  if (!msg) return 0;
  error_push(L, kind, "%s", msg);
  return 1;
}

static void push_headers(lua_State *L, http_req *r, int trailers) {
  size_t n = http_header_count(r, trailers);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const char *line = http_header_line(r, trailers, i);
    const char *c = strchr(line, ':');
    if (!c) continue;
    const char *v = c + 1;
    while (*v == ' ' || *v == '\t') v++;
    lua_pushlstring(L, line, (size_t)(c - line));
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) {
      /* repeated header: join with ", " as HTTP allows */
      lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), v);
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, v);
    }
    lua_rawset(L, -3);
  }
}

static int l_headers(lua_State *L) {
  lreq *q = check_open(L);
  push_headers(L, q->r, 0);
  return 1;
}

static int l_trailers(lua_State *L) {
  lreq *q = check_open(L);
  push_headers(L, q->r, 1);
  return 1;
}

static int l_body(lua_State *L) {
  lreq *q = check_open(L);
  size_t n;
  const char *b = http_body(q->r, &n);
  lua_pushlstring(L, b, n);
  return 1;
}

/* req:info() -> method, url, elapsed seconds, http version */
static int l_info(lua_State *L) {
  lreq *q = check_open(L);
  lua_pushstring(L, http_method(q->r));
  lua_pushstring(L, http_url(q->r));
  lua_pushnumber(L, http_elapsed(q->r));
  lua_pushstring(L, http_version_str(q->r));
  return 4;
}

static int l_close(lua_State *L) {
  lreq *q = check(L);
  if (q->r) {
    http_req *r = q->r;
    q->r = NULL; /* closed first, so a failure leaves it consistent */
    http_free(r);
  }
  /* a task parked in wait() (closed from another task) wakes and sees it closed */
  if (q->waiter) {
    task_t *t = q->waiter;
    q->waiter = NULL;
    host_wake(t, 0);
  }
  return 0;
}

static int l_tostring(lua_State *L) {
  lreq *q = check(L);
  if (!q->r) lua_pushliteral(L, "http request (closed)");
  else lua_pushfstring(L, "http request (%s %s)", http_method(q->r), http_url(q->r));
  return 1;
}

int luaopen_ksh_httpc(lua_State *L) {
  static const luaL_Reg meth[] = {{"wait", l_wait},       {"next", l_next},         {"state", l_state},
                                  {"error", l_error},     {"headers", l_headers},   {"trailers", l_trailers},
                                  {"body", l_body},       {"info", l_info},         {"close", l_close},
                                  {NULL, NULL}};
  luaL_newmetatable(L, MT);
  luaL_newlib(L, meth);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"start", l_start}, {"isframer", l_isframer}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
