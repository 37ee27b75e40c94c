/* lua_server.c: the binding of src/core/server.c, module ksh.server.
 *
 *   local s, err = server.listen{address = "127.0.0.1", port = 0, unix = PATH, max_body = N}
 *   s:port() -> number;  s:close()
 *   s:accept() -> req        (waits for the next complete request)
 *   req:info() -> method, target, headers {name, value, name, value, ...}, body, remote, http_minor
 *   req:own()                 the calling task is cancelled if the client goes away
 *   req:respond(status, {"Name: value", ...} [, content_length]) -> true | nil, err
 *   req:write(data) -> true | nil, err   (waits while the client is slow)
 *   req:finish() -> true | nil, err;  req:close();  req:closed() -> boolean
 *   req:upgrade{url=, target=, method=, headers={"Name: value", ...}, body=,
 *               cacert=, cacert_pem=, cert=, cert_pem=, key=, key_pem=,
 *               insecure=, server_name=, proxy=, connect_timeout=, keepalive=}
 *       -> 101, headers, nil, bytes_up, bytes_down   (after the tunnel ended)
 *        | status, headers, body                     (not upgraded: respond yourself)
 *        | nil, err
 *     sends the request upstream (src/core/tunnel.c); on a 101 the client's
 *     connection is taken from the server and spliced with the upstream until
 *     either side ends.  headers: {lowercase name = value}.
 *   req:relay(opts [, wait [, log]])  opts: ksh.httpc.start's (url, method, headers,
 *       body, TLS...).  The request goes upstream and the answer (status,
 *       headers, body) straight to the client, all in C (src/core/relay.c):
 *       no Lua per chunk.  Without wait it returns true at once and the
 *       request is the relay's (req is closed; an upstream failure is
 *       printed on stderr); with wait the task waits and gets
 *       ok, status, bytes, err|nil, {peak=, pauses=}  (ok: a whole response
 *       was sent; status 499: the client went away first).  log: one line
 *       on stderr per request once its status is known (-v).  A body the
 *       server streams (listen{stream_body=true}: chunked or over 64 KiB;
 *       req:info() gives nil for it) goes upstream as it arrives.
 *
 *   s:fastpath{...}: the proxy's common case forwarded in C as each request
 *       arrives (no task, no Lua); see proxy_fast below.  s:fast_served()
 *       counts those requests.
 *
 * The user API (k8s.proxy_server, kscript proxy) is lua/k8s/proxy.lua. */
#include <lauxlib.h>
#include <ctype.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "host.h"
#include "lua_http.h"
#include "lua_re.h"
#include "relay.h"
#include "server.h"
#include "tunnel.h"

int luaopen_ksh_server(lua_State *L);

#define MT_SRV "ksh.server"
#define MT_REQ "ksh.server.req"

/* kscript proxy's common case in C (s:fastpath, see proxy_fast) */
enum { F_REJECT_PATHS, F_REJECT_METHODS, F_ACCEPT_PATHS, F_ACCEPT_HOSTS, F_N };
typedef struct {
  http_opts base; /* TLS, keep-alive...: strings anchored in the server's uservalue */
  const char *upstream; /* scheme://host[:port][/server path], no trailing slash */
  const char *prefix;   /* --api-prefix, ending in "/" */
  size_t prefix_len;
  int strip;            /* the prefix is taken off the path sent upstream */
  const char *www;      /* --www-prefix: such paths go to Lua (NULL: no --www) */
  size_t www_len;
  const char **auth;    /* NULL-terminated credential header lines */
  lre **re[F_N];        /* NULL-terminated; re[0] == NULL: --disable-filter */
  int vlog;
} fastpath;

typedef struct {
  srv_t *s;
  host_t *h;
  task_t *waiter;
  srv_conn **q; /* requests not yet accepted */
  size_t qh, qn, cap;
  fastpath *fast;
  unsigned long long fast_served;
} lsrv;

typedef struct {
  srv_conn *c;
  host_t *h;
  task_t *waiter; /* parked in write() */
  task_t *owner;  /* cancelled when the client goes away */
  tun_t *tun;     /* an upgrade in progress */
  task_t *tun_waiter;
  relay_t *relay; /* a relay the calling task waits for */
  task_t *relay_waiter;
} lreq;

/* --- the server --- */

static int push_req(lua_State *L, lsrv *ls);

static int proxy_fast(lsrv *ls, srv_conn *c);

