"""Where recordings go: the automatic folder on mounted storage, never a RAM disk.

Everything here touches the disk (statvfs on a sleeping hard disk can take seconds), so it runs
on a worker thread (`threads.deferToThread`), never on the reactor thread.
"""

import os
from typing import List, Optional, Sequence, Tuple

# Patched by tests; the real values are the receiver's.
MEDIA_ROOTS: Sequence[str] = ("/media/hdd", "/media/usb")
MOUNTS_FILE = "/proc/mounts"
RAM_FILESYSTEMS = ("tmpfs", "ramfs", "devtmpfs")
# /tmp is a RAM disk on receivers even when /proc/mounts cannot tell (e.g. inside a chroot).
RAM_PATHS: Sequence[str] = ("/tmp", "/var/volatile", "/dev/shm", "/run")
FOLDER_NAME = "streamrecorder"
MIN_FREE_BYTES = 256 << 20


class StorageError(Exception):
    """No usable recording folder; `kind` is "none", "ram" or "unwritable"."""

    def __init__(self, kind: str, path: str = "", detail: str = "") -> None:
        super().__init__("%s: %s %s" % (kind, path, detail))
        self.kind = kind
        self.path = path
        self.detail = detail


def read_mounts(mounts_file: Optional[str] = None) -> List[Tuple[str, str]]:
    """(mount point, file system type) pairs."""
    result = []
    try:
        with open(mounts_file or MOUNTS_FILE, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    # /proc/mounts escapes blanks in paths as \040.
                    result.append((fields[1].replace("\\040", " "), fields[2]))
    except OSError:
        pass
    return result


def mount_of(path: str, mounts: Optional[List[Tuple[str, str]]] = None) -> Tuple[str, str]:
    """The mount (point, fs type) holding path: the longest mount point that is a prefix."""
    real = os.path.realpath(path)
    best = ("/", "")
    for point, fstype in mounts if mounts is not None else read_mounts():
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, fstype)
    return best


def _under(path: str, folders: Sequence[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == f or real.startswith(f.rstrip("/") + "/") for f in folders)


def is_ram(path: str, mounts: Optional[List[Tuple[str, str]]] = None) -> bool:
    """True when path lies in RAM (tmpfs, /tmp): a recording there eats the receiver's memory."""
    return _under(path, RAM_PATHS) or mount_of(path, mounts)[1] in RAM_FILESYSTEMS


def free_bytes(path: str) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def find_default(roots: Optional[Sequence[str]] = None) -> Optional[str]:
    """A streamrecorder folder on the first mounted hard disk/USB storage with free space."""
    mounts = read_mounts()
    for root in roots if roots is not None else MEDIA_ROOTS:
        if not os.path.isdir(root):
            continue
        point, fstype = mount_of(root, mounts)
        if point == "/" or is_ram(root, mounts):
            continue  # the folder exists but nothing is mounted there: it is the flash root
        if free_bytes(root) >= MIN_FREE_BYTES:
            return os.path.join(root, FOLDER_NAME)
    return None


def prepare_folder(configured: Optional[str]) -> str:
    """The recording folder to use, created if needed; StorageError when there is none."""
    path = configured or find_default()
    if not path:
        raise StorageError("none")
    if is_ram(path):
        raise StorageError("ram", path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise StorageError("unwritable", path, exc.strerror or str(exc)) from None
    if not os.access(path, os.W_OK):
        raise StorageError("unwritable", path)
    return path
