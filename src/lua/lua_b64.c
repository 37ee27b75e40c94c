/* lua_b64.c: the ksh.b64 module, a thin binding over b64.c.
 *   b64.encode(s [, mode]) -> string        mode: "std" (default), "url",
 *                                             "rawstd", "rawurl" (no padding)
 *   b64.decode(s [, mode]) -> string | nil, err   padding optional, "\r\n" skipped;
 *       err.kind "parse", err.offset the 0-based offset of the byte at fault
 *       (the message names it 1-based: "... at byte N") */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "b64.h"
#include "error.h"

int luaopen_ksh_b64(lua_State *L);

static const char *const lb64_modes[] = {"std", "url", "rawstd", "rawurl", NULL};
static const int lb64_flags[] = {0, B64_URL, B64_NOPAD, B64_URL | B64_NOPAD};

static int lb64_encode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int flags = lb64_flags[luaL_checkoption(L, 2, "std", lb64_modes)];
  size_t len = b64_encoded_len(n, flags);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, len + 1);
  luaL_pushresultsize(&b, b64_encode((const unsigned char *)s, n, out, flags));
  return 1;
}

static int lb64_decode(lua_State *L) {
  size_t n, bad;
  const char *s = luaL_checklstring(L, 1, &n);
  int flags = lb64_flags[luaL_checkoption(L, 2, "std", lb64_modes)];
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, b64_decoded_max(n));
  ptrdiff_t len = b64_decode(s, n, out, flags, &bad);
  if (len >= 0) {
    luaL_pushresultsize(&b, (size_t)len);
    return 1;
  }
  unsigned char c = bad < n ? (unsigned char)s[bad] : 0;
  int digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == ((flags & B64_URL) ? '-' : '+') || c == ((flags & B64_URL) ? '_' : '/');
  if (bad < n && memchr(s, '=', bad)) digit = 0;
  for (size_t i = bad + 1; digit && i < n; i++) /* a lone digit ends the input */
    if (s[i] != '\n' && s[i] != '\r') digit = 0;
  if (bad >= n) {
    error_fail(L, "parse", "base64: input ends inside the padding at byte %I", (lua_Integer)n);
  } else if (digit) {
    error_fail(L, "parse", "base64: input ends with an incomplete group at byte %I", (lua_Integer)bad + 1);
  } else {
    char shown[8];
    if (c >= 0x20 && c < 0x7f) {
      shown[0] = '\'', shown[1] = (char)c, shown[2] = '\'', shown[3] = '\0';
    } else {
      static const char hex[] = "0123456789abcdef";
      shown[0] = '\\', shown[1] = 'x', shown[2] = hex[c >> 4], shown[3] = hex[c & 15], shown[4] = '\0';
    }
    error_fail(L, "parse", "base64: invalid character %s%s at byte %I", shown,
               c != '=' && memchr(s, '=', bad) ? " after the padding" : "", (lua_Integer)bad + 1);
  }
  lua_pushinteger(L, (lua_Integer)(bad < n ? bad : n - 1)); /* the byte named, 0-based as json's */
  lua_setfield(L, -2, "offset");
  return 2;
}

/* The ksh.b64 module table. */
int luaopen_ksh_b64(lua_State *L) {
  static const luaL_Reg fns[] = {{"encode", lb64_encode}, {"decode", lb64_decode}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
