/* sys.c: the ksh.sys module: environment, terminals, files, the bundle. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "duration.h"
#include "error.h"

int luaopen_ksh_sys(lua_State *L);

static int fd_arg(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *s = lua_tostring(L, idx);
    if (strcmp(s, "stdin") == 0) return 0;
    if (strcmp(s, "stdout") == 0) return 1;
    if (strcmp(s, "stderr") == 0) return 2;
    return luaL_argerror(L, idx, "stdin, stdout, stderr or a number");
  }
  return (int)luaL_checkinteger(L, idx);
}

/* isatty(fd | "stdout") -> boolean */
static int sys_isatty(lua_State *L) {
  lua_pushboolean(L, isatty(fd_arg(L, 1)));
  return 1;
}

/* An errno failure as nil, err: kind "notfound" for ENOENT, else "io";
 * err.errno is the number, err.path the file (when there is one). */
static int sys_fail(lua_State *L, const char *path, int e) {
  if (path) error_fail(L, e == ENOENT ? "notfound" : "io", "%s: %s", path, strerror(e));
  else error_fail(L, "io", "%s", strerror(e));
  lua_pushinteger(L, e);
  lua_setfield(L, -2, "errno");
  if (path) {
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
  }
  return 2;
}

/* stat(path) -> "file" | "dir" | "other", size, mtime  or nil, err */
static int sys_stat(lua_State *L) {
  const char *p = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(p, &st) != 0) return sys_fail(L, p, errno);
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_pushinteger(L, (lua_Integer)st.st_mtime);
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  return 4;
}

/* bundled([prefix]) -> { "lua/k8s.lua", "scripts/get.lua", ... } */
static int sys_bundled(lua_State *L) {
  const char *prefix = luaL_optstring(L, 1, "");
  size_t pl = strlen(prefix);
  lua_newtable(L);
  lua_Integer i = 1;
  const char *path;
  for (size_t j = 0; (path = bundle_path(j)); j++) {
    if (strncmp(path, prefix, pl) != 0) continue;
    lua_pushstring(L, path);
    lua_rawseti(L, -2, i++);
  }
  return 1;
}

/* bundle_source(path) -> source text or nil */
static int sys_bundle_source(lua_State *L) {
  size_t len;
  const char *s = bundle_find(luaL_checkstring(L, 1), &len);
  if (!s) return 0;
  lua_pushlstring(L, s, len);
  return 1;
}

/* parse_duration(s) -> seconds, nanoseconds | nil, err: Go's
 * time.ParseDuration ("500ms", "30s", "2m", "1h30m"; "10x" and "10" are
 * errors of kind "parse" with Go's message).  The monotonic clock is
 * ksh.loop.now (now() in scripts). */
static int sys_parse_duration(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int64_t ns;
  char err[DURATION_ERR_MAX];
  if (duration_parse(s, n, &ns, err, sizeof err) != 0) return error_fail(L, "parse", "%s", err);
  lua_pushnumber(L, (lua_Number)ns / 1e9);
  lua_pushinteger(L, (lua_Integer)ns);
  return 2;
}

/* time() -> wall clock seconds as a float */
static int sys_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
  return 1;
}

static int sys_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* write(fd | "stderr", s...) -> true | nil, err: unbuffered write, no conversions */
static int sys_write(lua_State *L) {
  int fd = fd_arg(L, 1);
  int n = lua_gettop(L);
  for (int i = 2; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    while (len > 0) {
      ssize_t w = write(fd, s, len);
      if (w < 0) {
        if (errno == EINTR) continue;
        return sys_fail(L, NULL, errno);
      }
      s += w;
      len -= (size_t)w;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int luaopen_ksh_sys(lua_State *L) {
  static const luaL_Reg fns[] = {{"isatty", sys_isatty},
                                 {"stat", sys_stat},
                                 {"bundled", sys_bundled},
                                 {"bundle_source", sys_bundle_source},
                                 {"parse_duration", sys_parse_duration},
                                 {"time", sys_time},
                                 {"pid", sys_pid},
                                 {"write", sys_write},
                                 {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
