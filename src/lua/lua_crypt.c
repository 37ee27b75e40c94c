/* lua_crypt.c: the ksh.crypt module, a thin binding over crypt.c (the
 * ciphers of Kubernetes' encryption at rest).
 *   crypt.open(provider, key, data [, ad]) -> plaintext | nil, err
 *       provider "aescbc" | "aesgcm" | "secretbox"; data is what follows the
 *       provider's prefix in etcd; ad the additional data (aesgcm: the etcd
 *       key).  A wrong key or tampered data: err.kind "decrypt".
 *   crypt.seal(provider, key, plaintext [, ad [, nonce]]) -> data
 *       nonce (or IV) random unless given (tests); raises on a bad key size */
#include <lauxlib.h>
#include <lua.h>

#include "crypt.h"
#include "error.h"

int luaopen_ksh_crypt(lua_State *L);

static const char *const lcrypt_providers[] = {"aescbc", "aesgcm", "secretbox", NULL};

static int lcrypt_open(lua_State *L) {
  int p = luaL_checkoption(L, 1, NULL, lcrypt_providers);
  size_t klen, n, adlen = 0;
  const unsigned char *key = (const unsigned char *)luaL_checklstring(L, 2, &klen);
  const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 3, &n);
  const unsigned char *ad = (const unsigned char *)luaL_optlstring(L, 4, "", &adlen);
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, n + 1);
  const char *why = "failed";
  long len = p == 0   ? crypt_cbc_open(key, klen, in, n, out, &why)
             : p == 1 ? crypt_gcm_open(key, klen, in, n, ad, adlen, out, &why)
                      : crypt_sb_open(key, klen, in, n, out, &why);
  if (len < 0) return error_fail(L, "decrypt", "%s: %s", lcrypt_providers[p], why);
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

static int lcrypt_seal(lua_State *L) {
  int p = luaL_checkoption(L, 1, NULL, lcrypt_providers);
  size_t klen, n, adlen = 0, nlen = 0;
  const unsigned char *key = (const unsigned char *)luaL_checklstring(L, 2, &klen);
  const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 3, &n);
  const unsigned char *ad = (const unsigned char *)luaL_optlstring(L, 4, "", &adlen);
  const unsigned char *nonce = (const unsigned char *)luaL_optlstring(L, 5, NULL, &nlen);
  size_t want = p == 0 ? CRYPT_CBC_IV : p == 1 ? CRYPT_GCM_NONCE : CRYPT_SB_NONCE;
  if (nonce && nlen != want) return luaL_argerror(L, 5, lua_pushfstring(L, "%d bytes expected", (int)want));
  luaL_Buffer b;
  unsigned char *out = (unsigned char *)luaL_buffinitsize(L, &b, n + CRYPT_OVERHEAD);
  const char *why = "failed";
  long len = p == 0   ? crypt_cbc_seal(key, klen, nonce, in, n, out, &why)
             : p == 1 ? crypt_gcm_seal(key, klen, nonce, in, n, ad, adlen, out, &why)
                      : crypt_sb_seal(key, klen, nonce, in, n, out, &why);
  if (len < 0) return luaL_error(L, "%s: %s", lcrypt_providers[p], why);
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

/* The ksh.crypt module table. */
int luaopen_ksh_crypt(lua_State *L) {
  static const luaL_Reg fns[] = {{"open", lcrypt_open}, {"seal", lcrypt_seal}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
