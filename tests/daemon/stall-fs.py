# SPDX-License-Identifier: GPL-2.0-or-later
"""A FUSE file system whose one file stalls on read, for tests/daemon/hook.sh.

    stall-fs.py MOUNTPOINT SOURCE-FILE HEAD-BYTES

MOUNTPOINT/image is as large as SOURCE-FILE; a read within its first
HEAD-BYTES returns SOURCE-FILE's bytes, a read beyond them never returns
(until the file system goes).  Runs in the foreground; stop it with
`fusermount -u -z MOUNTPOINT` and SIGKILL, which ends a read still waiting
(ENOTCONN).
"""
import errno
import stat
import sys
import threading

import fusepy

NAME = "/image"


class StallFs(fusepy.Operations):
    def __init__(self, source, head):
        with open(source, "rb") as f:
            self.data = f.read()
        self.head = head
        self.never = threading.Event()

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2}
        if path == NAME:
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": len(self.data)}
        raise fusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", NAME[1:]]

    def open(self, path, flags):
        if path != NAME:
            raise fusepy.FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        if offset + size > self.head:
            self.never.wait()
        return self.data[offset : offset + size]


def main():
    mountpoint, source, head = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # direct_io: every read reaches read() above, none is served from the
    # page cache or read ahead into the stalled range.
    fusepy.FUSE(StallFs(source, head), mountpoint, foreground=True, nothreads=False,
                direct_io=True, ro=True)


if __name__ == "__main__":
    main()
