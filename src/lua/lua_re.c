/* lua_re.c: Go (RE2) regular expressions over PCRE2, module ksh.re.
 *
 *   local r, err = re.compile(pattern)   -- err: "error parsing regexp: ..."
 *   r:find(s) -> start, end | nil          -- unanchored, like Go's MatchString
 *
 * PCRE2 runs with UTF (invalid bytes allowed in the subject) and
 * DOLLAR_ENDONLY, as Go does; what RE2 refuses (lookaround, backreferences,
 * atomic groups, possessive quantifiers, \Z \G \K \R, recursion, conditionals,
 * callouts, counts over 1000) is refused before PCRE2 sees it. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <lauxlib.h>
#include <lua.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "lua_re.h"

int luaopen_ksh_re(lua_State *L);

#define MT "ksh.re"

struct lre {
  pcre2_code *code;
  pcre2_match_data *md;
};

/* What RE2 refuses: the reason, or NULL when the pattern is in RE2's syntax. */
static const char *re_unsupported(const char *p, size_t n) {
  int in_class = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (ch == '\\') {
      if (i + 1 >= n) return "trailing backslash at end of expression";
      char e = p[i + 1];
      if (e == 'Q') { /* literal text up to \E */
        const char *end = NULL;
        for (size_t k = i + 2; k + 1 < n; k++)
          if (p[k] == '\\' && p[k + 1] == 'E') {
            end = p + k;
            break;
          }
        if (!end) return NULL; /* literal to the end */
        i = (size_t)(end - p) + 1;
        continue;
      }
      if (!in_class && e >= '1' && e <= '9') return "invalid escape sequence (backreference)";
      if (e && strchr("ZGKRgkXCNhHvVo", e)) return "invalid escape sequence";
      i++;
      if ((e == 'p' || e == 'P' || e == 'x') && i + 1 < n && p[i + 1] == '{') { /* \p{Greek}, \x{263a} */
        const char *end = memchr(p + i + 1, '}', n - i - 1);
        if (end) i = (size_t)(end - p);
      }
      continue;
    }
    if (in_class) {
      if (ch == '[' && i + 1 < n && p[i + 1] == ':') { /* [:alpha:] */
        const char *end = strstr(p + i + 2, ":]");
        if (end) i = (size_t)(end - p) + 1;
        continue;
      }
      if (ch == ']') in_class = 0;
      continue;
    }
    if (ch == '[') {
      in_class = 1;
      if (i + 1 < n && p[i + 1] == '^') i++;
      if (i + 1 < n && p[i + 1] == ']') i++; /* a leading ] is literal */
      continue;
    }
    if (ch == '(' && i + 1 < n && p[i + 1] == '*') return "missing argument to repetition operator: `*`";
    if (ch == '(' && i + 2 < n && p[i + 1] == '?') {
      char e = p[i + 2];
      if (e == 'P') {
        if (i + 3 < n && p[i + 3] == '<') continue; /* (?P<name> */
        return "invalid named capture (backreference or recursion)";
      }
      if (e == '<') {
        if (i + 3 < n && (p[i + 3] == '=' || p[i + 3] == '!')) return "invalid or unsupported Perl syntax: lookbehind";
        continue; /* (?<name> */
      }
      if (e == ':') continue;
      /* flags: (?i) (?s) (?m) (?U) (?i-s:...) */
      size_t k = i + 2;
      while (k < n && p[k] && strchr("imsU-", p[k])) k++; /* strchr finds the NUL too */
      if (k > i + 2 && k < n && (p[k] == ')' || p[k] == ':')) continue;
      return "invalid or unsupported Perl syntax";
    }
    if (ch == '{') {
      /* {n}, {n,}, {n,m}: counts over 1000 are refused */
      size_t k = i + 1;
      long a = -1, b = -1;
      /* counts saturate past the limit: no overflow on a long run of digits */
      while (k < n && p[k] >= '0' && p[k] <= '9') {
        if (a < 100000) a = (a < 0 ? 0 : a) * 10 + (p[k] - '0');
        k++;
      }
      if (a >= 0 && k < n && p[k] == ',') {
        k++;
        while (k < n && p[k] >= '0' && p[k] <= '9') {
          if (b < 100000) b = (b < 0 ? 0 : b) * 10 + (p[k] - '0');
          k++;
        }
      }
      if (a >= 0 && k < n && p[k] == '}') {
        if (a > 1000 || b > 1000) return "invalid repeat count";
        i = k;
      } else
        continue; /* a literal { */
    } else if (ch == '}')
      continue; /* a literal } */
    if ((ch == '*' || ch == '+' || ch == '?' || ch == '{') && i + 1 < n && p[i + 1] == '+')
      return "invalid nested repetition operator";
  }
  return NULL;
}

/* compile(pattern) -> regexp | nil, message */
static int l_compile(lua_State *L) {
  size_t n;
  const char *pat = luaL_checklstring(L, 1, &n);
  const char *why = re_unsupported(pat, n);
  if (why) {
    luaL_pushfail(L);
    lua_pushfstring(L, "error parsing regexp: %s: `%s`", why, pat);
    return 2;
  }
  lre *r = lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, MT);
  int ec;
  PCRE2_SIZE off;
  r->code = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &off, NULL);
  if (!r->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(ec, msg, sizeof msg);
    luaL_pushfail(L);
    lua_pushfstring(L, "error parsing regexp: %s at offset %d: `%s`", (const char *)msg, (int)off, pat);
    return 2;
  }
  pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE); /* optional speed-up */
  r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
  if (!r->md) return luaL_error(L, "out of memory");
  return 1;
}

static int l_find(lua_State *L) {
  lre *r = luaL_checkudata(L, 1, MT);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (!r->code) return luaL_error(L, "attempt to use a freed regexp");
  int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, r->md, NULL);
  if (rc < 0) {
    luaL_pushfail(L);
    return 1;
  }
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
  lua_pushinteger(L, (lua_Integer)ov[0] + 1);
  lua_pushinteger(L, (lua_Integer)ov[1]);
  return 2;
}

lre *lre_test(lua_State *L, int idx) { return luaL_testudata(L, idx, MT); }

int lre_match(lre *r, const char *s, size_t n) {
  return r->code && pcre2_match(r->code, (PCRE2_SPTR)s, n, 0, 0, r->md, NULL) >= 0;
}

static int l_gc(lua_State *L) {
  lre *r = luaL_checkudata(L, 1, MT);
  if (r->md) pcre2_match_data_free(r->md);
  if (r->code) pcre2_code_free(r->code);
  r->md = NULL;
  r->code = NULL;
  return 0;
}

int luaopen_ksh_re(lua_State *L) {
  luaL_newmetatable(L, MT);
  lua_newtable(L);
  lua_pushcfunction(L, l_find);
  lua_setfield(L, -2, "find");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"compile", l_compile}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