static void srv_on_request(void *ud, srv_conn *c) {
  lsrv *ls = ud;
  if (ls->fast && proxy_fast(ls, c)) return;
  if (ls->qh + ls->qn == ls->cap) {
    if (ls->qh > 0) {
      memmove(ls->q, ls->q + ls->qh, ls->qn * sizeof *ls->q);
      ls->qh = 0;
    } else {
      size_t n = ls->cap ? ls->cap * 2 : 16;
      srv_conn **q = realloc(ls->q, n * sizeof *q);
      if (!q) {
        srv_release(c);
        return;
      }
      ls->q = q;
      ls->cap = n;
    }
  }
  ls->q[ls->qh + ls->qn++] = c;
  if (ls->waiter) {
    task_t *t = ls->waiter;
    ls->waiter = NULL;
    push_req(host_task_thread(t), ls);
    host_wake(t, 1);
  }
}

static lsrv *check_srv(lua_State *L) {
  lsrv *ls = luaL_checkudata(L, 1, MT_SRV);
  if (!ls->s) luaL_error(L, "attempt to use a closed server");
  return ls;
}

static int opt_int(lua_State *L, int t, const char *k, lua_Integer dflt) {
  lua_getfield(L, t, k);
  lua_Integer v = dflt;
  if (!lua_isnil(L, -1)) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "option '%s' must be an integer", k);
    v = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return (int)v;
}

static const char *opt_str(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* anchored by the options table */
  return s;
}

/* listen{address=, port=, unix=, max_body=, stream_body=} -> server | nil, err */
static int l_listen(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  srv_opts o;
  memset(&o, 0, sizeof o);
  o.address = opt_str(L, 1, "address");
  o.unix_path = opt_str(L, 1, "unix");
  o.port = opt_int(L, 1, "port", 0);
  if (o.port < 0 || o.port > 65535) return luaL_argerror(L, 1, "port out of range");
  lua_getfield(L, 1, "max_body");
  o.max_body = lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 ? (size_t)lua_tointeger(L, -1) : 0;
  lua_pop(L, 1);
  lua_getfield(L, 1, "stream_body");
  o.stream_body = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lsrv *ls = lua_newuserdatauv(L, sizeof *ls, 1);
  memset(ls, 0, sizeof *ls);
  luaL_setmetatable(L, MT_SRV);
  ls->h = host_from(L);
  char err[256];
  ls->s = srv_listen(host_loop(L), &o, srv_on_request, ls, err, sizeof err);
  if (!ls->s) {
    luaL_pushfail(L);
    error_push(L, "listen", "%s", err);
    return 2;
  }
  return 1;
}

static int l_port(lua_State *L) {
  lsrv *ls = check_srv(L);
  lua_pushinteger(L, srv_port(ls->s));
  return 1;
}

static void accept_cancel(void *ud) {
  lsrv *ls = ud;
  ls->waiter = NULL;
}

/* accept() -> req | nil (the server was closed): waits for the next complete request */
static int l_accept(lua_State *L) {
  lsrv *ls = luaL_checkudata(L, 1, MT_SRV);
  if (!ls->s) {
    luaL_pushfail(L);
    return 1;
  }
  if (ls->qn > 0) return push_req(L, ls);
  if (ls->waiter) return luaL_error(L, "server: another task is already accepting");
  task_t *t = host_task(L);
  ls->waiter = t;
  lua_settop(L, 1);
  return host_yield(L, t, accept_cancel, ls);
}

static void fast_free(lsrv *ls) {
  fastpath *f = ls->fast;
  if (!f) return;
  ls->fast = NULL;
  for (int i = 0; i < F_N; i++) free(f->re[i]);
  free(f->auth);
  free(f);
}

static int l_srv_close(lua_State *L) {
  lsrv *ls = luaL_checkudata(L, 1, MT_SRV);
  if (ls->s) {
    srv_t *s = ls->s;
    ls->s = NULL;
    for (size_t i = 0; i < ls->qn; i++) srv_release(ls->q[ls->qh + i]);
    ls->qn = ls->qh = 0;
    srv_close(s);
    if (ls->waiter) {
      task_t *t = ls->waiter;
      ls->waiter = NULL;
      lua_State *co = host_task_thread(t);
      luaL_pushfail(co);
      host_wake(t, 1);
    }
  }
  free(ls->q);
  ls->q = NULL;
  ls->cap = 0;
  fast_free(ls);
  return 0;
}

/* --- a request --- */

static void req_notify(void *ud, srv_conn *c, int ev) {
  lreq *q = ud;
  (void)c;
  if (q->waiter) {
    task_t *t = q->waiter;
    q->waiter = NULL;
    lua_State *co = host_task_thread(t);
    if (ev == SRV_EV_CLOSED) {
      luaL_pushfail(co);
      error_push(co, "closed", "the client closed the connection");
      host_wake(t, 2);
    } else {
      lua_pushboolean(co, 1);
      host_wake(t, 1);
    }
  }
  if (ev == SRV_EV_CLOSED && q->owner) {
    task_t *t = q->owner;
    q->owner = NULL;
    host_interrupt(q->h, t, HOST_INT_CANCEL);
  }
}

