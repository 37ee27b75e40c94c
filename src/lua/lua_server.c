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
 * The user API (k8s.proxy_server, kscript proxy) is lua/k8s/proxy.lua. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "host.h"
#include "lua_http.h"
#include "relay.h"
#include "server.h"
#include "tunnel.h"

int luaopen_ksh_server(lua_State *L);

#define MT_SRV "ksh.server"
#define MT_REQ "ksh.server.req"

typedef struct {
  srv_t *s;
  host_t *h;
  task_t *waiter;
  srv_conn **q; /* requests not yet accepted */
  size_t qh, qn, cap;
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

static void srv_on_request(void *ud, srv_conn *c) {
  lsrv *ls = ud;
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
  lsrv *ls = lua_newuserdatauv(L, sizeof *ls, 0);
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
  static const luaL_Reg smeth[] = {{"port", l_port}, {"accept", l_accept}, {"close", l_srv_close}, {NULL, NULL}};
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
