/* repl.c: the ksh> prompt.  readline's callback interface reads stdin from the
 * loop; each complete statement runs as the foreground task; what a line
 * means (Lua, command, continuation) is decided by lua/ksh/repl.lua. */
#define _GNU_SOURCE
#include "repl.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define HISTORY_MAX 1000

static struct {
  host_t *h;
  lua_State *L;
  int verbose;
  char *pending; /* statement so far (continuation lines) */
  size_t plen;
  int busy;           /* a chunk is running */
  int prompt_active;  /* readline owns the terminal line */
  int eof;
  int exit_code;
  char *histfile; /* NULL: history not saved */
  char **cands;   /* completion candidates */
  size_t ncands, candpos;
} R;

static void install(void);

/* Call ksh.repl.<fn> with nargs values already pushed; results on the stack. */
static int call_repl(const char *fn, int nargs, int nres) { return host_call(R.h, "ksh.repl", fn, nargs, nres); }

/* Lines with a secret value never reach the history (ksh.repl.history_ok). */
static int history_ok(const char *stmt) {
  lua_pushstring(R.L, stmt);
  if (call_repl("history_ok", 1, 1) != 0) return 0;
  int keep = lua_toboolean(R.L, -1);
  lua_pop(R.L, 1);
  return keep;
}

static void history_add(const char *stmt) {
  if (!*stmt || !history_ok(stmt)) return;
  HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
  if (last && strcmp(last->line, stmt) == 0) return;
  add_history(stmt);
  if (R.histfile) {
    FILE *f = fopen(R.histfile, "a");
    if (f) fclose(f);
    if (append_history(1, R.histfile) == 0) history_truncate_file(R.histfile, HISTORY_MAX);
  }
}

static void history_init(void) {
  using_history();
  stifle_history(HISTORY_MAX);
  const char *hf = getenv("KSH_HISTFILE");
  char buf[4096];
  if (!hf || !*hf) {
    const char *home = getenv("HOME");
    if (!home) return;
    snprintf(buf, sizeof buf, "%s/.ksh_history", home);
    hf = buf;
  }
  if (strcmp(hf, "/dev/null") == 0) return;
  int e = read_history(hf);
  if (e != 0 && e != ENOENT) {
    fprintf(stderr, "kscript: cannot read history %s: %s (history will not be saved this session)\n", hf,
            strerror(e));
    return;
  }
  R.histfile = strdup(hf);
}

static const char *prompt_text(void) {
  static char buf[256];
  if (R.plen) return ">> ";
  lua_State *L = R.L;
  if (call_repl("prompt", 0, 1) == 0) {
    snprintf(buf, sizeof buf, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "ksh> ");
    lua_pop(L, 1);
    return buf;
  }
  return "ksh> ";
}

static void leave(int code) {
  R.eof = 1;
  R.exit_code = code;
}

static void chunk_done(void *ud, task_t *t, int status, lua_State *co, int nres) {
  (void)ud;
  (void)t;
  lua_State *L = R.L;
  if (status == LUA_OK) {
    if (nres > 0) {
      lua_checkstack(L, nres + 4);
      lua_xmove(co, L, nres);
      call_repl("print_results", nres, 0);
    }
  } else if (host_error_is(co, -1, "exit")) { /* os.exit(n) or `exit n` */
    lua_getfield(co, -1, "code");
    leave((int)lua_tointeger(co, -1) & 0xff);
    lua_pop(co, 1);
  } else if (host_is_interrupt(co, -1) || host_error_is(co, -1, "usage")) {
    lua_getfield(co, -1, "message");
    fprintf(stderr, "%s\n", lua_tostring(co, -1));
    lua_pop(co, 1);
  } else {
    host_error_report(co, R.verbose);
    fprintf(stderr, "%s\n", lua_tostring(co, -1));
    lua_pop(co, 1);
  }
  fflush(stdout);
  fflush(stderr);
  R.busy = 0;
  if (host_interrupted(R.h) == HOST_INT_SIGTERM) {
    leave(143);
    return;
  }
  host_reset_interrupt(R.h);
  if (!R.eof) install();
}

