#!/usr/bin/env python3
"""lossyfs: a pass-through FUSE filesystem that can lose what was never synced.

Every file's content goes straight to a backing directory; for every file the filesystem
also remembers how much of it was on disk at its last fsync. On command it truncates
every file to that length — what a power cut leaves behind when the page cache is gone —
when it reads the line "cut" on stdin, and prints one JSON line: {"cut": files, "dropped":
bytes}. The line "sync" counts everything written so far as on disk, as the kernel's own
writeback would after a while (a test settles its set-up, then measures what its load
risks). Files that existed before the mount count as synced as they were. Directory operations (create, rename, unlink) count
as durable at once, and writes inside the already-synced part of a file are kept: the
model loses what was appended and not yet synced, which is what an append-only log
(Kafka's) risks. Between a "sync" and a "cut" it is the worst case: a real kernel also
writes dirty pages back on its own after vm.dirty_expire_centisecs (30 s by default).

Written for hookyard's power-cut test (test/faults/power-cut.fault.ts), on mfusepy (PyPI)
and libfuse 3 (Debian's fuse3): no packaged tool drops unsynced writes on command, and
LazyFS, the one that does, is not in any package registry.

Usage: lossyfs.py <backing dir> <mount point>   (foreground; "cut" on stdin; fusermount3 -u to stop)
"""
import errno
import json
import os
import sys
import threading

import mfusepy as fuse


class Lossy(fuse.Operations):
    use_ns = True

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.synced = {}  # path -> length on disk at its last fsync
        self.mutex = threading.Lock()

    def _p(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def _track(self, path, length):
        with self.mutex:
            self.synced.setdefault(path, length)

    # --- what `sync` does, and the power cut ---
    def settle(self):
        # Everything written so far is on disk, as after the kernel's periodic writeback.
        with self.mutex:
            for path in list(self.synced):
                try:
                    self.synced[path] = os.path.getsize(self._p(path))
                except FileNotFoundError:
                    del self.synced[path]
        return {'settled': len(self.synced)}

    def power_cut(self):
        files = 0
        dropped = 0
        with self.mutex:
            for path, length in list(self.synced.items()):
                full = self._p(path)
                try:
                    size = os.path.getsize(full)
                except FileNotFoundError:
                    del self.synced[path]
                    continue
                if size > length:
                    os.truncate(full, length)
                    files += 1
                    dropped += size - length
        return {'cut': files, 'dropped': dropped}

    # --- files ---
    def getattr(self, path, fh=None):
        st = os.lstat(self._p(path)) if fh is None else os.fstat(fh)
        attrs = {k: getattr(st, k) for k in ('st_mode', 'st_nlink', 'st_size', 'st_uid', 'st_gid', 'st_blocks', 'st_ino')}
        return attrs | {'st_atime': st.st_atime_ns, 'st_mtime': st.st_mtime_ns, 'st_ctime': st.st_ctime_ns}

    def access(self, path, amode):
        if not os.access(self._p(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def create(self, path, mode, fi=None):
        fd = os.open(self._p(path), os.O_RDWR | os.O_CREAT | os.O_TRUNC, mode)
        with self.mutex:
            self.synced[path] = 0  # nothing of a new file is on disk until it is synced
        return fd

    def open(self, path, flags):
        fd = os.open(self._p(path), flags)
        self._track(path, os.fstat(fd).st_size)
        return fd

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is None:
            os.truncate(self._p(path), length)
        else:
            os.ftruncate(fh, length)
        with self.mutex:
            if path in self.synced:
                self.synced[path] = min(self.synced[path], length)
        return 0

    def fsync(self, path, datasync, fh):
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)
        with self.mutex:
            self.synced[path] = os.fstat(fh).st_size
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def utimens(self, path, times=None):
        os.utime(self._p(path), ns=times)
        return 0

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)
        return 0

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)
        return 0

    def statfs(self, path):
        st = os.statvfs(self._p(path))
        return {k: getattr(st, k) for k in ('f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail', 'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    # --- directories and names (durable at once in this model) ---
    def readdir(self, path, fh):
        return ['.', '..', *os.listdir(self._p(path))]

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)
        return 0

    def rmdir(self, path):
        os.rmdir(self._p(path))
        return 0

    def unlink(self, path):
        os.unlink(self._p(path))
        with self.mutex:
            self.synced.pop(path, None)
        return 0

    def rename(self, old, new):
        os.rename(self._p(old), self._p(new))
        with self.mutex:
            moved = {p: n for p, n in self.synced.items() if p == old or p.startswith(old + '/')}
            for p, n in moved.items():
                del self.synced[p]
                self.synced[new + p[len(old):]] = n
        return 0

    def link(self, target, source):
        os.link(self._p(source), self._p(target))
        return 0

    def symlink(self, target, source):
        os.symlink(source, self._p(target))
        return 0

    def readlink(self, path):
        return os.readlink(self._p(path))

    def fsyncdir(self, path, datasync, fh):
        return 0


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ops = Lossy(sys.argv[1])

    # Commands come on stdin, one per line, read by a thread of their own: the main thread
    # spends its life inside libfuse, where Python signal handlers would never run.
    def commands():
        for line in sys.stdin:
            if line.strip() == 'cut':
                print(json.dumps(ops.power_cut()), flush=True)
            elif line.strip() == 'sync':
                print(json.dumps(ops.settle()), flush=True)

    threading.Thread(target=commands, daemon=True).start()
    print(json.dumps({'mounted': sys.argv[2]}), flush=True)
    fuse.FUSE(ops, sys.argv[2], foreground=True, nothreads=False)


if __name__ == '__main__':
    main()
