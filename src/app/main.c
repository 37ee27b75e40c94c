/* main.c: options, then a script, a command, -e code, stdin, or the REPL. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "host.h"
#include "http.h"
#include "repl.h"

static const char *progname = "kscript";

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [SCRIPT.lua | COMMAND | -] [args...]\n"
          "  SCRIPT.lua      run a Lua file (a path, or a name ending in .lua)\n"
          "  COMMAND         run a command: NAME.lua from $KSCRIPT_PATH,\n"
          "                  ~/.config/kscript/scripts, then the bundled ones\n"
          "  -               run the script on standard input\n"
          "  -e CODE         run CODE (may repeat)\n"
          "  -i              the ksh> prompt after the script\n"
          "  -v, --verbose   tracebacks and request logs on stderr\n"
          "  --timeout DUR   stop after DUR (10s, 500ms, 2m); exit 124\n"
          "  --version       print the version\n"
          "  -h, --help      this help; `%s help` lists the commands\n"
          "With no script: the ksh> prompt on a terminal, else stdin as a script.\n",
          progname, progname);
}

/* --timeout: a plain number of seconds ("10", "0.3") or a Go duration
 * (core's duration_parse: "500ms", "2m", "1h30m"); -1 with err set when
 * malformed or negative */
static double parse_duration(const char *s, char *err, size_t errlen) {
  size_t n = strlen(s);
  if (n > 0 && strspn(s, "0123456789.") == n) {
    char *end;
    double v = strtod(s, &end);
    if (*end == 0) return v;
  }
  int64_t ns;
  if (duration_parse(s, n, &ns, err, errlen) != 0) return -1;
  if (ns < 0) {
    snprintf(err, errlen, "negative duration \"%s\"", s);
    return -1;
  }
  return (double)ns / 1e9;
}

typedef struct {
  int done;
  int status; /* LUA_OK or error */
  int exit_code;
  int verbose;
} run_state;

static void main_done(void *ud, task_t *t, int status, lua_State *co, int nres) {
  run_state *rs = ud;
  (void)t;
  (void)nres;
  rs->done = 1;
  rs->status = status;
  if (status == LUA_OK) return;
  if (host_is_interrupt(co, -1)) {
    rs->exit_code = 1; /* replaced by the signal's code below */
    return;
  }
  int usage_err = 0;
  if (lua_type(co, -1) == LUA_TTABLE) {
    lua_getfield(co, -1, "kind");
    usage_err = lua_isstring(co, -1) && strcmp(lua_tostring(co, -1), "usage") == 0;
    lua_pop(co, 1);
  }
  if (usage_err) {
    lua_getfield(co, -1, "message");
    fprintf(stderr, "%s: %s\n", progname, lua_tostring(co, -1));
    lua_pop(co, 1);
    rs->exit_code = 2;
    return;
  }
  host_error_report(co, rs->verbose);
  fprintf(stderr, "%s: %s\n", progname, lua_tostring(co, -1));
  lua_pop(co, 1);
  rs->exit_code = 1;
}

static int main_stop(void *ud) {
  run_state *rs = ud;
  return rs->done && rs->status != LUA_OK;
}

/* Run the function on top of the main state (below it nargs args) as the
 * foreground task; then keep the loop going while other tasks remain. */
static int run_main(host_t *h, int nargs, int verbose) {
  run_state rs = {0, LUA_OK, 0, verbose};
  task_t *t = host_spawn(h, nargs, main_done, &rs);
  if (!t) return 1;
  host_set_foreground(h, t);
  host_run_until(h, main_stop, &rs);
  int why = host_interrupted(h);
  if (rs.status != LUA_OK || why) host_kill_all(h);
  fflush(stdout);
  switch (why) {
  case HOST_INT_SIGINT: return 130;
  case HOST_INT_SIGTERM: return 143;
  case HOST_INT_TIMEOUT:
    fprintf(stderr, "%s: timed out\n", progname);
    return 124;
  default: break;
  }
  if (!rs.done) {
    /* tasks were left waiting on something that can never wake them */
    if (host_tasks(h) > 0) {
      fprintf(stderr, "%s: %d task(s) still waiting with nothing left to wake them\n", progname, host_tasks(h));
      host_kill_all(h);
      return 1;
    }
  }
  return rs.exit_code;
}

static int report_load_error(lua_State *L) {
  fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
  lua_pop(L, 1);
  return 1;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Load a script file (text only); "-" is stdin.  Pushes the chunk or an error. */
static int load_script(lua_State *L, const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
    return LUA_ERRFILE;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, n);
  int err = ferror(f);
  if (f != stdin) fclose(f);
  luaL_pushresult(&b);
  if (err) {
    lua_pop(L, 1);
    lua_pushfstring(L, "cannot read %s", path);
    return LUA_ERRFILE;
  }
  size_t len;
  const char *src = lua_tolstring(L, -1, &len);
  /* skip a #! line as lua.c does (keep the newline so line numbers hold) */
  size_t skip = 0;
  if (len > 0 && src[0] == '#')
    while (skip < len && src[skip] != '\n') skip++;
  const char *name = strcmp(path, "-") == 0 ? "=stdin" : lua_pushfstring(L, "@%s", path);
  int st = host_loadbuffer(L, src + skip, len - skip, name);
  if (strcmp(path, "-") != 0) lua_remove(L, -2); /* chunkname */
  lua_remove(L, -2);                               /* source */
  return st;
}

