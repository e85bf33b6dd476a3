#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Reads a guest's serial console from QEMU's unix socket and appends each
line to a log as "MS HOST LINE", MS being this machine's monotonic clock in
milliseconds (three decimals) when the line arrived.  Connects as soon as the
socket appears and again whenever QEMU goes away (a migration ends one QEMU
and starts another on the other host), until killed.

usage: console-reader.py SOCKET HOST LOG
"""
import os
import socket
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    path, host, log = sys.argv[1:]
    out = open(log, "a", buffering=1, encoding="utf-8", errors="replace")
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            time.sleep(0.002)
            continue
        pending = b""
        while True:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            now = time.monotonic_ns() / 1e6
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.rstrip(b"\r").decode("utf-8", "replace")
                out.write("%.3f %s %s\n" % (now, host, text))
        s.close()


if __name__ == "__main__":
    sys.exit(main())
