#!/usr/bin/env python3
# A test identity provider that can trickle: serves DIR/jwks.json over HTTPS;
# while DIR/hold exists it sends the headers and then the body a byte at a
# time (never the last byte) until DIR/release exists, so a fetch stays
# running for as long as the test wants. Every step is logged on stdout,
# flushed, for the test to wait on: "request N", "trickling N", "released N",
# "served N". Used by tests/integration/12_jwks.sh; standard library only.
import argparse
import http.server
import os
import ssl
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--dir", required=True)
args = parser.parse_args()

lock = threading.Lock()
count = 0


def log(line):
    with lock:
        print(line, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *a):  # the steps above are the log
        pass

    def do_GET(self):
        global count
        with lock:
            count += 1
            n = count
        log("request %d %s" % (n, self.path))
        if self.path != "/jwks.json":
            self.send_error(404)
            return
        with open(os.path.join(args.dir, "jwks.json"), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not os.path.exists(os.path.join(args.dir, "hold")):
            self.wfile.write(body)
            log("served %d" % n)
            return
        sent = 0
        log("trickling %d" % n)
        release = os.path.join(args.dir, "release")
        last = 0.0
        while not os.path.exists(release):
            if sent < len(body) - 1 and time.monotonic() - last >= 0.2:
                self.wfile.write(body[sent:sent + 1])
                self.wfile.flush()
                sent += 1
                last = time.monotonic()
            time.sleep(0.02)
        self.wfile.write(body[sent:])
        log("released %d" % n)


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
log("listening %d" % args.port)
server.serve_forever()
