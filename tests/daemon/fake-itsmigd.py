# SPDX-License-Identifier: GPL-2.0-or-later
"""A stand-in for itsmigd on a unix socket, for tests/daemon/hook.sh and client.sh.

    fake-itsmigd.py SOCKET MODE [STATUS BODY-FILE LOG-FILE]
    fake-itsmigd.py SOCKET script SCRIPT-FILE LOG-FILE

MODE is one of:
  hang   accepts connections and never says anything
  reply  answers every request with STATUS and the contents of BODY-FILE
         (application/json), and appends one JSON line per request to
         LOG-FILE: {"method", "path", "content_type", "body"}
  huge   answers 200 with a JSON body of 17 MiB
  script answers from SCRIPT-FILE, a JSON object mapping "METHOD PATH" (the
         path with its query) to a list of replies given one after the other
         to successive requests, the last one again and again.  A reply is
         {"status": N, "body": JSON} (application/json), or, for an event
         stream, {"status": N, "events": TEXT, "hold": BOOL}: TEXT is sent as
         text/event-stream a line at a time, then the stream ends, or with
         "hold" stays open with keepalive comments until the client goes.
         A request the script does not name gets 404.  Requests are logged
         to LOG-FILE as in reply mode.

It runs until killed.
"""
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time

path, mode = sys.argv[1], sys.argv[2]
script_lock = threading.Lock()
script_seen = {}


def script_reply(key):
    """The next reply the script has for KEY, or None."""
    with open(sys.argv[3]) as f:
        script = json.load(f)
    replies = script.get(key)
    if not replies:
        return None
    with script_lock:
        n = script_seen.get(key, 0)
        script_seen[key] = n + 1
    return replies[min(n, len(replies) - 1)]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request_to(self, log_path, body):
        with open(log_path, "a") as log:
            log.write(json.dumps({
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "body": body.decode("utf-8", "replace"),
            }) + "\n")

    def send_events(self, reply):
        self.send_response(reply.get("status", 200))
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for line in reply["events"].splitlines(keepends=True):
                self.wfile.write(line.encode())
                self.wfile.flush()
                time.sleep(0.01)
            while reply.get("hold"):
                time.sleep(0.5)
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle_script(self, body):
        self.log_request_to(sys.argv[4], body)
        reply = script_reply(self.command + " " + self.path)
        if reply is None:
            reply = {"status": 404, "body": {"error": {
                "code": "not-found", "message": "the script has no " + self.path}}}
        if "events" in reply:
            self.send_events(reply)
            return
        payload = reply["body"]
        payload = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(reply["status"])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if mode == "script":
            self.handle_script(body)
            return
        if mode == "huge":
            payload = b'{"pad":"' + b"x" * (17 * 1024 * 1024) + b'"}'
            status = 200
        else:
            status = int(sys.argv[3])
            with open(sys.argv[4], "rb") as f:
                payload = f.read()
            self.log_request_to(sys.argv[5], body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

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