static void reset_pending(void) {
  free(R.pending);
  R.pending = NULL;
  R.plen = 0;
}

static void uninstall(void) {
  if (!R.prompt_active) return;
  loop_unwatch_fd(host_loop_of(R.h), 0);
  rl_callback_handler_remove();
  R.prompt_active = 0;
}

static void on_line(char *line) {
  if (!line) {
    R.eof = 1;
    if (R.prompt_active) {
      uninstall();
      fputc('\n', stdout);
      fflush(stdout);
    }
    return;
  }
  size_t n = strlen(line);
  char *p = realloc(R.pending, R.plen + n + 2);
  if (!p) {
    free(line);
    return;
  }
  R.pending = p;
  if (R.plen) R.pending[R.plen++] = '\n';
  memcpy(R.pending + R.plen, line, n + 1);
  R.plen += n;
  free(line);

  lua_State *L = R.L;
  lua_pushlstring(L, R.pending, R.plen);
  if (call_repl("prepare", 1, 2) != 0) {
    reset_pending();
    return;
  }
  const char *what = lua_tostring(L, -2);
  if (what && strcmp(what, "more") == 0) {
    lua_pop(L, 2);
    rl_set_prompt(">> ");
    return;
  }
  history_add(R.pending);
  reset_pending();
  if (what && strcmp(what, "run") == 0 && lua_isfunction(L, -1)) {
    lua_remove(L, -2);
    uninstall();
    R.busy = 1;
    task_t *t = host_spawn(R.h, 0, chunk_done, NULL);
    host_set_foreground(R.h, t);
    return;
  }
  if (what && strcmp(what, "error") == 0) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_pop(L, 2);
  rl_set_prompt(prompt_text());
}

static void on_stdin(void *ud, int fd, short revents) {
  (void)ud;
  (void)fd;
  (void)revents;
  rl_callback_read_char();
}

static void install(void) {
  if (R.prompt_active) return;
  rl_callback_handler_install(prompt_text(), on_line);
  loop_watch_fd(host_loop_of(R.h), 0, POLLIN, on_stdin, NULL);
  R.prompt_active = 1;
}

/* Ctrl-C at the prompt: drop the line (and any continuation), fresh prompt. */
static void on_idle_signal(void *ud, int why) {
  (void)ud;
  if (why == HOST_INT_SIGTERM) {
    R.eof = 1;
    R.exit_code = 143;
    uninstall();
    return;
  }
  host_reset_interrupt(R.h);
  if (!R.prompt_active) return;
  rl_callback_sigcleanup();
  rl_free_line_state();
  rl_replace_line("", 0);
  reset_pending();
  fputs("^C\n", stdout);
  fflush(stdout);
  rl_set_prompt(prompt_text());
  rl_on_new_line();
  rl_redisplay();
}

/* Text printed while the prompt waits goes above it, the line kept. */
static void above_prompt(FILE *f, const char *s, size_t len) {
  int above = R.prompt_active;
  if (above) rl_clear_visible_line();
  fwrite(s, 1, len, f);
  fflush(f);
  if (above) {
    rl_on_new_line();
    rl_redisplay();
  }
}

/* An uncaught error in a background task: reported, the prompt goes on. */
static void on_task_error(void *ud, const char *msg) {
  (void)ud;
  char buf[4096];
  int n = snprintf(buf, sizeof buf, "kscript: %s\n", msg);
  fflush(stdout);
  above_prompt(stderr, buf, n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n);
}

/* above(s [, to_stderr]): text from a background job, written above the
 * line being typed (ksh.repl routes a job's whole lines here). */
static int l_above(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  FILE *f = lua_toboolean(L, 2) ? stderr : stdout;
  if (f == stderr) fflush(stdout);
  above_prompt(f, s, len);
  return 0;
}

/* print() that keeps the prompt intact when a background task prints. */
static int l_print(lua_State *L) {
  int n = lua_gettop(L);
  int above = R.prompt_active;
  if (above) rl_clear_visible_line();
  for (int i = 1; i <= n; i++) {
    size_t l;
    const char *s = luaL_tolstring(L, i, &l);
    if (i > 1) fputc('\t', stdout);
    fwrite(s, 1, l, stdout);
    lua_pop(L, 1);
  }
  fputc('\n', stdout);
  fflush(stdout);
  if (above) {
    rl_on_new_line();
    rl_redisplay();
  }
  return 0;
}