static int push_req(lua_State *L, lsrv *ls) {
  srv_conn *c = ls->q[ls->qh];
  ls->qh++;
  ls->qn--;
  if (ls->qn == 0) ls->qh = 0;
  lreq *q = lua_newuserdatauv(L, sizeof *q, 0);
  memset(q, 0, sizeof *q);
  luaL_setmetatable(L, MT_REQ);
  q->c = c;
  q->h = ls->h;
  srv_set_notify(c, req_notify, q);
  return 1;
}

static lreq *check_req(lua_State *L) {
  lreq *q = luaL_checkudata(L, 1, MT_REQ);
  if (!q->c) luaL_error(L, "attempt to use a closed request");
  return q;
}

static int l_info(lua_State *L) {
  lreq *q = check_req(L);
  srv_conn *c = q->c;
  lua_pushstring(L, srv_method(c));
  lua_pushstring(L, srv_target(c));
  size_t n = srv_header_count(c);
  lua_createtable(L, (int)(2 * n), 0);
  for (size_t i = 0; i < n; i++) {
    const char *name, *value;
    srv_header(c, i, &name, &value);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, (lua_Integer)(2 * i + 1));
    lua_pushstring(L, value);
    lua_rawseti(L, -2, (lua_Integer)(2 * i + 2));
  }
  size_t bl;
  const char *b = srv_body(c, &bl);
  if (srv_body_streaming(c)) lua_pushnil(L); /* it streams: relay() sends it on */
  else lua_pushlstring(L, b, bl);
  lua_pushstring(L, srv_remote(c));
  lua_pushinteger(L, srv_http_minor(c));
  return 6;
}

static int l_own(lua_State *L) {
  lreq *q = check_req(L);
  q->owner = host_task(L);
  if (srv_is_closed(q->c)) {
    q->owner = NULL;
    host_interrupt(q->h, host_task(L), HOST_INT_CANCEL);
  }
  return 0;
}

static int gone(lua_State *L) {
  luaL_pushfail(L);
  error_push(L, "closed", "the client closed the connection");
  return 2;
}

static int l_respond(lua_State *L) {
  lreq *q = check_req(L);
  int status = (int)luaL_checkinteger(L, 2);
  if (status < 100 || status > 999) return luaL_argerror(L, 2, "status out of range");
  luaL_checktype(L, 3, LUA_TTABLE);
  long long cl = luaL_optinteger(L, 4, -1);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 3);
  const char **hv = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *hv, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 3, i);
    hv[i - 1] = lua_tostring(L, -1); /* anchored by the table */
    lua_pop(L, 1);
    if (!hv[i - 1]) return luaL_argerror(L, 3, "header lines must be strings");
    if (strpbrk(hv[i - 1], "\r\n")) return luaL_argerror(L, 3, "header line holds CR or LF");
  }
  hv[n] = NULL;
  if (srv_respond(q->c, status, hv, cl) < 0) {
    if (srv_is_closed(q->c)) return gone(L);
    return luaL_error(L, "response already started");
  }
  lua_pushboolean(L, 1);
  return 1;
}

static void write_cancel(void *ud) {
  lreq *q = ud;
  q->waiter = NULL;
}

static int write_wait(lua_State *L, lreq *q) {
  if (srv_is_closed(q->c)) return gone(L);
  task_t *t = host_task(L);
  q->waiter = t;
  lua_settop(L, 1);
  return host_yield(L, t, write_cancel, q);
}

/* write(data) -> true | nil, err */
static int l_write(lua_State *L) {
  lreq *q = check_req(L);
  size_t len;
  const char *d = luaL_checklstring(L, 2, &len);
  long long queued = srv_write(q->c, d, len);
  if (queued < 0) {
    if (srv_is_closed(q->c)) return gone(L);
    return luaL_error(L, "write before respond() or after finish()");
  }
  if ((size_t)queued > srv_high_water()) return write_wait(L, q);
  lua_pushboolean(L, 1);
  return 1;
}

