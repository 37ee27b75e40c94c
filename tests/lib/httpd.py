#!/usr/bin/env python3
"""A small real HTTP/1.1 server for the HTTP-core tests (loopback only).

usage: httpd.py PORTFILE [--tls CERT KEY [--client-ca CA]]
Writes the port it bound to PORTFILE, then serves until killed.
  GET  /hello               "hello"
  GET  /status/N            status N with a small JSON body
  GET  /headers             the request headers as JSON
  POST /echo                the request body
  GET  /stream?n=N&chunk=K  N JSON lines sent in chunked encoding, K bytes per chunk
  GET  /cut?n=N             N lines, then half a record, then the connection drops
  GET  /stall               headers, one line, then nothing for 30 s
  GET  /slow?n=N            N lines, one every 50 ms
  GET  /big?mb=M            M MiB of lines as fast as possible
"""
import json, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_body(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunked_start(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send_body(200, body, "application/octet-stream")

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        p = u.path
        if p == "/hello":
            return self.send_body(200, b"hello")
        if p.startswith("/status/"):
            code = int(p.split("/")[2])
            return self.send_body(code, json.dumps({"code": code}).encode(), "application/json")
        if p == "/headers":
            return self.send_body(200, json.dumps(dict(self.headers)).encode(), "application/json")
        if p == "/stream":
            n, k = int(q.get("n", 10)), int(q.get("chunk", 7))
            data = b"".join(b'{"i":%d,"pad":"%s"}\n' % (i, b"x" * (i % 13)) for i in range(n))
            self.chunked_start()
            for i in range(0, len(data), k):
                self.chunk(data[i:i + k])
            self.wfile.write(b"0\r\n\r\n")
            return
        if p == "/cut":
            n = int(q.get("n", 3))
            self.chunked_start()
            self.chunk(b"".join(b'{"i":%d}\n' % i for i in range(n)) + b'{"i":')
            time.sleep(0.05)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if p == "/stall":
            self.chunked_start()
            self.chunk(b'{"first":true}\n')
            time.sleep(30)
            return
        if p == "/slow":
            n = int(q.get("n", 5))
            self.chunked_start()
            for i in range(n):
                self.chunk(b'{"i":%d}\n' % i)
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return
        if p == "/big":
            mb = int(q.get("mb", 8))
            line = b'{"k":"' + b"v" * 1000 + b'"}\n'
            self.chunked_start()
            total, i = mb << 20, 0
            while i < total:
                self.chunk(line * 64)
                i += len(line) * 64
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_body(404, b"not found")


def main():
    portfile = sys.argv[1]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    args = sys.argv[2:]
    if args and args[0] == "--tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[1], args[2])
        if len(args) > 4 and args[3] == "--client-ca":
            ctx.load_verify_locations(args[4])
            ctx.verify_mode = ssl.CERT_REQUIRED
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
