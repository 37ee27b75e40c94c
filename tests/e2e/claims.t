#!/usr/bin/env python3
"""Each claim the README makes, tested as it is written there:
-i, --help, --timeout 2m, the dns error kind, bytecode refused (load,
loadfile, dofile, require), Ctrl-C interrupting a transfer (script and
prompt), background output (a stream, a task) printed above the prompt,
history capped at 1000 entries, -v never printing tokens, running as ksh,
and make install into a temporary DESTDIR.

Servers are local (loopback, started here); the dns check runs in a network
namespace of its own, so no query leaves the machine."""
import http.server, json, os, pty, queue, re, select, shutil, signal, socketserver
import subprocess, sys, tempfile, threading, time

top = os.environ.get("KSCRIPT_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
K = os.environ.get("KSCRIPT") or os.path.join(top, "kscript")
tmp = tempfile.mkdtemp(prefix="kscript-claims.")
inputrc = os.path.join(tmp, "inputrc")
with open(inputrc, "w") as f:
    f.write("set enable-bracketed-paste off\nset bell-style none\n")
TOKEN = "planted-claims-token-7f3a9c2e51"

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
    return cond


def env(**kw):
    e = dict(os.environ, HOME=os.path.join(tmp, "home"), KSH_HISTFILE=os.path.join(tmp, "hist"))
    e.pop("KUBECONFIG", None)
    e.update(kw)
    return e


def run(args, timeout=20, **kw):
    p = subprocess.run([K] + args, capture_output=True, text=True, timeout=timeout, env=kw.pop("env", env()), **kw)
    return p.returncode, p.stdout, p.stderr


class Term:
    """kscript (or ksh) on a pseudo-terminal."""

    def __init__(self, *args, prog=None, e=None):
        e = dict(e or env(), TERM="dumb", INPUTRC=inputrc, KSH_NO_BANNER="1")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            p = prog or K
            os.execve(p, [p] + list(args), e)
        self.buf = b""
        self.mark = 0

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def line(self, s):
        self.mark = len(self.buf)
        self.send(s + "\r")

    def expect(self, pat, timeout=10):
        rx = re.compile(pat.encode() if isinstance(pat, str) else pat, re.S)
        end = time.time() + timeout
        while True:
            m = rx.search(self.buf, self.mark)
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
                    return bool(rx.search(self.buf, self.mark))
                if not d:
                    return False
                self.buf += d

    def tail(self):
        return self.buf[-800:].decode(errors="replace")

    def wait(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(st)
            try:
                r, _, _ = select.select([self.fd], [], [], 0.1)
                if r:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None


# ------------------------------------------------------------ a local server
class State:
    slow_started = threading.Event()
    slow_closed = threading.Event()
    lines = queue.Queue()
    auth = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_GET(self):
        State.auth.append(self.headers.get("Authorization", ""))
        if self.path == "/slow":  # a transfer that would take minutes
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            State.slow_started.set()
            try:
                for _ in range(100000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                State.slow_closed.set()
        elif self.path == "/lines":  # a stream of lines, one each time the test asks
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    l = State.lines.get()
                    if l is None:
                        break
                    self.wfile.write(l.encode() + b"\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/api":
            body = json.dumps({"kind": "APIVersions", "versions": ["v1"],
                               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % srv.server_address[1]
os.makedirs(os.path.join(tmp, "home"), exist_ok=True)

# ------------------------------------------------------------ --help, --timeout
rc, out, err = run(["--help"])
ok(rc == 0 and out.startswith("usage: kscript"), "--help prints the usage on stdout, exit 0", out + err)
for opt in ("-v, --verbose", "--timeout DUR", "-i ", "--version", "-e CODE"):
    ok(opt in out, "--help lists %s (as the README's option list)" % opt.strip(), out)
rc, out, err = run(["--version"])
ok(rc == 0 and out.startswith("kscript "), "--version", out + err)
for d in ("2m", "30s", "500ms"):
    rc, out, err = run(["--timeout", d, "-e", "print('ran')"])
    ok(rc == 0 and out == "ran\n" and err == "", "--timeout %s is accepted" % d, "rc=%d out=%r err=%r" % (rc, out, err))
t0 = time.time()
rc, out, err = run(["--timeout", "500ms", "-e", "sleep(60)"])
ok(rc == 124 and time.time() - t0 < 5, "--timeout 500ms expires with exit 124", "rc=%d %.1fs" % (rc, time.time() - t0))

# ------------------------------------------------------------ -i
t = Term("-i", "-e", "answer = 41")
ok(t.expect(r"ksh> "), "-i opens the prompt after the script", t.tail())
t.line("answer + 1")
ok(t.expect(r"\n42\r?\n.*ksh> "), "-i: the script's globals are there at the prompt", t.tail())
t.send("\x04")
ok(t.wait() == 0, "-i: Ctrl-D leaves with 0", t.tail())
script = os.path.join(tmp, "seti.lua")
with open(script, "w") as f:
    f.write("greeting = 'hello ' .. (arg[1] or '?')\nprint('script ran')\n")
t = Term("-i", script, "world")
ok(t.expect(r"script ran.*ksh> "), "-i SCRIPT.lua: the script runs first, then the prompt", t.tail())
t.line("greeting")
ok(t.expect(r"hello world.*ksh> "), "-i SCRIPT.lua args: its state and args are kept", t.tail())
t.send("\x04")
t.wait()

# ------------------------------------------------------------ the dns error kind
unshare = shutil.which("unshare")
if ok(unshare is not None, "unshare is available (the dns check runs in an empty network namespace)"):
    code = ("local http = require 'ksh.http' "
            "local r, e = http.request{url = 'http://kscript-claims.invalid/'} "
            "print(r, e and e.kind, e)")
    p = subprocess.run([unshare, "-n", K, "-e", code], capture_output=True, text=True, timeout=30, env=env())
    ok(p.returncode == 0 and p.stdout.startswith("nil\tdns\t"), "a name that does not resolve: nil, err.kind == 'dns'",
       p.stdout + p.stderr)
    ok("kscript-claims.invalid" in p.stdout, "and the message names the host", p.stdout)

# ------------------------------------------------------------ bytecode refused
bc = os.path.join(tmp, "bc.lua")
dump = subprocess.run(["lua5.4", "-e", "io.write(string.dump(function() print('bytecode ran') end))"],
                      capture_output=True, timeout=10).stdout
with open(bc, "wb") as f:
    f.write(dump)
os.makedirs(os.path.join(tmp, "mods"), exist_ok=True)
shutil.copy(bc, os.path.join(tmp, "mods", "bcmod.lua"))
checks = {
    "loadfile": "local f, e = loadfile(%r) print(f, e)" % bc,
    "loadfile mode 'b'": "local f, e = loadfile(%r, 'b') print(f, e)" % bc,
    "dofile": "print(pcall(dofile, %r))" % bc,
    "load": "local f, e = load(io.open(%r, 'rb'):read('a')) print(f, e)" % bc,
    "load mode 'b'": "print(load(string.dump(function() print('bytecode ran') end), 'x', 'b'))",
    "require": "package.path = %r .. '/?.lua;' .. package.path print(pcall(require, 'bcmod'))" % os.path.join(tmp, "mods"),
}
for what, code in checks.items():
    rc, out, err = run(["-e", code])
    ok("bytecode ran" not in out and re.search(r"^(nil|false)\t", out) and ("binary chunk" in out or "precompiled" in out),
       "bytecode is refused through %s" % what, out + err)
rc, out, err = run([bc])
ok(rc == 1 and "bytecode ran" not in out and "precompiled Lua bytecode is not accepted" in err,
   "a bytecode script file is refused", out + err)

# ------------------------------------------------------------ Ctrl-C interrupts a transfer
code = ("local http = require 'ksh.http' "
        "local x <close> = setmetatable({}, {__close = function() io.stderr:write('closed\\n') end}) "
        "print(http.request{url = %r})" % (base + "/slow"))
p = subprocess.Popen([K, "-e", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
ok(State.slow_started.wait(10), "the slow transfer started", "")
t0 = time.time()
p.send_signal(signal.SIGINT)
try:
    out, err = p.communicate(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    out, err = p.communicate()
ok(p.returncode == 130 and time.time() - t0 < 3, "Ctrl-C during a transfer in a script: exit 130 at once",
   "rc=%s %.1fs %s" % (p.returncode, time.time() - t0, err))
ok("closed" in err, "after its <close> handlers ran", err)
ok(State.slow_closed.wait(5), "the server sees the connection closed", "")

State.slow_started.clear()
State.slow_closed.clear()
t = Term()
ok(t.expect(r"ksh> "), "the prompt opens", t.tail())
t.line("r, e = require('ksh.http').request{url = %r}" % (base + "/slow"))
ok(State.slow_started.wait(10), "a transfer started at the prompt", t.tail())
t0 = time.time()
t.send("\x03")
ok(t.expect(r"interrupted") and t.expect(r"ksh> ") and time.time() - t0 < 3,
   "Ctrl-C interrupts the transfer and the prompt comes back", t.tail())
ok(State.slow_closed.wait(5), "the transfer is closed", "")
t.line("print('after', 6 * 7)")
ok(t.expect(r"after\s+42"), "the session goes on", t.tail())

# Ctrl-C (and --timeout, and kscript being killed) also ends a child process
# run through ksh.proc (kubeconfig exec plugins), its process group included
def ended(pid, within=5):
    """pid is gone or a zombie (pid 1 of a container may never reap it)"""
    end = time.time() + within
    while time.time() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def pids_in(path, count, within=10):
    end = time.time() + within
    while time.time() < end:
        try:
            with open(path) as f:
                p = [int(x) for x in f.read().split()]
            if len(p) >= count:
                return p
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.05)
    return []


def child_code(pidfile):
    return ("require('ksh.proc').run{argv = {'sh', '-c', 'echo $$ > %s; sleep 300 & echo $! >> %s; wait'}}"
            % (pidfile, pidfile))


pf = os.path.join(tmp, "child.pids")
t.line(child_code(pf))
pids = pids_in(pf, 2)
ok(len(pids) == 2, "a child process (and its own child) runs from the prompt", t.tail())
t0 = time.time()
t.send("\x03")
ok(t.expect(r"interrupted.*ksh> ") and time.time() - t0 < 3, "Ctrl-C interrupts the wait and the prompt comes back",
   t.tail())
ok(pids and all(ended(p) for p in pids), "the child and its child are gone", pids)
t.line("print('after', 6 * 7)")
ok(t.expect(r"after\s+42"), "the session goes on", t.tail())

pf = os.path.join(tmp, "timeout.pids")
t0 = time.time()
rc, out, err = run(["--timeout", "1s", "-e", child_code(pf)])
pids = pids_in(pf, 2, 1)
ok(rc == 124 and time.time() - t0 < 5, "--timeout ends a script waiting on a child (124)", "rc=%d %s" % (rc, err))
ok(pids and all(ended(p) for p in pids), "and kills the child's process group", pids)

pf = os.path.join(tmp, "killed.pids")
p = subprocess.Popen([K, "-e", child_code(pf)], env=env())
pids = pids_in(pf, 2)
p.kill()
p.wait()
ok(pids and ended(pids[0]), "kscript killed outright (SIGKILL): its child dies with it", pids)
for q in pids:
    try:
        os.kill(q, signal.SIGKILL)
    except ProcessLookupError:
        pass

# ------------------------------------------------------------ background output above the prompt
t.line("s = assert(require('ksh.http').stream{url = %r, framing = 'lines'})" % (base + "/lines"))
t.line("w = spawn(function() for l in s:records() do print('EVENT ' .. l) end end)")
ok(t.expect(r"ksh> .*ksh> "), "a stream handler runs in the background", t.tail())
t.mark = len(t.buf)
t.send("half-typed")
ok(t.expect(r"half-typed"), "a line is half typed", t.tail())
State.lines.put("ADDED pod-1")
ok(t.expect(r"EVENT ADDED pod-1\r?\n(\x1b\[[0-9;]*[A-Za-z]|\r)*ksh> half-typed"),
   "a watch event prints above the prompt, and the half-typed line is redrawn below it", t.tail())
State.lines.put("MODIFIED pod-1")
ok(t.expect(r"EVENT MODIFIED pod-1\r?\n(\x1b\[[0-9;]*[A-Za-z]|\r)*ksh> half-typed"), "and again for the next event",
   t.tail())
t.send("\x15")  # Ctrl-U: drop the half line
t.line("spawn(function() sleep(0.2) print('TASK done') end)")
ok(t.expect(r"TASK done\r?\n(\x1b\[[0-9;]*[A-Za-z]|\r)*ksh> "), "a spawned task prints above the prompt too", t.tail())
State.lines.put(None)
t.send("\x04")
ok(t.wait() == 0, "Ctrl-D leaves", t.tail())

# ------------------------------------------------------------ history cap
hist = os.path.join(tmp, "hist-cap")
with open(hist, "w") as f:
    for i in range(1, 1501):
        f.write("print(%d)\n" % i)
t = Term(e=env(KSH_HISTFILE=hist))
ok(t.expect(r"ksh> "), "a prompt over a history of 1500 lines", t.tail())
t.line("print('newest entry')")
ok(t.expect(r"newest entry\r?\n.*ksh> "), "a line runs", t.tail())
t.send("\x04")
t.wait()
with open(hist) as f:
    lines = f.read().splitlines()
ok(len(lines) == 1000, "the history file is capped at 1000 entries (%d)" % len(lines), lines[:3])
ok(lines and lines[-1] == "print('newest entry')" and lines[0] == "print(502)",
   "the oldest entries went, the newest is kept", (lines[:1], lines[-1:]))

# the default history file is ~/.ksh_history; /dev/null disables it
home2 = os.path.join(tmp, "home2")
os.makedirs(home2)
e2 = env(HOME=home2)
e2.pop("KSH_HISTFILE")
t = Term(e=e2)
ok(t.expect(r"ksh> "), "a prompt without KSH_HISTFILE", t.tail())
t.line("print('into the default history')")
ok(t.expect(r"into the default history\r?\n.*ksh> "), "a line runs", t.tail())
t.send("\x04")
t.wait()
hf = os.path.join(home2, ".ksh_history")
ok(os.path.isfile(hf) and "print('into the default history')" in open(hf).read(), "history goes to ~/.ksh_history",
   os.listdir(home2))
t = Term(e=env(HOME=home2, KSH_HISTFILE="/dev/null"))
ok(t.expect(r"ksh> "), "a prompt with KSH_HISTFILE=/dev/null", t.tail())
t.line("print('not kept anywhere')")
ok(t.expect(r"not kept anywhere\r?\n.*ksh> "), "a line runs", t.tail())
t.send("\x04")
t.wait()
kept = []
for root, _, files in os.walk(home2):
    for fn in files:
        if "not kept anywhere" in open(os.path.join(root, fn), errors="replace").read():
            kept.append(fn)
ok(not kept and os.path.exists("/dev/null") and os.stat("/dev/null").st_size == 0,
   "KSH_HISTFILE=/dev/null keeps no history (and /dev/null is still a device)", kept)

# ------------------------------------------------------------ -v never prints tokens
kc = os.path.join(tmp, "kubeconfig")
with open(kc, "w") as f:
    f.write("""apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "%s"}
users:
- name: u
  user: {token: %s}
contexts:
- name: c
  context: {cluster: local, user: u}
current-context: c
""" % (base, TOKEN))
vhist = os.path.join(tmp, "hist-v")
State.auth.clear()
e = env(KUBECONFIG=kc, KSH_HISTFILE=vhist)
rc, out, err = run(["-v", "get", "/api"], env=e)
ok(rc == 0 and "APIVersions" in out, "-v get /api against a local server with a token user", out + err)
ok(("Bearer " + TOKEN) in State.auth, "the token was sent (so it was there to leak)", State.auth)
ok(re.search(r"GET http://127\.0\.0\.1:\d+/api -> 200 \([\d.]+ ms", err) is not None,
   "-v logs method, URL, status and time of the request on stderr", err)
ok(TOKEN not in out and TOKEN not in err, "-v: the token is not on stdout or stderr", out + err)
rc, out, err = run(["-v", "-e", "local k = assert(require('k8s').connect()) print(k:get('/nope'))"], env=e)
ok(TOKEN not in out + err, "-v: not in a failing request's report either", out + err)
t = Term("-v", e=e)
ok(t.expect(r"ksh\S*> "), "-v: the prompt", t.tail())
t.line("get /api")
ok(t.expect(r"APIVersions.*ksh\S*> "), "-v: get /api at the prompt", t.tail())
t.line("k = k8s.connect(); print(k:get('/api').kind)")
ok(t.expect(r"\nAPIVersions.*ksh\S*> "), "-v: k8s.connect at the prompt", t.tail())
t.send("\x04")
t.wait()
ok(TOKEN.encode() not in t.buf, "-v at the prompt: the token never reaches the terminal", t.tail())
h = open(vhist).read() if os.path.exists(vhist) else ""
ok("get /api" in h and TOKEN not in h, "-v: the history holds the lines, not the token", h)
leaks = []
for root, _, files in os.walk(os.path.join(tmp, "home")):
    for fn in files:
        with open(os.path.join(root, fn), "rb") as f:
            if TOKEN.encode() in f.read():
                leaks.append(os.path.join(root, fn))
ok(not leaks, "no file under HOME (caches included) holds the token", leaks)

# ------------------------------------------------------------ running as ksh
link = os.path.join(tmp, "bin", "ksh")
os.makedirs(os.path.dirname(link), exist_ok=True)
os.symlink(K, link)
p = subprocess.run([link, "-e", "print('as ksh', 1 + 1)"], capture_output=True, text=True, timeout=10, env=env())
ok(p.returncode == 0 and p.stdout == "as ksh\t2\n", "a ksh symlink runs scripts", p.stdout + p.stderr)
t = Term(prog=link)
ok(t.expect(r"ksh> "), "ksh alone opens the ksh> prompt", t.tail())
t.line("1+2")
ok(t.expect(r"\n3\r?\n.*ksh> "), "and it works", t.tail())
t.send("\x04")
ok(t.wait() == 0, "ksh: Ctrl-D leaves with 0", t.tail())
treelink = os.path.join(top, "ksh")
ok(os.path.islink(treelink) and os.readlink(treelink) == "kscript", "make builds ./ksh as a link to kscript",
   os.path.exists(treelink) and os.readlink(treelink))

# ------------------------------------------------------------ make install DESTDIR
dest = os.path.join(tmp, "dest")
p = subprocess.run(["make", "-s", "-C", top, "install", "DESTDIR=" + dest, "PREFIX=/usr/local"],
                   capture_output=True, text=True, timeout=600)
ok(p.returncode == 0, "make install DESTDIR=... succeeds", p.stdout + p.stderr)
bindir = os.path.join(dest, "usr/local/bin")
kb = os.path.join(bindir, "kscript")
ok(os.path.isfile(kb) and os.access(kb, os.X_OK), "it installs bin/kscript, executable", os.listdir(dest))
kl = os.path.join(bindir, "ksh")
ok(os.path.islink(kl) and os.readlink(kl) == "kscript", "and bin/ksh, a relative link to it",
   os.path.lexists(kl) and os.readlink(kl))
doc = os.path.join(dest, "usr/local/share/doc/kscript")
ok(all(os.path.isfile(os.path.join(doc, d)) for d in ("README.md", "LICENSE", "lua-api.md")),
   "and README.md, LICENSE, lua-api.md in share/doc/kscript", os.listdir(doc) if os.path.isdir(doc) else "none")
p = subprocess.run([kl, "-e", "print(require('k8s') ~= nil, #require('ksh.sys').bundled('scripts/') > 0)"],
                   capture_output=True, text=True, timeout=10, env=env())
ok(p.stdout == "true\ttrue\n", "the installed binary runs alone (library and commands bundled)", p.stdout + p.stderr)
other = os.path.join(tmp, "dest2", "usr/local/bin")
os.makedirs(other)
with open(os.path.join(other, "ksh"), "w") as f:
    f.write("#!/bin/sh\necho korn\n")
p = subprocess.run(["make", "-s", "-C", top, "install", "DESTDIR=" + os.path.join(tmp, "dest2")],
                   capture_output=True, text=True, timeout=600)
with open(os.path.join(other, "ksh")) as f:
    ok(p.returncode == 0 and "korn" in f.read() and "not linking" in p.stderr,
       "an existing ksh that is not kscript's is left alone, with a note", p.stdout + p.stderr)

srv.shutdown()
shutil.rmtree(tmp, ignore_errors=True)
print("1..%d" % n)
sys.exit(1 if failed else 0)