/* drain() -> true | nil, err: waits until the output is under the high water */
static int l_drain(lua_State *L) {
  lreq *q = check_req(L);
  if (srv_is_closed(q->c)) return gone(L);
  long long queued = srv_write(q->c, "", 0);
  if (queued >= 0 && (size_t)queued > srv_high_water()) return write_wait(L, q);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_finish(lua_State *L) {
  lreq *q = check_req(L);
  if (srv_end(q->c) < 0) {
    if (srv_is_closed(q->c)) return gone(L);
    return luaL_error(L, "finish before respond() or twice");
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_closed(lua_State *L) {
  lreq *q = luaL_checkudata(L, 1, MT_REQ);
  lua_pushboolean(L, !q->c || srv_is_closed(q->c));
  return 1;
}

static int l_req_close(lua_State *L) {
  lreq *q = luaL_checkudata(L, 1, MT_REQ);
  if (q->relay) {
    relay_free(q->relay);
    q->relay = NULL;
    q->relay_waiter = NULL;
  }
  if (q->tun) {
    tun_free(q->tun);
    q->tun = NULL;
    q->tun_waiter = NULL;
  }
  if (q->c) {
    srv_conn *c = q->c;
    q->c = NULL; /* closed first */
    q->owner = NULL;
    q->waiter = NULL;
    srv_release(c);
  }
  return 0;
}

/* --- upgrades --- */

static const char *topt_str(lua_State *L, int t, const char *k, size_t *len) {
  lua_getfield(L, t, k);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "option '%s' must be a string", k);
    s = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1); /* anchored by the options table */
  return s;
}

static void push_tun_headers(lua_State *L, tun_t *t) {
  size_t n = tun_header_count(t);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    const char *name, *value;
    tun_header(t, i, &name, &value);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = name; *p; p++) luaL_addchar(&b, (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p));
    luaL_pushresult(&b);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TSTRING) { /* repeated: joined as Go's Header.Get would list them */
      lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), value);
      lua_remove(L, -2);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, value);
    }
    lua_rawset(L, -3);
  }
}

static void tun_done(lreq *q, int nres) {
  task_t *w = q->tun_waiter;
  q->tun_waiter = NULL;
  tun_free(q->tun);
  q->tun = NULL;
  if (w) host_wake(w, nres);
}

static void on_tun(void *ud, tun_t *t, int ev) {
  lreq *q = ud;
  if (!q->tun_waiter) return;
  lua_State *co = host_task_thread(q->tun_waiter);
  const char *kind;
  const char *err = tun_error(t, &kind);
  if (ev == TUN_EV_HEAD) {
    if (err) {
      luaL_pushfail(co);
      error_push(co, kind, "%s", err);
      tun_done(q, 2);
      return;
    }
    int status = tun_status(t);
    if (status != 101) {
      size_t bl;
      const char *b = tun_body(t, &bl);
      lua_pushinteger(co, status);
      push_tun_headers(co, t);
      lua_pushlstring(co, b, bl);
      tun_done(q, 3);
      return;
    }
    char *rest = NULL;
    size_t rl = 0;
    int fd = q->c ? srv_takeover(q->c, &rest, &rl) : -1;
    if (fd < 0) {
      gone(co);
      tun_done(q, 2);
      return;
    }
    int rc = tun_splice(t, fd, rest, rl);
    free(rest);
    if (rc < 0) {
      luaL_pushfail(co);
      error_push(co, "error", "cannot splice the upgraded connection");
      tun_done(q, 2);
    }
    return; /* TUN_EV_END follows */
  }
  unsigned long long up, down;
  tun_counts(t, &up, &down);
  lua_pushinteger(co, 101);
  push_tun_headers(co, t);
  lua_pushnil(co);
  lua_pushinteger(co, (lua_Integer)up);
  lua_pushinteger(co, (lua_Integer)down);
  tun_done(q, 5);
}

static void upgrade_cancel(void *ud) {
  lreq *q = ud;
  q->tun_waiter = NULL;
  tun_free(q->tun); /* closes both sides */
  q->tun = NULL;
}

