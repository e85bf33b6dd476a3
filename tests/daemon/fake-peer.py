# SPDX-License-Identifier: GPL-2.0-or-later
"""Peers that misbehave, for tests/daemon/peers.sh.

    fake-peer.py MODE PORT CERT KEY PIDFILE [PROBE-JSON]

MODE is one of:
  lie      HTTPS; GET /v1/host answers a well-formed document that
           contradicts itself (default revision not among the supported)
  garbage  HTTPS; answers 200 with a body that is not JSON
  huge     HTTPS; answers 200 with 1 MiB of JSON whitespace and more
  hang     TCP; accepts connections and never says anything (no TLS)
  old      HTTPS; a good document of minor version 0 (an itsmig from before
           the register set), hostname "old"
  regs-*   HTTPS; a document of minor version 1 whose vcpu_registers, taken
           from PROBE-JSON (tests/data/probe/*.json), is made bad in one way:
           regs-unsorted, regs-duplicate, regs-count, regs-digest, regs-value
           (a value on a core register), regs-size (an id of 4096 bits),
           regs-oversized (5000 registers)
  wrongtype HTTPS; GET /v1/host answers a sound document (revisions 0 and 1),
           GET /v1/incoming/UUID an object whose members have the wrong types
  unavailable HTTPS; answers every request 503 libvirt-unavailable, as an
           itsmigd that has lost its libvirt connection
  restarting HTTPS; the same for 2 s from the first request, then a sound
           document for GET /v1/host and "no such domain here" for
           /v1/incoming/UUID, as an itsmigd that has connected again
  gated    HTTPS; as "restarting" once ready, and 503 while the file
           PIDFILE.unready exists (the test makes and removes it)
"""
import copy
import hashlib
import json
import http.server
import os
import socket
import ssl
import sys
import time

mode, port, cert, key, pidfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

LIE = (b'{"schema":"itsmig-host-caps","version":1,"hostname":"liar",'
       b'"probe":{"available":false,"reason":"made up"},"caps":{'
       b'"arch":{"value":"aarch64","source":"declared"},'
       b'"page_size":{"value":4096,"source":"declared"},'
       b'"kernel_release":{"value":"6.1.0","source":"declared"},'
       b'"qemu_version":{"value":"7.2.0","source":"declared"},'
       b'"libvirt_version":{"value":"9.0.0","source":"declared"},'
       b'"vgic_its":{"value":true,"source":"declared"},'
       b'"its_abi_revisions":{"value":[0],"source":"declared"},'
       b'"default_its_abi_revision":{"value":3,"source":"declared"},'
       b'"gicd_revision":{"value":3,"source":"declared"},'
       b'"gicv4":{"value":"none","source":"declared"},'
       b'"save_tables":{"value":true,"source":"declared"},'
       b'"restore_tables":{"value":true,"source":"declared"},'
       b'"ctrl_reset":{"value":true,"source":"declared"},'
       b'"save_pending_tables":{"value":true,"source":"declared"}},'
       b'"conflicts":[]}')


GOOD_CAPS = json.loads(LIE)
GOOD_CAPS["caps"]["default_its_abi_revision"]["value"] = 0


def digest(regs):
    text = "".join("%s\n" % r["id"][2:] for r in regs)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def regs_document(how, probe):
    doc = copy.deepcopy(GOOD_CAPS)
    doc["hostname"] = how
    doc["minor_version"] = 1
    with open(probe) as f:
        regs = json.load(f)["vcpu_registers"]
    r = regs["registers"]
    if how == "regs-unsorted":
        r[10], r[11] = r[11], r[10]
    elif how == "regs-duplicate":
        r.insert(11, dict(r[10]))
    elif how == "regs-value":
        core = next(x for x in r if x["id"].startswith("0x603000000010"))
        core["value"] = "0x0000000000000001"
    elif how == "regs-size":
        r.append({"id": "0x6090000000130000"})
        r.sort(key=lambda x: x["id"])
    elif how == "regs-oversized":
        r[:] = [{"id": "0x603000000013%04x" % i} for i in range(5000)]
    regs["count"] = len(r) + (1 if how == "regs-count" else 0)
    regs["digest"] = digest(r)
    if how == "regs-digest":
        regs["digest"] = "sha256:" + "0" * 64
    doc["vcpu_registers"] = regs
    doc["its_semantics"] = {"source": "unknown", "reason": "not measured"}
    return json.dumps(doc).encode()


probe = sys.argv[6] if len(sys.argv) > 6 else None
if mode == "old":
    OLD = copy.deepcopy(GOOD_CAPS)
    OLD["hostname"] = "old"
    FIXED = json.dumps(OLD).encode()
elif mode.startswith("regs-"):
    FIXED = regs_document(mode, probe)
SOUND = (LIE.replace(b'"hostname":"liar"', b'"hostname":"wrongtype"')
         .replace(b'"its_abi_revisions":{"value":[0]', b'"its_abi_revisions":{"value":[0,1]')
         .replace(b'"default_its_abi_revision":{"value":3', b'"default_its_abi_revision":{"value":1'))
WRONG_TYPES = b'{"uuid":7,"domain":["g1"],"present":"yes","state":3,"its_restore":{"errors":[1]}}'
UNAVAILABLE = (b'{"error":{"code":"libvirt-unavailable",'
               b'"message":"not connected to libvirt; reconnecting"}}')
ABSENT = b'{"present":false,"state":null,"name_taken":false,"its_restore":null}'
first_request = []


def not_ready():
    """Whether this peer answers 503 now."""
    if mode == "unavailable":
        return True
    if mode == "gated":
        return os.path.exists(pidfile + ".unready")
    if mode != "restarting":
        return False
    if not first_request:
        first_request.append(time.monotonic())
    return time.monotonic() - first_request[0] < 2.0


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if not_ready():
            self.answer(503, UNAVAILABLE)
        else:
            self.answer(200, ABSENT)

    def do_GET(self):
        if not_ready():
            self.answer(503, UNAVAILABLE)
            return
        if mode in ("restarting", "gated"):
            body = ABSENT if self.path.startswith("/v1/incoming/") else SOUND
            self.answer(200, body)
            return
        if mode == "lie":
            body = LIE
        elif mode == "old" or mode.startswith("regs-"):
            body = FIXED
        elif mode == "wrongtype":
            body = WRONG_TYPES if self.path.startswith("/v1/incoming/") else SOUND
        elif mode == "garbage":
            body = b"<html>this is not JSON</html>"
        else:
            body = b" " * (1024 * 1024) + b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if mode == "hang":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)  # never answered, never closed
else:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    httpd.serve_forever()
