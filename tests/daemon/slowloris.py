#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile clients for tests/daemon/slowloris.sh: COUNT connections that hold
a server's slots without ever completing a request.

  slowloris.py tls HOST PORT SOURCE COUNT SECONDS    TLS done, then a header byte every 0.5 s
  slowloris.py stall HOST PORT SOURCE COUNT SECONDS  TCP open, no TLS ClientHello ever
  slowloris.py unix PATH - - COUNT SECONDS           a header byte every 0.5 s

It writes "ready N" on stdout once it has tried every connection (N of them
opened), then trickles until SECONDS have passed, and finally prints
"closed-by-server K": how many the server cut."""
import socket
import ssl
import sys
import time

mode, target, port, source, count, seconds = sys.argv[1:7]
count = int(count)
seconds = float(seconds)
head = b"GET /v1/host HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
conns = []
for _ in range(count):
    try:
        if mode == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(target)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            s.bind((source, 0))
            s.connect((target, int(port)))
            if mode == "tls":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s)
        s.setblocking(False)
        conns.append(s)
    except (OSError, ssl.SSLError):
        pass
print("ready %d" % len(conns), flush=True)
cut = set()
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    for n, s in enumerate(conns):
        if n in cut or mode == "stall":
            continue
        try:
            s.send(head[i % len(head):i % len(head) + 1])
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
        except (OSError, ssl.SSLError):
            cut.add(n)
    if mode == "stall":
        for n, s in enumerate(conns):
            try:
                if s.recv(1) == b"":
                    cut.add(n)
            except BlockingIOError:
                pass
            except OSError:
                cut.add(n)
    i += 1
    time.sleep(0.5)
print("closed-by-server %d" % len(cut), flush=True)