static int l_upgrade(lua_State *L) {
  lreq *q = check_req(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (q->tun) return luaL_error(L, "upgrade already in progress");
  if (srv_is_closed(q->c)) return gone(L);
  http_opts o;
  memset(&o, 0, sizeof o);
  size_t n;
  o.url = topt_str(L, 2, "url", &n);
  if (!o.url) return luaL_argerror(L, 2, "url is required");
  const char *target = topt_str(L, 2, "target", &n);
  if (!target) target = srv_target(q->c);
  o.method = topt_str(L, 2, "method", &n);
  if (!o.method) o.method = srv_method(q->c);
  o.body = topt_str(L, 2, "body", &o.body_len);
  o.cacert_file = topt_str(L, 2, "cacert", &n);
  o.cert_file = topt_str(L, 2, "cert", &n);
  o.key_file = topt_str(L, 2, "key", &n);
  o.cacert_pem = topt_str(L, 2, "cacert_pem", &o.cacert_pem_len);
  o.cert_pem = topt_str(L, 2, "cert_pem", &o.cert_pem_len);
  o.key_pem = topt_str(L, 2, "key_pem", &o.key_pem_len);
  o.server_name = topt_str(L, 2, "server_name", &n);
  o.proxy = topt_str(L, 2, "proxy", &n);
  lua_getfield(L, 2, "insecure");
  o.insecure = lua_toboolean(L, -1);
  lua_getfield(L, 2, "connect_timeout");
  o.connect_timeout = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
  lua_getfield(L, 2, "keepalive");
  o.keepalive = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
  lua_pop(L, 3);
  lua_getfield(L, 2, "headers");
  lua_Integer hn = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
  const char **hv = lua_newuserdatauv(L, (size_t)(hn + 1) * sizeof *hv, 0);
  for (lua_Integer i = 1; i <= hn; i++) {
    lua_rawgeti(L, -2, i);
    hv[i - 1] = lua_tostring(L, -1); /* anchored by the headers table */
    lua_pop(L, 1);
    if (!hv[i - 1]) return luaL_argerror(L, 2, "header lines must be strings");
    if (strpbrk(hv[i - 1], "\r\n")) return luaL_argerror(L, 2, "header line holds CR or LF");
  }
  hv[hn] = NULL;
  o.headers = hv;
  const char *err = NULL;
  q->tun = tun_start(host_loop(L), &o, target, on_tun, q, &err);
  if (!q->tun)
    return error_fail(L, strcmp(err, "malformed URL") == 0 ? "url" : "error", "%s %s: %s", o.method, o.url, err);
  task_t *t = host_task(L);
  q->tun_waiter = t;
  lua_settop(L, 2);
  return host_yield(L, t, upgrade_cancel, q);
}

/* --- relays: the request runs in C (src/core/relay.c) --- */

/* -v: one line per relayed request, in ksh.http's shape, once its status is
 * known (the URL has no credentials: they travel in headers) */
static void relay_log(void *ud, relay_t *x) {
  (void)ud;
  int st = relay_status(x);
  fprintf(stderr, "* %s %s -> %d (%.1f ms, proxy%s)\n", relay_method(x), relay_url(x), st ? st : 499,
          relay_elapsed(x) * 1000, st ? "" : ", the client went away");
}

/* a relay nobody waits for: the connection is the relay's */
static void relay_detached_done(void *ud, relay_t *x) {
  srv_conn *c = ud;
  const char *kind;
  const char *err = relay_error(x, &kind);
  if (err && !relay_client_gone(x)) fprintf(stderr, "kscript: proxy: Error while proxying request: %s\n", err);
  relay_free(x);
  srv_release(c);
}

static void relay_waited_done(void *ud, relay_t *x) {
  lreq *q = ud;
  task_t *t = q->relay_waiter;
  q->relay_waiter = NULL;
  srv_set_notify(q->c, req_notify, q);
  if (!t) return;
  lua_State *co = host_task_thread(t);
  const char *kind;
  const char *err = relay_error(x, &kind);
  int ok = relay_complete(x) || (relay_status(x) == 500 && err && !relay_client_gone(x));
  if (ok) lua_pushboolean(co, 1);
  else luaL_pushfail(co);
  lua_pushinteger(co, relay_client_gone(x) && !relay_status(x) ? 499 : relay_status(x));
  lua_pushinteger(co, (lua_Integer)relay_bytes(x));
  if (err) error_push(co, kind, "%s", err);
  else lua_pushnil(co);
  lua_createtable(co, 0, 2);
  lua_pushinteger(co, (lua_Integer)relay_peak(x));
  lua_setfield(co, -2, "peak");
  lua_pushinteger(co, (lua_Integer)relay_pauses(x));
  lua_setfield(co, -2, "pauses");
  q->relay = NULL;
  relay_free(x);
  host_wake(t, 5);
}

static void relay_cancel(void *ud) {
  lreq *q = ud;
  q->relay_waiter = NULL;
  if (q->relay) {
    relay_free(q->relay); /* cancels the upstream transfer */
    q->relay = NULL;
    if (q->c) srv_set_notify(q->c, req_notify, q);
  }
}

/* relay(opts [, wait]) -> see the header comment */
static int l_relay(lua_State *L) {
  lreq *q = check_req(L);
  int wait = lua_toboolean(L, 3);
  int vlog = lua_toboolean(L, 4);
  if (q->tun || q->relay) return luaL_error(L, "request already forwarded");
  if (srv_is_closed(q->c)) return gone(L);
  http_opts o;
  httpc_opts(L, 2, &o);
  const char *err = NULL;
  if (!wait) {
    srv_conn *c = q->c;
    relay_t *x = relay_start(host_loop(L), c, &o, relay_detached_done, c, &err);
    if (!x)
      return error_fail(L, strcmp(err, "malformed URL") == 0 ? "url" : "error", "%s %s: %s",
                        o.method ? o.method : "GET", o.url, err);
    if (vlog) relay_on_head(x, relay_log, NULL);
    q->c = NULL; /* the relay's now: it releases c when done */
    q->owner = NULL;
    q->waiter = NULL;
    lua_pushboolean(L, 1);
    return 1;
  }
  q->relay = relay_start(host_loop(L), q->c, &o, relay_waited_done, q, &err);
  if (!q->relay)
    return error_fail(L, strcmp(err, "malformed URL") == 0 ? "url" : "error", "%s %s: %s",
                      o.method ? o.method : "GET", o.url, err);
  if (vlog) relay_on_head(q->relay, relay_log, NULL);
  task_t *t = host_task(L);
  q->relay_waiter = t;
  lua_settop(L, 2);
  return host_yield(L, t, relay_cancel, q);
}

/* --- the proxy's common case, all in C ---
 *
 * s:fastpath{http = ksh.httpc options (TLS, keep-alive; url unused),
 *            upstream = "https://host:port[/path]", prefix = "/", strip = bool,
 *            www_prefix = "/static/" | nil, auth = {"Authorization: ...", ...},
 *            filters = {reject_paths = {re...}, reject_methods = ..., accept_paths = ...,
 *                       accept_hosts = ...} | nil (--disable-filter), log = bool}
 *
 * From then on a request the proxy would simply forward (lua/k8s/proxy.lua's
 * handle() and forward() with no Lua filter, log or error hook, and
 * credentials that never change) is forwarded here when it arrives: no task,
 * no Lua table, no Lua string per request.  Anything else (a path with %, .
 * or // segments, outside the prefix, under --www-prefix, an upgrade, a
 * request a filter refuses) goes to s:accept() as before, and Lua answers it
 * exactly as kubectl proxy would.  The options table must not change after. */

static int is_skipped(const char *name) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                                      "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
                                      "host", "authorization", "content-length", "expect", NULL};
  for (int i = 0; names[i]; i++)
    if (strcasecmp(name, names[i]) == 0) return 1;
  return strncasecmp(name, "impersonate-", 12) == 0;
}

