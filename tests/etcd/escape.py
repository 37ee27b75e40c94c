# tests/etcd/escape.py: read `etcdctl get -w json` on stdin, print each key
# (and with --values its value) escaped as dump-keys documents it, written
# independently of src/pb.c: printable UTF-8 as is; backslash, controls and
# invalid UTF-8 as \\ \n \t \r \xHH.
import base64, json, sys

def esc(b):
    out, i = [], 0
    simple = {0x5c: "\\\\", 0x0a: "\\n", 0x09: "\\t", 0x0d: "\\r"}
    while i < len(b):
        c = b[i]
        if 0x20 <= c < 0x7f and c != 0x5c:
            out.append(chr(c)); i += 1; continue
        if c >= 0x80:
            done = False
            for n in (2, 3, 4):
                try:
                    s = b[i:i + n].decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if len(s) == 1 and not (0x80 <= ord(s) <= 0x9f):
                    out.append(s); i += n; done = True
                break
            if done:
                continue
        out.append(simple.get(c, "\\x%02x" % c)); i += 1
    return "".join(out)

values = "--values" in sys.argv
doc = json.load(sys.stdin)
w = sys.stdout.buffer
for kv in doc.get("kvs", []):
    w.write(esc(base64.b64decode(kv["key"])).encode() + b"\n")
    if values:
        w.write(esc(base64.b64decode(kv.get("value", ""))).encode() + b"\n")
