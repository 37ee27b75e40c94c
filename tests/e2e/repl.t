#!/usr/bin/env python3
"""The ksh> prompt driven through a pseudo-terminal, as a person types it."""
import os, pty, re, select, signal, sys, tempfile, time

top = os.environ.get("KSCRIPT_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
K = os.environ.get("KSCRIPT") or os.path.join(top, "kscript")
tmp = tempfile.mkdtemp(prefix="kscript-repl.")
hist = os.path.join(tmp, "history")
inputrc = os.path.join(tmp, "inputrc")
with open(inputrc, "w") as f:
    f.write("set enable-bracketed-paste off\nset bell-style none\nset completion-query-items 1000\nset page-completions off\n")

n = 0
failed = 0


def ok(cond, name, diag=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", name)
    if not cond:
        failed += 1
        for l in str(diag).splitlines()[-15:]:
            print("#  ", l)
    sys.stdout.flush()


class Term:
    def __init__(self, *args, env=None, prog=None):
        e = dict(os.environ, TERM="dumb", INPUTRC=inputrc, KSH_HISTFILE=hist, KSH_NO_BANNER="1")
        # no cluster: the prompt is the plain "ksh> " (with a kubeconfig it
        # shows context/namespace, which tests/k8s/connect.t checks)
        e.pop("KUBECONFIG", None)
        e.update(env or {})
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(prog or K, [prog or K] + list(args), e)
        self.buf = b""

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def line(self, s):
        self.mark = len(self.buf)
        self.send(s + "\r")

    def expect(self, pat, timeout=5):
        rx = re.compile(pat.encode() if isinstance(pat, str) else pat)
        end = time.time() + timeout
        start = getattr(self, "mark", 0)
        while True:
            m = rx.search(self.buf, start)
            if m:
                self.mark = m.end()
                return True
            left = end - time.time()
            if left <= 0:
                return False
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    d = os.read(self.fd, 4096)
                except OSError:
                    return bool(rx.search(self.buf, start))
                if not d:
                    return False
                self.buf += d

    def tail(self):
        return self.buf[-600:].decode(errors="replace")

    def wait(self, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                # what it wrote just before leaving may still be in the pty
                try:
                    while select.select([self.fd], [], [], 0.2)[0]:
                        d = os.read(self.fd, 4096)
                        if not d:
                            break
                        self.buf += d
                except OSError:
                    pass
                return os.waitstatus_to_exitcode(st)
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        return None


t = Term()
ok(t.expect(r"ksh> "), "the prompt opens on a terminal", t.tail())
t.line("1+1")
ok(t.expect(r"\r?\n2\r?\n"), "a bare expression prints its value", t.tail())
t.line("{b = 1, a = {1, 2}, ['x y'] = true}")
ok(t.expect(r'\{ a = \{ 1, 2 \}, b = 1, \["x y"\] = true \}'), "tables print through the printer, keys in stable order", t.tail())
t.line("for i = 1, 2 do")
ok(t.expect(r">> "), "an incomplete statement asks for more with a second prompt", t.tail())
t.line("print(i * 10)")
t.line("end")
ok(t.expect(r"10\r?\n20\r?\n"), "the continued statement runs whole", t.tail())
t.line("=3*5")
ok(t.expect(r"\n15\r?\n"), "=expr forces Lua", t.tail())
t.line("error('oops')")
ok(t.expect(r"stdin:1: oops"), "an error prints one line and the prompt goes on", t.tail())
t.line("x = = 1")
ok(t.expect(r"unexpected symbol"), "a syntax error is shown", t.tail())

t.mark = len(t.buf)
t.send("string.up\t")
time.sleep(0.3)
t.send('"abc")\r')
ok(t.expect(r"\nABC\r?\n"), "tab completes table fields (string.up -> string.upper()", t.tail())
t.mark = len(t.buf)
t.send("hel\t\r")
ok(t.expect(r"help +list the commands"), "tab completes command names, and a command runs", t.tail())
t.line("help help")
ok(t.expect(r"usage: kscript help \[COMMAND\]"), "a command line with arguments runs as a command", t.tail())
t.line("!help help")
ok(t.expect(r"usage: kscript help \[COMMAND\]"), "!cmd forces a command", t.tail())
t.line("help = 5")
t.line("help")
ok(t.expect(r"\n5\r?\n"), "a defined Lua global wins over a command of the same name", t.tail())


# a failing command, a usage error, a Lua error: one line each, the prompt comes back
def one_line(t, cmdline, pat, name):
    t.line(cmdline)
    start = t.mark
    got = t.expect(pat) and t.expect(r"ksh> ")
    out = t.buf[start:].decode(errors="replace")
    lines = [l for l in out.replace("\r", "").split("\n")[1:] if l.strip() and not l.startswith("ksh> ")]
    ok(got and len(lines) == 1 and "lua/" not in out and "stack traceback" not in out,
       name + " prints one clear line and the prompt comes back", out)

one_line(t, "dump-keys --endpoints http://127.0.0.1:1", r"dump-keys: etcd http://127\.0\.0\.1:1: .*[Rr]efused", "a failing command")
one_line(t, "get foo", r"get: no kubeconfig found", "get without a cluster")
one_line(t, "dump-keys --page x", r"dump-keys: --page needs a number of keys", "a usage error")
one_line(t, "local t = nil; t.x = 1", r"stdin:1: attempt to index a nil value", "a Lua error")
one_line(t, "gte pods", r"unknown command 'gte' \(did you mean 'get'\?\)", "a mistyped command")
one_line(t, "gte", r"unknown command 'gte' \(did you mean 'get'\?\)", "a mistyped command alone")
one_line(t, "nosuchcmd --flag", r"unknown command 'nosuchcmd' \('help' lists the commands\)", "an unknown name with a flag")
t.line("a, b = 1, 2")
t.line("=b")
ok(t.expect(r"\n2\r?\n"), "a multiple assignment to new globals stays Lua", t.tail())
t.line("help = nil")
t.line("help")
ok(t.expect(r"the ksh> prompt:") and t.expect(r"!cmd args") and t.expect(r"Ctrl-C") and t.expect(r"exit \[N\]"),
   "help at the prompt explains the prompt", t.tail())
t.line("help --help")
ok(t.expect(r"usage: kscript help \[COMMAND\]"), "help --help prints help's usage", t.tail())
t.line("spawn(function() error('bg boom') end)")
ok(t.expect(r"kscript: error in task: stdin:1: bg boom"), "an error in a background task is reported", t.tail())
t.line("print('prompt lives')")
ok(t.expect(r"\nprompt lives\r?\n"), "and the prompt goes on", t.tail())

t.mark = len(t.buf)
t.send("\t\t")
got = t.expect(r"dump-keys") and t.expect(r"ksh> ")
out = t.buf[t.mark - 200 if t.mark > 200 else 0:].decode(errors="replace")
seg = t.buf[len(t.buf) - 3000:].decode(errors="replace")
ok(got and all(w in seg for w in ("api-resources", "get", "k8s.", "etcd.", "json.", "yaml.", "print")),
   "Tab on an empty word lists commands, modules and globals", seg)
t.send("\x15")  # drop the line
t.mark = len(t.buf)
t.send("k8s.\t\t")
got = t.expect(r"k8s\.connect\(") and t.expect(r"ksh> k8s\.")
seg = t.buf[t.mark - 400:].decode(errors="replace")
ok(got and "_hooks" not in seg, "k8s.<Tab> completes the API and hides _ names", seg)
t.send("\x15")
t.line("print('after completion')")
ok(t.expect(r"\nafter completion\r?\n"), "the line is clean after completing", t.tail())

t.line("while true do end")
time.sleep(0.5)
t.send("\x03")
ok(t.expect(r"interrupted"), "Ctrl-C interrupts a busy loop", t.tail())
ok(t.expect(r"ksh> "), "and returns to the prompt", t.tail())
t.line("sleep(100)")
time.sleep(0.5)
t.send("\x03")
ok(t.expect(r"interrupted"), "Ctrl-C interrupts sleep()", t.tail())
t.line("print('still alive')")
ok(t.expect(r"still alive"), "the session goes on after Ctrl-C", t.tail())
t.send("print('half")
time.sleep(0.2)
t.send("\x03")
ok(t.expect(r"\^C"), "Ctrl-C at the prompt drops the line", t.tail())
t.line("print('fresh')")
ok(t.expect(r"\nfresh\r?\n"), "and a fresh line works", t.tail())
t.line("tok = 'Bearer token-abc123'")
t.line("spawn(function() sleep(0.2) print('from background') end)")
ok(t.expect(r"[^']from background\r?\n"), "a background task prints while the prompt waits", t.tail())
t.send("\x04")
rc = t.wait()
ok(rc == 0, "Ctrl-D exits 0", "rc=%r" % rc)

h = open(hist).read() if os.path.exists(hist) else ""
ok("1+1" in h and "for i = 1, 2 do\nprint(i * 10)\nend" in h, "history keeps whole statements", h)
ok("token-abc123" not in h, "a line holding a token is kept out of history", h)
size = len(h)

t = Term()
t.expect(r"ksh> ")
t.send("\x1b[A")  # up arrow: the last line from the history file
time.sleep(0.3)
t.send("\r")
ok(t.expect(r"from background"), "history is read back in the next session", t.tail())
t.send("\x04")
t.wait()

with open(hist, "ab") as f:
    f.write(b"\xff\xfe\x00garbage\n")
t = Term()
ok(t.expect(r"ksh> "), "a corrupt history file does not stop the prompt", t.tail())
t.line("print(40 + 2)")
ok(t.expect(r"\n42\r?\n"), "and the session works", t.tail())
t.expect(r"ksh> ")
t.send("\x04")
t.wait()
ok(os.path.getsize(hist) >= size, "and earlier history is not lost")

# the history filter: lines with secret values stay out, useful lines stay in
hist2 = os.path.join(tmp, "history2")
t = Term(env={"KSH_HISTFILE": hist2})
t.expect(r"ksh> ")
keep = ["!get secrets -n app", "print('kept-1')", "x_secret_count = 3", "=#'/registry/secrets/default/x'"]
drop = ["!get pods --token abc123secret", "k = {token='tok-value-1'}", "password = 'hunter2'",
        "h = {Authorization = 'Bearer abc.def'}", "print('Authorization: Basic dXNlcjpwYXNz')",
        "pem = '-----BEGIN PRIVATE KEY-----'",
        "!kubectl create secret generic s --from-literal=pw=aGVsbG8gd29ybGQ=",
        "jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig'"]
for l in keep + drop:
    t.line(l)
    t.expect(r"ksh> ")
t.send("\x04")
t.wait()
h2 = open(hist2).read() if os.path.exists(hist2) else ""
for l in keep:
    ok(l in h2, "kept in history: %s" % l, h2)
for l in drop:
    ok(l not in h2, "kept out of history: %s" % l, h2)
for v in ("abc123secret", "tok-value-1", "hunter2", "dXNlcjpwYXNz", "BEGIN PRIVATE", "aGVsbG8gd29ybGQ", "eyJhbGci"):
    ok(v not in h2, "the history file never holds %s" % v, h2)

t = Term(env={"KSH_HISTFILE": "/dev/null"})
t.expect(r"ksh> ")
t.line("print('nohist')")
t.expect(r"\nnohist\r?\n")  # the output, not the echo of the line
t.expect(r"ksh> ")           # Ctrl-D only once the prompt is back
t.send("\x04")
before = open(hist, "rb").read()
ok(t.wait() == 0, "KSH_HISTFILE=/dev/null: the session works")
ok(open(hist, "rb").read() == before and os.path.exists("/dev/null") and not os.path.isfile("/dev/null"),
   "and nothing is written anywhere (the usual file unchanged, /dev/null still a device)")

for how, want in (("exit 3", 3), ("os.exit(3)", 3), ("exit", 0), ("os.exit(false)", 1), ("spawn(function() os.exit(4) end)", 4)):
    t = Term()
    t.expect(r"ksh> ")
    t.line(how)
    rc = t.wait()
    ok(rc == want, "`%s` at the prompt leaves with %d" % (how, want), "rc=%r %s" % (rc, t.tail()))

t = Term()
t.expect(r"ksh> ")
t.line("do local g <close> = setmetatable({}, {__close = function() print('closed on exit') end}); os.exit(5) end")
rc = t.wait()
ok(rc == 5 and b"closed on exit" in t.buf, "os.exit at the prompt leaves through <close> handlers", "rc=%r %s" % (rc, t.tail()))

t = Term()
t.expect(r"ksh> ")
t.line("get -o bogus pods")
t.expect(r"unsupported output format")
t.expect(r"ksh> ")
t.line("exit 7")
ok(t.wait() == 7, "a command's failure never ends the prompt; exit 7 does", t.tail())

# the prompt under a wrapper (as make and tests/env/demo run it): Ctrl-C
# reaches kscript alone, the wrapper lives on; the terminal goes back to it
t = Term("-c", "'%s'; echo wrapper-alive-$?" % K, prog="/bin/sh")
ok(t.expect(r"ksh> "), "the prompt opens under a wrapper shell", t.tail())
t.line("sleep(100)")
time.sleep(0.5)
t.send("\x03")
ok(t.expect(r"interrupted") and t.expect(r"ksh> "), "Ctrl-C under a wrapper returns to the prompt", t.tail())
t.line("print('still here')")
ok(t.expect(r"\nstill here\r?\n"), "the session goes on", t.tail())
t.expect(r"ksh> ")
t.send("\x03")
ok(t.expect(r"\^C") and t.expect(r"ksh> "), "Ctrl-C at the idle prompt only drops the line", t.tail())
t.send("\x04")
ok(t.expect(r"wrapper-alive-0"), "the wrapper survived every Ctrl-C and sees kscript exit 0", t.tail())
t.wait()

# a second Ctrl-C while a chunk is stuck in C (a pattern match that never
# returns to Lua) ends the process, as lua.c does
t = Term()
t.expect(r"ksh> ")
t.line('string.find(("a"):rep(5000), ("a*"):rep(12) .. "b")')
time.sleep(0.5)
t.send("\x03")
time.sleep(0.5)
alive = os.waitpid(t.pid, os.WNOHANG)[0] == 0
t.send("\x03")
rc = t.wait()
ok(alive and rc == -signal.SIGINT, "a first Ctrl-C waits for C to return; a second one kills (rc=%r)" % rc, t.tail())

t = Term()
t.expect(r"ksh> ")
t.line("sleep(100)")
time.sleep(0.3)
os.kill(t.pid, signal.SIGTERM)
ok(t.wait() == 143, "SIGTERM ends the prompt with 143")

# ---------------------------------------------------------------- jobs
# a task still running when its statement is done is a job: jobs, fg, kill;
# its lines go above the line being typed; `cmd &` runs a command as one
jd = os.path.join(tmp, "jobs")
os.mkdir(jd)
with open(os.path.join(jd, "ticker.lua"), "w") as f:
    f.write("""-- ticker: a line every 0.2 s until stopped
local n = 0
local _ <close> = setmetatable({}, { __close = function() print("ticker closed") end })
while true do
  n = n + 1
  io.stdout:write("ticker ", n, "\\n")
  sleep(0.2)
end
""")
t = Term(env={"KSCRIPT_PATH": jd})
t.expect(r"ksh> ")
t.line('every(0.2, function() print("tick") end)')
ok(t.expect(r"\[1\] every\(0\.2, function\(\) print\(\"tick\"\) end\)"), "a task still running when its statement ends is job [1]", t.tail())
ok(t.expect(r"\rtick\r?\n"), "its output shows while the prompt waits", t.tail())
t.mark = len(t.buf)
t.send("1 + ")
ok(t.expect(r"\rtick\r?\nksh> 1 \+ "), "a job's line goes above the prompt and the text being typed is drawn again", t.tail())
t.send("41\r")
ok(t.expect(r"\n42\r?\n"), "the line typed meanwhile runs whole", t.tail())
t.line("ticker &")
ok(t.expect(r"\[2\] ticker &"), "`cmd &` runs the command as job [2]", t.tail())
ok(t.expect(r"ticker 2\r?\n"), "the background command's io.stdout:write lines show above the prompt", t.tail())
t.line("jobs")
ok(t.expect(r"\[1\]  running  every\(0\.2[^\n]*\n(.*\n)*?\[2\]  running  ticker &"), "jobs lists both", t.tail())
t.line("kill 1")
t.line("jobs")
ok(t.expect(r"\[1\]  killed   every\(0\.2"), "kill 1 stops job 1, reported once at the next prompt", t.tail())
ok(not t.expect(r"\rtick\r?\n", 1.2), "no tick after kill 1 (1.2 s, six periods)", t.tail())
t.line('spawn(function() for i = 1, 3 do sleep(0.3) print("fg", i) end end)')
ok(t.expect(r"\[3\] spawn"), "a third job", t.tail())
t.line("fg 3")
ok(t.expect(r"fg\t1\r?\nfg\t2\r?\nfg\t3\r?\n"), "fg 3 follows job 3 alone (job 2's lines are held meanwhile)", t.tail())
ok(t.expect(r"ticker \d+\r?\n(.*\n)*?\[3\]  done     spawn"), "when it ends the held lines are shown and job 3 is reported done", t.tail())
t.line("kill 2")
ok(t.expect(r"ticker closed"), "kill 2 cancels the command: its <close> handler runs", t.tail())
t.line("every(0.2, function() print('again') end)")
ok(t.expect(r"\[\d\] every"), "another job", t.tail())
t.line("fg")
ok(t.expect(r"again\r?\n"), "fg without a number follows the newest job", t.tail())
t.send("\x03")
ok(t.expect(r"interrupted[^\n]*\n(.*\n)*?ksh> "), "Ctrl-C stops following: the prompt is back", t.tail())
ok(t.expect(r"\ragain\r?\n"), "and the job runs on above it", t.tail())
t.line('spawn(function() local x <close> = setmetatable({}, {__close = function() print("bye from job") end}) sleep(100) end)')
ok(t.expect(r"\[\d\] spawn"), "a job with a <close> handler", t.tail())
t.line("fg 9")
ok(t.expect(r"ksh: %9: no such job"), "fg of no job says so", t.tail())
# Ctrl-D only once the prompt is back: while a command runs the terminal is in
# canonical mode, where it is an end-of-file mark that reads as a NUL byte
# once readline has the terminal raw again
t.expect(r"ksh> ")
t.send("\x04")
rc = t.wait(15)
ok(b"bye from job" in t.buf and rc == 0, "leaving the prompt ends every job, running its <close> handlers (rc=%r)" % rc, t.tail())

print("1..%d" % n)
sys.exit(1 if failed else 0)