static int match_any(lre **list, const char *s, size_t n) {
  for (; *list; list++)
    if (lre_match(*list, s, n)) return 1;
  return 0;
}

/* "Name: value" with each run of letters and digits capitalised (proxy.lua's
 * canonical) */
static char *put_header(char *d, const char *name, const char *value) {
  int up = 1;
  for (const char *p = name; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (isalnum(ch)) {
      *d++ = (char)(up ? toupper(ch) : tolower(ch));
      up = 0;
    } else {
      *d++ = (char)ch;
      up = 1;
    }
  }
  *d++ = ':';
  *d++ = ' ';
  size_t vl = strlen(value);
  memcpy(d, value, vl);
  d += vl;
  *d++ = 0;
  return d;
}

/* q holds name=V with V not starting with 0, f or & (proxy.lua's test for
 * watch=true and follow=true) */
static int query_on(const char *q, const char *name) {
  size_t n = strlen(name);
  for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == '=' && p[n + 1] && !strchr("&0f", p[n + 1])) return 1;
  return 0;
}

/* a long-running request: a watch or a log follow (proxy.lua's forward) */
static int long_running(const char *up, size_t ulen, const char *query) {
  if (query && (query_on(query, "watch") || query_on(query, "follow"))) return 1;
  const char *rest = strncmp(up, "/apis/", 6) == 0 ? up + 6 : strncmp(up, "/api/", 5) == 0 ? up + 5 : NULL;
  if (!rest) return 0;
  const char *end = up + ulen;
  if (rest >= end) return 0;
  for (const char *p = memchr(rest, '/', (size_t)(end - rest)); p; p = memchr(p + 1, '/', (size_t)(end - p - 1)))
    if (end - p >= 7 && memcmp(p, "/watch/", 7) == 0) return 1;
  return 0;
}