/* --- completion --- */

static char *cand_gen(const char *text, int state) {
  (void)text;
  if (state == 0) R.candpos = 0;
  if (R.candpos < R.ncands) return strdup(R.cands[R.candpos++]);
  return NULL;
}

static void cands_free(void) {
  for (size_t i = 0; i < R.ncands; i++) free(R.cands[i]);
  free(R.cands);
  R.cands = NULL;
  R.ncands = 0;
}

static char **complete(const char *text, int start, int end) {
  rl_attempted_completion_over = 1;
  cands_free();
  lua_State *L = R.L;
  lua_pushstring(L, rl_line_buffer);
  lua_pushinteger(L, start);
  lua_pushinteger(L, end);
  lua_pushstring(L, text);
  if (call_repl("complete", 4, 1) != 0) return NULL;
  if (lua_istable(L, -1)) {
    size_t n = (size_t)luaL_len(L, -1);
    R.cands = calloc(n ? n : 1, sizeof *R.cands);
    for (size_t i = 1; R.cands && i <= n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i);
      if (lua_isstring(L, -1)) R.cands[R.ncands++] = strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (R.ncands == 1) {
    size_t l = strlen(R.cands[0]);
    if (l && strchr(".:(/", R.cands[0][l - 1])) rl_completion_suppress_append = 1;
  }
  if (R.ncands == 0) return NULL;
  return rl_completion_matches(text, cand_gen);
}

/* --- the terminal's foreground process group ---
 * Under `make demo` the terminal sends SIGINT to the whole foreground group:
 * make, the wrapper script and kscript.  The prompt takes a process group of
 * its own and makes it the foreground one, so Ctrl-C reaches kscript alone;
 * the old group gets the terminal back when the prompt ends. */
static pid_t saved_pgrp = -1;

static void term_take(void) {
  if (!isatty(0)) return;
  pid_t fg = tcgetpgrp(0);
  if (fg < 0 || fg != getpgrp() || getpid() == getpgrp()) return; /* already a group leader (a job-control shell made it) */
  if (setpgid(0, 0) != 0) return;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTTOU);
  sigprocmask(SIG_BLOCK, &block, &old);
  if (tcsetpgrp(0, getpgrp()) == 0) saved_pgrp = fg;
  sigprocmask(SIG_SETMASK, &old, NULL);
}

static void term_restore(void) {
  if (saved_pgrp < 0) return;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTTOU);
  sigprocmask(SIG_BLOCK, &block, &old);
  tcsetpgrp(0, saved_pgrp);
  sigprocmask(SIG_SETMASK, &old, NULL);
  saved_pgrp = -1;
}

int repl_run(host_t *h, int verbose) {
  memset(&R, 0, sizeof R);
  R.h = h;
  R.L = host_state(h);
  R.verbose = verbose;
  lua_pushcfunction(R.L, l_print);
  lua_setglobal(R.L, "print");

  rl_readline_name = "ksh";
  rl_catch_signals = 0;
  rl_catch_sigwinch = 1;
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = " \t\n\"'><=;|&(){},+*%^~#";
  rl_completer_word_break_characters = rl_basic_word_break_characters;
  history_init();
  host_on_idle_signal(h, on_idle_signal, NULL);
  host_on_task_error(h, on_task_error, NULL);
  host_trap_exit(h);
  term_take();

  lua_pushcfunction(R.L, l_above);
  if (call_repl("start", 1, 0) != 0) { /* best effort */
  }
  install();
  while (!R.eof) {
    loop_run_once(host_loop_of(h), -1);
    if (host_exit_requested(h) >= 0) leave(host_exit_requested(h) & 0xff); /* os.exit in a task */
  }
  uninstall();
  host_on_task_error(h, NULL, NULL);
  term_restore();
  host_kill_all(h);
  cands_free();
  reset_pending();
  free(R.histfile);
  clear_history();
  return R.exit_code;
}