/* Resolve a command name through ksh.cmd.find; pushes the chunk or an error. */
static int load_command(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ksh.cmd");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return LUA_ERRRUN;
  lua_getfield(L, -1, "find");
  lua_remove(L, -2);
  lua_pushstring(L, name);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) return LUA_ERRRUN;
  if (lua_isnil(L, -2)) {
    lua_remove(L, -2);
    return LUA_ERRFILE;
  }
  lua_pop(L, 1);
  return LUA_OK;
}

/* arg table as lua.c builds it: arg[0] the script, negatives the interpreter and options */
static void set_arg(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int prelude(lua_State *L, int verbose) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "ksh");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return report_load_error(L);
  lua_pushboolean(L, verbose);
  lua_setfield(L, -2, "verbose");
  lua_pop(L, 1);
  return 0;
}

int main(int argc, char **argv) {
  int verbose = 0, interactive = 0;
  double timeout = 0;
  int script = 0; /* index of the script/command in argv, 0 for none */
  int nexec = 0;
  const char *stdin_script = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) script = i + 1;
      break;
    } else if (strcmp(a, "-") == 0) {
      stdin_script = a;
      script = i;
      break;
    } else if (a[0] != '-') {
      script = i;
      break;
    } else if (strcmp(a, "-e") == 0) {
      if (++i >= argc) {
        fprintf(stderr, "%s: -e needs an argument\n", progname);
        return 2;
      }
      nexec++;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
      verbose = 1;
    } else if (strcmp(a, "-i") == 0) {
      interactive = 1;
    } else if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
      const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
      char derr[DURATION_ERR_MAX] = "";
      if (!v || (timeout = parse_duration(v, derr, sizeof derr)) <= 0) {
        fprintf(stderr, "%s: --timeout needs a duration such as 30s, 500ms or 2m%s%s\n", progname,
                derr[0] ? ": " : "", derr);
        return 2;
      }
    } else if (strcmp(a, "--version") == 0) {
      printf("kscript %s (%s, %s)\n", KSH_VERSION, LUA_RELEASE, http_library_version());
      return 0;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "%s: unknown option '%s'\n", progname, a);
      usage(stderr);
      return 2;
    }
  }

  if (http_global_init() != 0) {
    fprintf(stderr, "%s: cannot initialise libcurl\n", progname);
    return 1;
  }
  host_t *h = host_new();
  if (!h) {
    fprintf(stderr, "%s: cannot create the Lua state\n", progname);
    return 1;
  }
  lua_State *L = host_state(h);
  int rc = 0;
  set_arg(L, argv, argc, script ? script : argc);
  if (prelude(L, verbose)) {
    rc = 1;
    goto out;
  }
  host_install_signals(h, timeout);

  /* -e chunks, in order */
  for (int i = 1; i < argc && (!script || i < script); i++) {
    if (strcmp(argv[i], "--timeout") == 0) {
      i++;
      continue;
    }
    if (strcmp(argv[i], "-e") != 0) continue;
    const char *code = argv[++i];
    if (host_loadbuffer(L, code, strlen(code), "=(command line)") != LUA_OK) {
      rc = report_load_error(L);
      goto out;
    }
    rc = run_main(h, 0, verbose);
    if (rc) goto out;
  }

  if (script) {
    const char *s = argv[script];
    int st;
    if (stdin_script) {
      st = load_script(L, "-");
    } else if ((strchr(s, '/') || ends_with(s, ".lua")) && file_exists(s)) {
      st = load_script(L, s);
    } else if (strchr(s, '/')) {
      lua_pushfstring(L, "cannot open %s: no such file", s);
      st = LUA_ERRFILE;
    } else {
      st = load_command(L, s);
    }
    if (st != LUA_OK) {
      rc = report_load_error(L);
      if (st == LUA_ERRFILE && !stdin_script && !strchr(s, '/') && !ends_with(s, ".lua"))
        fprintf(stderr, "%s: try '%s help' for the list of commands\n", progname, progname);
      goto out;
    }
    int nargs = 0;
    for (int i = script + 1; i < argc; i++, nargs++) lua_pushstring(L, argv[i]);
    rc = run_main(h, nargs, verbose);
    if (rc || !interactive) goto out;
  } else if (nexec && !interactive) {
    goto out;
  }

  if (interactive || isatty(0)) {
    if (!isatty(0) && !interactive) {
      fprintf(stderr, "%s: the ksh> prompt needs a terminal on standard input\n", progname);
      rc = 2;
      goto out;
    }
    rc = repl_run(h, verbose);
  } else {
    if (load_script(L, "-") != LUA_OK) {
      rc = report_load_error(L);
      goto out;
    }
    rc = run_main(h, 0, verbose);
  }

out:
  fflush(stdout);
  host_free(h);
  http_global_cleanup();
  if (fflush(stdout) != 0 || ferror(stdout)) {
    if (rc == 0) rc = 1;
  }
  return rc;
}