static int proxy_fast(lsrv *ls, srv_conn *c) {
  fastpath *f = ls->fast;
  const char *method = srv_method(c), *target = srv_target(c);
  if (target[0] != '/' || strcmp(method, "CONNECT") == 0) return 0;
  size_t plen = strcspn(target, "?");
  if (target[plen] == '?' && target[plen + 1] == 0) return 0;
  if (memchr(target, '%', plen)) return 0;
  for (size_t i = 0; i + 1 < plen; i++)
    if (target[i] == '/' && (target[i + 1] == '.' || target[i + 1] == '/')) return 0;
  if (f->www && plen >= f->www_len && memcmp(target, f->www, f->www_len) == 0) return 0;
  if (plen < f->prefix_len || memcmp(target, f->prefix, f->prefix_len) != 0) return 0;
  /* the path (and target) upstream: the prefix ends in "/", which stays */
  const char *up = f->strip ? target + f->prefix_len - 1 : target;
  size_t ulen = plen - (size_t)(up - target);
  size_t nh = srv_header_count(c), need = 0, xff_len = 0;
  const char *host = NULL;
  int nhost = 0, has_ua = 0, has_accept = 0;
  for (size_t i = 0; i < nh; i++) {
    const char *name, *value;
    srv_header(c, i, &name, &value);
    need += strlen(name) + strlen(value) + 3;
    if (strcasecmp(name, "upgrade") == 0) return 0; /* Lua tunnels it */
    if (strcasecmp(name, "host") == 0) {
      host = value;
      nhost++;
    } else if (strcasecmp(name, "x-forwarded-for") == 0) {
      xff_len += strlen(value) + 2;
    } else if (strcasecmp(name, "user-agent") == 0) {
      has_ua = 1;
    } else if (strcasecmp(name, "accept") == 0) {
      has_accept = 1;
    }
  }
  if (f->re[0]) {
    if (nhost > 1) return 0;
    /* Go's net.SplitHostPort: "[::1]:80" -> "::1", "h:80" -> "h", else as it is */
    const char *h = host ? host : "";
    size_t hl = strlen(h);
    const char *rb = h[0] == '[' ? strstr(h, "]:") : NULL;
    const char *colon = strchr(h, ':');
    if (rb && !strchr(rb + 2, ':')) {
      h++;
      hl = (size_t)(rb - h);
    } else if (colon && !strchr(colon + 1, ':') && !strpbrk(h, "[]")) {
      hl = (size_t)(colon - h);
    }
    if (match_any(f->re[F_REJECT_PATHS], up, ulen) || match_any(f->re[F_REJECT_METHODS], method, strlen(method)) ||
        !match_any(f->re[F_ACCEPT_PATHS], up, ulen) || !match_any(f->re[F_ACCEPT_HOSTS], h, hl))
      return 0; /* Lua answers 403 */
  }
  /* the client's address for X-Forwarded-For: "ip:port", "[ip6]:port" */
  const char *remote = srv_remote(c), *rc = strrchr(remote, ':');
  size_t iplen = 0;
  const char *ip = remote;
  if (rc && rc[1] && strspn(rc + 1, "0123456789") == strlen(rc + 1)) {
    iplen = (size_t)(rc - remote);
    if (iplen && ip[0] == '[') ip++, iplen--;
    if (iplen && ip[iplen - 1] == ']') iplen--;
    if (iplen == 1 && ip[0] == '@') iplen = 0;
  }
  size_t nauth = 0;
  while (f->auth[nauth]) nauth++;
  char stackb[8192];
  const char *stackv[64];
  size_t total = need + xff_len + iplen + 64, nv = nauth + nh + 5;
  char *b = total <= sizeof stackb ? stackb : malloc(total);
  const char **hv = nv <= 64 ? stackv : malloc(nv * sizeof *hv);
  size_t tl = strlen(f->upstream) + strlen(up) + 1;
  char *url = malloc(tl);
  int ok = 0;
  if (b && hv && url) {
    size_t k = 0;
    char *d = b;
    for (size_t i = 0; i < nauth; i++) hv[k++] = f->auth[i];
    for (size_t i = 0; i < nh; i++) {
      const char *name, *value;
      srv_header(c, i, &name, &value);
      if (is_skipped(name) || strcasecmp(name, "x-forwarded-for") == 0) continue;
      hv[k++] = d;
      d = put_header(d, name, value);
    }
    /* X-Forwarded-For: the client's list (its lines joined, as Go's proxy
     * reads them) with the client's address after it */
    const char *xff = d;
    const char *sep = "X-Forwarded-For: ";
    for (size_t i = 0; i < nh; i++) {
      const char *name, *value;
      srv_header(c, i, &name, &value);
      if (strcasecmp(name, "x-forwarded-for") != 0) continue;
      d = stpcpy(stpcpy(d, sep), value);
      sep = ", ";
    }
    if (iplen) {
      d = stpcpy(d, sep);
      memcpy(d, ip, iplen);
      d += iplen;
      sep = ", ";
    }
    *d++ = 0;
    if (sep[0] == ',') hv[k++] = xff;
    if (!has_ua) hv[k++] = "User-Agent:"; /* none, as Go's proxy */
    if (!has_accept) hv[k++] = "Accept:"; /* curl would add one */
    hv[k] = NULL;
    snprintf(url, tl, "%s%s", f->upstream, up);
    http_opts o = f->base;
    o.method = method;
    o.url = url;
    o.headers = hv;
    /* a watch gets a connection of its own, closed when it is cancelled
     * (libcurl 7.88 leaves a cancelled stream's connection open with the
     * API server still sending) */
    o.h2c = long_running(up, ulen, target[plen] == '?' ? target + plen + 1 : NULL);
    o.body = NULL;
    o.body_len = 0;
    if (!srv_body_streaming(c)) {
      size_t bl;
      const char *body = srv_body(c, &bl);
      if (bl > 0 || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        o.body = body ? body : "";
        o.body_len = body ? bl : 0;
      }
    }
    const char *err = NULL;
    relay_t *x = relay_start(host_loop_of(ls->h), c, &o, relay_detached_done, c, &err);
    if (x) {
      if (f->vlog) relay_on_head(x, relay_log, NULL);
      ls->fast_served++;
      ok = 1;
    }
  }
  if (b != stackb) free(b);
  if (hv != stackv) free(hv);
  free(url);
  return ok; /* 0: Lua takes it (and reports a failure its way) */
}

