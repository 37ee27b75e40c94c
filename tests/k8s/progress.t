#!/usr/bin/env python3
"""A progress line for lists of many pages (ksh.progress, `get`): on stderr
only when stderr is a terminal (a pseudo-terminal here) and stdout is not
(the table's rows show progress themselves), counting items and
pages from the second page, rewritten in place and erased at the end; the
table on stdout unchanged (kubectl's, same pages); nothing at all on stderr
when it is not a terminal.  Needs `eval "$(tests/env/up)"`; FAILS without it."""
import math, os, pty, re, select, subprocess, sys, tempfile

n = failed = 0


def ok(cond, name, diag=""):
    global n, failed
    n += 1
    print(("ok" if cond else "not ok"), n, "-", name)
    if not cond:
        failed += 1
        for l in str(diag).splitlines()[-15:]:
            print("#  ", l)
    sys.stdout.flush()


def finish():
    print("1..%d" % n)
    sys.exit(1 if failed else 0)


KC = os.environ.get("KSCRIPT_TEST_KUBECTL")
if not KC or not os.environ.get("KUBECONFIG"):
    ok(False, 'KUBECONFIG and KSCRIPT_TEST_KUBECTL are set (eval "$(tests/env/up)")')
    finish()
KS = os.environ.get("KSCRIPT", "kscript")
ns = "kscript-progress-%d" % os.getpid()
tmp = tempfile.mkdtemp(prefix="kscript-progress.")


def kc(*args, **kw):
    return subprocess.run([KC] + list(args), capture_output=True, text=True, **kw)


try:
    kc("create", "ns", ns, check=True)
    items = ",".join('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-%02d"},"data":{"a":"b"}}' % i
                     for i in range(23))
    r = kc("-n", ns, "create", "-f", "-", input='{"apiVersion":"v1","kind":"List","items":[%s]}' % items)
    ok(r.returncode == 0, "23 configmaps created", r.stderr)
    count = len(kc("-n", ns, "get", "cm", "-o", "name").stdout.split())
    pages = math.ceil(count / 5)

    # stderr on a pseudo-terminal, stdout to a file
    out = os.path.join(tmp, "out")
    pid, fd = pty.fork()
    if pid == 0:
        f = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, 1)
        os.execvp(KS, [KS, "get", "configmaps", "-n", ns, "--chunk-size", "5"])
    buf = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        buf += d
    _, st = os.waitpid(pid, 0)
    ok(os.WEXITSTATUS(st) == 0, "kscript get exits 0 on a terminal", buf)
    shown = re.findall(rb"\r\x1b\[Kconfigmaps: (\d+) items \((\d+) pages\)", buf)
    want = [(b"%d" % min(5 * p, count), b"%d" % p) for p in range(2, pages + 1)]
    ok(shown == want, "the line counts items and pages from the second page (%d items, %d pages)" % (count, pages),
       "got %r\nwant %r" % (shown, want))
    ok(buf.endswith(b"\r\x1b[K"), "and is erased at the end", repr(buf[-80:]))
    ok(re.sub(rb"\r\x1b\[K(configmaps: \d+ items \(\d+ pages\))?", b"", buf) == b"",
       "nothing else on the terminal", repr(buf[:300]))

    def table(text):  # NAME and DATA (AGE ticks between two runs)
        return [l.split()[:2] for l in text.splitlines()]
    want_t = kc("-n", ns, "get", "configmaps", "--chunk-size", "5").stdout
    ok(table(open(out).read()) == table(want_t), "stdout is kubectl's table", open(out).read()[:400])

    # stdout on the terminal too: the rows show the progress, no line
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(KS, [KS, "get", "configmaps", "-n", ns, "--chunk-size", "5"])
    both = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        both += d
    os.waitpid(pid, 0)
    ok(b"cm-22" in both and b"items (" not in both and b"\x1b[K" not in both,
       "with stdout on the terminal too, only the table", repr(both[:300]))

    # stderr not a terminal: not a byte
    r = subprocess.run([KS, "get", "configmaps", "-n", ns, "--chunk-size", "5"], capture_output=True)
    ok(r.returncode == 0 and r.stderr == b"", "nothing on stderr when it is not a terminal", r.stderr[:300])
finally:
    kc("delete", "ns", ns, "--wait=false")
finish()
