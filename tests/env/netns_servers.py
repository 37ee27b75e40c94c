#!/usr/bin/env python3
"""Servers that run inside the test network namespace (tests/env/up starts them).

  backend ADDR PORT           plain HTTP backend for service and pod proxy tests
                              (/headers: the request's headers; /status/N: status N)
  kubelet ADDR PORT CERT KEY CA
                              HTTPS stand-in for a node's kubelet (client cert required)

Standard library only. Both log one line per request to stderr.
"""
import json
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACKEND_BANNER = "kscript-test-backend"


class Backend(BaseHTTPRequestHandler):
    server_version = "kscript-backend/1"
    protocol_version = "HTTP/1.1"

    def _reply(self, code, body, ctype="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/json":
            self._reply(200, json.dumps({"backend": BACKEND_BANNER, "path": self.path}) + "\n",
                        "application/json")
            return
        if u.path == "/headers":  # the request's header lines, sorted, names in lowercase
            self._reply(200, "".join(sorted("%s: %s\n" % (k.lower(), v) for k, v in self.headers.items())))
            return
        if u.path.startswith("/status/"):
            try:
                code = int(u.path.split("/")[2])
            except ValueError:
                code = 400
            self._reply(code, "status %d\n" % code)
            return
        self._reply(200, "%s\nmethod=%s\npath=%s\n" % (BACKEND_BANNER, self.command, self.path))

    do_HEAD = do_GET

    def _echo(self):
        body = self._body()
        self._reply(200, "%s\nmethod=%s\npath=%s\nbody=%s\n" % (BACKEND_BANNER, self.command, self.path, body))

    do_POST = do_PUT = do_PATCH = do_DELETE = _echo


class Kubelet(BaseHTTPRequestHandler):
    server_version = "kscript-kubelet-standin/1"
    protocol_version = "HTTP/1.1"

    def _reply(self, code, body, ctype="text/plain; charset=utf-8"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p]
        if u.path == "/healthz":
            self._reply(200, "ok")
        elif u.path == "/pods":
            self._reply(200, json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}),
                        "application/json")
        elif u.path == "/metrics":
            self._reply(200, "# TYPE kscript_kubelet_standin gauge\nkscript_kubelet_standin 1\n",
                        "text/plain; version=0.0.4")
        elif len(parts) == 4 and parts[0] == "containerLogs":
            self._logs(parts[1], parts[2], parts[3], q)
        else:
            self._reply(404, "404 page not found\n")

    def _logs(self, ns, pod, container, q):
        lines = ["kscript log line %d from %s/%s/%s\n" % (i, ns, pod, container) for i in range(1, 4)]
        if "tailLines" in q:
            try:
                n = int(q["tailLines"][0])
                lines = lines[-n:] if n > 0 else []
            except ValueError:
                pass
        if q.get("follow", ["false"])[0] != "true":
            self._reply(200, "".join(lines))
            return
        # follow: chunked stream, the 3 lines then one more per second, then end
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(s):
            b = s.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()
        try:
            for line in lines:
                chunk(line)
            for i in range(4, 4 + 30):
                time.sleep(1)
                chunk("kscript log line %d from %s/%s/%s\n" % (i, ns, pod, container))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


class TLSServer(ThreadingHTTPServer):
    """TLS handshake in the per-connection thread, so a slow client blocks nobody."""
    ctx = None

    def finish_request(self, request, client_address):
        try:
            request = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("tls handshake from %s failed: %s" % (client_address[0], e), file=sys.stderr, flush=True)
            return
        super().finish_request(request, client_address)


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    if mode == "backend":
        srv = ThreadingHTTPServer((addr, port), Backend)
    elif mode == "kubelet":
        cert, key, ca = sys.argv[4:7]
        srv = TLSServer((addr, port), Kubelet)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED  # like a kubelet with x509 client auth
        srv.ctx = ctx
    else:
        sys.exit("unknown mode " + mode)
    print("%s listening on %s:%d" % (mode, addr, port), file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