static lre **re_list(lua_State *L, int t) {
  size_t n = lua_istable(L, t) ? lua_rawlen(L, t) : 0;
  lre **list = calloc(n + 1, sizeof *list);
  if (!list) return NULL;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, t, (lua_Integer)i + 1);
    list[i] = lre_test(L, -1); /* anchored by the list, itself by the options */
    lua_pop(L, 1);
    if (!list[i]) {
      free(list);
      return NULL;
    }
  }
  return list;
}

static int l_fastpath(lua_State *L) {
  lsrv *ls = check_srv(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  fast_free(ls);
  if (lua_getfield(L, 2, "http") != LUA_TTABLE) return luaL_argerror(L, 2, "'http' options expected");
  http_opts base;
  httpc_opts(L, 3, &base);
  base.headers = NULL;
  lua_settop(L, 2);
  const char *upstream = opt_str(L, 2, "upstream"), *prefix = opt_str(L, 2, "prefix");
  if (!upstream || !prefix || prefix[0] != '/' || prefix[strlen(prefix) - 1] != '/')
    return luaL_argerror(L, 2, "upstream and a prefix ending in '/' expected");
  if (lua_getfield(L, 2, "auth") != LUA_TTABLE) return luaL_argerror(L, 2, "'auth' lines expected");
  size_t nauth = lua_rawlen(L, 3);
  fastpath *f = calloc(1, sizeof *f);
  const char **auth = calloc(nauth + 1, sizeof *auth);
  if (!f || !auth) {
    free(f);
    free(auth);
    return luaL_error(L, "out of memory");
  }
  f->auth = auth;
  for (size_t i = 0; i < nauth; i++) {
    lua_rawgeti(L, 3, (lua_Integer)i + 1);
    auth[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (!auth[i] || strpbrk(auth[i], "\r\n")) {
      ls->fast = f;
      fast_free(ls);
      return luaL_argerror(L, 2, "auth lines must be strings without CR or LF");
    }
  }
  lua_settop(L, 2);
  f->base = base;
  f->upstream = upstream;
  f->prefix = prefix;
  f->prefix_len = strlen(prefix);
  lua_getfield(L, 2, "strip");
  f->strip = lua_toboolean(L, -1);
  lua_getfield(L, 2, "log");
  f->vlog = lua_toboolean(L, -1);
  lua_settop(L, 2);
  f->www = opt_str(L, 2, "www_prefix");
  f->www_len = f->www ? strlen(f->www) : 0;
  ls->fast = f;
  if (lua_getfield(L, 2, "filters") == LUA_TTABLE) {
    static const char *const keys[F_N] = {"reject_paths", "reject_methods", "accept_paths", "accept_hosts"};
    for (int i = 0; i < F_N; i++) {
      lua_getfield(L, 3, keys[i]);
      f->re[i] = re_list(L, 4);
      lua_pop(L, 1);
      if (!f->re[i]) {
        fast_free(ls);
        return luaL_argerror(L, 2, "filters: lists of regexps expected");
      }
    }
  }
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, 1); /* the options (and all they hold) live as long as the server */
  return 0;
}

/* fast_served() -> the number of requests forwarded by the fast path */
static int l_fast_served(lua_State *L) {
  lsrv *ls = check_srv(L);
  lua_pushinteger(L, (lua_Integer)ls->fast_served);
  return 1;
}

static int l_req_tostring(lua_State *L) {
  lreq *q = luaL_checkudata(L, 1, MT_REQ);
  if (!q->c) lua_pushliteral(L, "server request (closed)");
  else lua_pushfstring(L, "server request (%s %s)", srv_method(q->c), srv_target(q->c));
  return 1;
}

static int l_reason(lua_State *L) {
  lua_pushstring(L, srv_reason((int)luaL_checkinteger(L, 1)));
  return 1;
}

int luaopen_ksh_server(lua_State *L) {
  static const luaL_Reg smeth[] = {{"port", l_port}, {"accept", l_accept}, {"close", l_srv_close},
                                   {"fastpath", l_fastpath}, {"fast_served", l_fast_served}, {NULL, NULL}};
  luaL_newmetatable(L, MT_SRV);
  luaL_newlib(L, smeth);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_srv_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_srv_close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
  static const luaL_Reg rmeth[] = {{"info", l_info},     {"own", l_own},       {"respond", l_respond},
                                   {"write", l_write},   {"drain", l_drain},   {"finish", l_finish},
                                   {"closed", l_closed}, {"close", l_req_close}, {"upgrade", l_upgrade},
                                   {"relay", l_relay},
                                   {NULL, NULL}};
  luaL_newmetatable(L, MT_REQ);
  luaL_newlib(L, rmeth);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_req_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_req_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, l_req_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"listen", l_listen}, {"reason", l_reason}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
