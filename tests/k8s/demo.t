#!/usr/bin/env python3
"""make demo through a pseudo-terminal: Ctrl-C at the ksh> prompt interrupts
kscript only; make, tests/env/demo and the cluster live on, and the prompt
leaves only on Ctrl-D.  Needs the environment (eval "$(tests/env/up)"): the
demo reuses it and leaves it up.  FAILS without it."""
import os, pty, re, select, signal, subprocess, sys, tempfile, time

top = os.environ.get("KSCRIPT_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
K = os.environ.get("KSCRIPT") or os.path.join(top, "kscript")
tmp = tempfile.mkdtemp(prefix="kscript-demo.")
inputrc = os.path.join(tmp, "inputrc")
with open(inputrc, "w") as f:
    f.write("set enable-bracketed-paste off\nset bell-style none\n")
n = failed = 0


def ok(cond, name, diag=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", name)
    if not cond:
        failed += 1
        for l in str(diag).splitlines()[-20:]:
            print("#  ", l)
    sys.stdout.flush()
    return cond


def done():
    print("1..%d" % n)
    sys.exit(1 if failed else 0)


kubectl = os.environ.get("KSCRIPT_TEST_KUBECTL")
if not ok(os.environ.get("KUBECONFIG") and kubectl, 'KUBECONFIG and KSCRIPT_TEST_KUBECTL are set (eval "$(tests/env/up)")'):
    done()


def cluster_answers():
    r = subprocess.run([kubectl, "get", "--raw", "/readyz"], capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and r.stdout.strip() == "ok"


e = dict(os.environ, TERM="dumb", INPUTRC=inputrc, KSH_HISTFILE=os.path.join(tmp, "hist"), KSH_NO_BANNER="1",
         KSCRIPT_BIN=K)
pid, fd = pty.fork()
if pid == 0:
    # make is the process group the terminal's Ctrl-C goes to, as when a
    # person types `make demo`
    os.execvpe("make", ["make", "-s", "--no-print-directory", "-C", top, "demo"], e)
buf = b""
mark = 0


def expect(pat, timeout=20):
    global buf, mark
    rx = re.compile(pat.encode())
    end = time.time() + timeout
    while True:
        m = rx.search(buf, mark)
        if m:
            mark = m.end()
            return True
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                return False
            if not d:
                return False
            buf += d


def line(s):
    global mark
    mark = len(buf)
    os.write(fd, (s + "\r").encode())


def tail():
    return buf[-1500:].decode(errors="replace")


PROMPT = r"\nksh(:\S+)?> "
if not ok(expect(PROMPT, timeout=180), "make demo opens the ksh> prompt", tail()):
    os.killpg(pid, signal.SIGTERM)  # the make started here, and whatever it runs
    os.waitpid(pid, 0)
    done()
line("get cm -A -w")
ok(expect(r"kscript-sample", timeout=30), "get cm -A -w prints the config maps and waits", tail())
time.sleep(0.5)
os.write(fd, b"\x03")
ok(expect(PROMPT, timeout=15), "Ctrl-C ends the watch and the prompt comes back", tail())
ok(os.waitpid(pid, os.WNOHANG)[0] == 0, "make is still running")
ok(cluster_answers(), "the cluster still answers (kubectl get --raw /readyz)")
# failures at the prompt against the real server: one line each, the prompt comes back
# (kubectl's own wording where get mirrors it, else get: MESSAGE)
for cmdline, pat in (("get foo", r'(get|error): .*"foo"'), ("get pods nope", r'(get: |Error from server \(NotFound\): ).*"nope" not found'),
                     ("get -o bogus pods", r"get: unsupported output format"),
                     ("dump-keys --endpoints http://127.0.0.1:1", r"dump-keys: .*[Rr]efused"),
                     ("k8s.connect():get(123)", r"(stdin:1: bad argument|lua/.*this is a bug in kscript)")):
    line(cmdline)
    start = mark
    got = expect(pat, timeout=30) and expect(PROMPT, timeout=15)
    out = buf[start:].decode(errors="replace")
    lines = [l for l in out.replace("\r", "").split("\n")[1:] if l.strip() and not re.match(r"ksh(:\S+)?> ", l)]
    ok(got and len(lines) == 1 and "scripts/" not in out and "stack traceback" not in out,
       "%s at the prompt: one clear line, the prompt comes back" % cmdline, out)
line("get ns")
ok(expect(r"\ndefault +Active", timeout=30), "a command after Ctrl-C talks to the cluster", tail())
line("sleep(100)")
time.sleep(0.5)
os.write(fd, b"\x03")
ok(expect(r"interrupted", timeout=15) and expect(PROMPT, timeout=15), "Ctrl-C interrupts a chunk too", tail())
time.sleep(0.3)
os.write(fd, b"\x03")
ok(expect(r"\^C", timeout=10), "Ctrl-C at the idle prompt drops the line", tail())
ok(os.waitpid(pid, os.WNOHANG)[0] == 0 and cluster_answers(), "and neither make nor the cluster is touched")
time.sleep(0.3)
os.write(fd, b"\x04")
rc = None
end = time.time() + 60
while time.time() < end:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        rc = os.waitstatus_to_exitcode(st)
        break
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            buf += os.read(fd, 65536)
        except OSError:
            pass
if rc is None:
    os.kill(pid, signal.SIGKILL)
ok(rc == 0, "Ctrl-D leaves the prompt and make demo exits 0 (rc=%r)" % rc, tail())
ok(b"kscript exited with status" not in buf, "kscript itself exited 0", tail())
ok(cluster_answers(), "the environment the demo reused is left running")
done()
