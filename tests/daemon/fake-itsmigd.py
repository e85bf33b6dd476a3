# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in for itsmigd on a unix socket, for tests/daemon/hook.sh and client.sh.

    fake-itsmigd.py SOCKET MODE [STATUS BODY-FILE LOG-FILE]

MODE is one of:
  hang   accepts connections and never says anything
  reply  answers every request with STATUS and the contents of BODY-FILE
         (application/json), and appends one JSON line per request to
         LOG-FILE: {"method", "path", "content_type", "body"}
  huge   answers 200 with a JSON body of 17 MiB

It runs until killed.
"""
import http.server
import json
import os
import socket
import socketserver
import sys

path, mode = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if mode == "huge":
            payload = b'{"pad":"' + b"x" * (17 * 1024 * 1024) + b'"}'
            status = 200
        else:
            status = int(sys.argv[3])
            with open(sys.argv[4], "rb") as f:
                payload = f.read()
            with open(sys.argv[5], "a") as log:
                log.write(json.dumps({
                    "method": self.command,
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "body": body.decode("utf-8", "replace"),
                }) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = handle_any

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(path):
    os.unlink(path)
if mode == "hang":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(64)
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)
else:
    Server(path, Handler).serve_forever()
