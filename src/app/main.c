/* main.c: options, then a script, a command, -e code, stdin, or the REPL. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
  int is_command; /* the task runs ksh.cmd.run: its result is the status */
  host_t *h;
} run_state;

static void main_done(void *ud, task_t *t, int status, lua_State *co, int nres) {
  run_state *rs = ud;
  (void)t;
  rs->done = 1;
  rs->status = status;
  if (status == LUA_OK) {
    if (rs->is_command && nres > 0 && lua_isinteger(co, -nres)) rs->exit_code = (int)lua_tointeger(co, -nres) & 0xff;
    return;
  }
  if (host_is_interrupt(co, -1) || (host_error_is(co, -1, "cancelled") && host_task_failures(rs->h) > 0)) {
    /* interrupted, or ended because a background task failed: said already */
    rs->exit_code = 1; /* replaced by the signal's code below */
    return;
  }
  if (host_error_is(co, -1, "usage")) {
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
  /* the main chunk failed, or a background task did: the script ends */
  return (rs->done && rs->status != LUA_OK) || host_task_failures(rs->h) > 0;
}

/* Run the function on top of the main state (below it nargs args) as the
 * foreground task; then keep the loop going while other tasks remain.  An
 * uncaught error in a background task ends the run with 1 at once. */
static int run_main(host_t *h, int nargs, int verbose, int is_command) {
  run_state rs = {0, LUA_OK, 0, verbose, is_command, h};
  task_t *t = host_spawn(h, nargs, main_done, &rs);
  if (!t) return 1;
  host_set_foreground(h, t);
  host_run_until(h, main_stop, &rs);
  int why = host_interrupted(h);
  int failed = host_task_failures(h) > 0;
  if (rs.status != LUA_OK || why || failed) host_kill_all(h);
  fflush(stdout);
  switch (why) {
  case HOST_INT_SIGINT: return 130;
  case HOST_INT_SIGTERM: return 143;
  case HOST_INT_TIMEOUT:
    fprintf(stderr, "%s: timed out\n", progname);
    return 124;
  default: break;
  }
  if (failed) return rs.exit_code ? rs.exit_code : 1;
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

static int report_load_error(host_t *h) {
  char buf[1024];
  fprintf(stderr, "%s: %s\n", progname, host_pop_message(h, buf, sizeof buf));
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

int main(int argc, char **argv) {
  /* tokens and keys live in this process's memory: no core dump of it
   * (RLIMIT_CORE is ignored when core_pattern pipes to a program), no
   * ptrace attach by other users' processes */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int verbose = 0, interactive = 0;
  double timeout = 0;
  int script = 0; /* index of the script/command in argv, 0 for none */
  int eargs = 0;  /* with -e: index of the first argument for the code */
  int nexec = 0;
  const char *stdin_script = NULL;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (nexec) eargs = i + 1;
      else if (i + 1 < argc) script = i + 1;
      break;
    } else if (nexec && (a[0] != '-' || strcmp(a, "-") == 0)) {
      eargs = i; /* kscript -e CODE ARGS...: the words are the code's arguments */
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
  if (eargs > argc) eargs = argc;

  /* libcurl (and OpenSSL) are initialised with the first transfer
   * (http_global_init, from the loop): a script that makes none starts
   * without paying for them */
  host_t *h = host_new();
  if (!h) {
    fprintf(stderr, "%s: cannot create the Lua state\n", progname);
    return 1;
  }
  int rc = 0;
  if (nexec) {
    int first = eargs ? eargs : argc; /* arg[1] */
    host_set_args(h, argv, argc, first - 1, "-e");
  } else {
    host_set_args(h, argv, argc, script ? script : argc, NULL);
  }
  host_set_verbose(h, verbose);
  host_push_string(h, verbose ? "verbose" : "");
  if (host_call(h, "ksh", "_start", 1, 0) != 0) {
    rc = 1;
    goto out;
  }
  host_install_signals(h, timeout);

  /* -e chunks, in order, each with the ARGS as ... */
  int last_opt = script ? script : eargs ? eargs : argc;
  for (int i = 1; i < last_opt; i++) {
    if (strcmp(argv[i], "--timeout") == 0) {
      i++;
      continue;
    }
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-e") != 0) continue;
    if (host_load_string(h, argv[++i], "=(command line)") != LUA_OK) {
      rc = report_load_error(h);
      goto out;
    }
    int nargs = 0;
    for (int j = eargs; eargs && j < argc; j++, nargs++) host_push_string(h, argv[j]);
    rc = run_main(h, nargs, verbose, 0);
    if (rc) goto out;
  }

  if (script) {
    const char *s = argv[script];
    int is_command = 0;
    int st;
    if (stdin_script) {
      st = host_load_file(h, "-");
    } else if ((strchr(s, '/') || ends_with(s, ".lua")) && file_exists(s)) {
      st = host_load_file(h, s);
    } else if (strchr(s, '/')) {
      fprintf(stderr, "%s: cannot open %s: no such file\n", progname, s);
      rc = 1;
      goto out;
    } else {
      /* a command: ksh.cmd.run finds it, runs it and returns its status */
      if (host_push_field(h, "ksh.cmd", "run") != 0) {
        rc = 1;
        goto out;
      }
      host_push_string(h, s);
      is_command = 1;
      st = LUA_OK;
    }
    if (st != LUA_OK) {
      rc = report_load_error(h);
      goto out;
    }
    int nargs = is_command;
    for (int i = script + 1; i < argc; i++, nargs++) host_push_string(h, argv[i]);
    rc = run_main(h, nargs, verbose, is_command);
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
    if (host_load_file(h, "-") != LUA_OK) {
      rc = report_load_error(h);
      goto out;
    }
    rc = run_main(h, 0, verbose, 0);
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
