#!/usr/bin/env python3
"""Every command answers --help and -h with exactly what `kscript help NAME`
prints, exit 0, nothing on stderr, wherever the flag is among the
arguments (before "--"); at the ksh> prompt too, where the prompt comes back."""
import os, pty, re, select, signal, subprocess, sys, tempfile, time

top = os.environ.get("KSCRIPT_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
K = os.environ.get("KSCRIPT") or os.path.join(top, "kscript")
tmp = tempfile.mkdtemp(prefix="kscript-help.")
env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"))
env.pop("KSCRIPT_PATH", None)
env.pop("KUBECONFIG", None)

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


def run(*args):
    p = subprocess.run([K] + list(args), capture_output=True, env=env, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


rc, out, err = run("help")
names = re.findall(r"^  ([a-z][\w-]*)  ", out, re.M)
ok(rc == 0 and len(names) >= 10, "kscript help lists the commands (%d)" % len(names), out + err)
for name in names:
    rc, want, err = run("help", name)
    ok(rc == 0 and want.startswith(name + ":") and not err, "kscript help %s prints its usage" % name, want + err)
    for argv in ([name, "--help"], [name, "-h"], [name, "x", "--help"], [name, "-h", "--bogus-flag"]):
        rc, out, err = run(*argv)
        ok(rc == 0 and out == want and err == "", "kscript %s: the same text, exit 0" % " ".join(argv),
           "rc %s\n--- got\n%s\n--- stderr\n%s" % (rc, out, err))
# after "--" a -h is an argument, not a request for help
rc, out, err = run("get", "--", "-h")
ok(out != run("help", "get")[1], "kscript get -- -h: -h after -- is no request for help", out + err)


class Term:
    def __init__(self):
        inputrc = os.path.join(tmp, "inputrc")
        with open(inputrc, "w") as f:
            f.write("set enable-bracketed-paste off\nset bell-style none\n")
        e = dict(env, TERM="dumb", INPUTRC=inputrc, KSH_HISTFILE="/dev/null", KSH_NO_BANNER="1")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(K, [K], e)
        self.buf = b""
        self.mark = 0

    def line(self, s):
        self.mark = len(self.buf)
        os.write(self.fd, (s + "\r").encode())

    def expect(self, pat, timeout=10):
        rx = re.compile(pat.encode())
        end = time.time() + timeout
        while True:
            m = rx.search(self.buf, self.mark)
            if m:
                self.mark = m.end()
                return True
            left = end - time.time()
            if left <= 0:
                return False
            if select.select([self.fd], [], [], left)[0]:
                try:
                    d = os.read(self.fd, 4096)
                except OSError:
                    return False
                if not d:
                    return False
                self.buf += d

    def tail(self):
        return self.buf[-800:].decode(errors="replace")


t = Term()
ok(t.expect(r"ksh> "), "the prompt opens", t.tail())
for name, flag in (("get", "--help"), ("dump-keys", "-h"), ("etcd", "--help")):
    first = run("help", name)[1].splitlines()
    t.line("%s %s" % (name, flag))
    ok(t.expect(re.escape(first[0])) and t.expect(re.escape(first[-1])) and t.expect(r"ksh> "),
       "ksh> %s %s prints its usage and the prompt comes back" % (name, flag), t.tail())
t.line("print('still' .. 'here')")
ok(t.expect(r"stillhere"), "and the prompt goes on", t.tail())
os.kill(t.pid, signal.SIGKILL)
os.waitpid(t.pid, 0)
subprocess.run(["rm", "-rf", tmp])
print("1..%d" % n)
sys.exit(1 if failed else 0)
