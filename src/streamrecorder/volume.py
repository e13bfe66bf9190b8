"""The file system under rec_dir: free space against a reserve, and its file size limit."""

import logging
import os
import time
from typing import Any, Callable, List, Optional, Tuple

from . import files
from .errors import DiskFullError

log = logging.getLogger(__name__)

DEFAULT_RESERVE = 500_000_000
# File systems without large-file support: a file ends at 4 GiB - 1 (FAT32; exFAT drivers on
# receivers are often FUSE or old kernel modules that refuse more too).
SMALL_FILE_FS = frozenset(("vfat", "msdos", "fat", "umsdos", "exfat"))
FAT_LIMIT = (4 << 30) - 1
# statvfs can be slow on network mounts: ask again after this much data or time...
CHECK_BYTES = 4 << 20
CHECK_SECONDS = 2.0
# ...but every time once free space is this close to the reserve.
NEAR_MARGIN = 64 << 20


def _unescape(field: str) -> str:
    """A /proc/mounts field: spaces, tabs, newlines and backslashes arrive as octal escapes."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        digits = field[i + 1:i + 4]
        if field[i] == "\\" and len(digits) == 3 and all(c in "01234567" for c in digits):
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def read_mounts(mounts_file: str) -> List[Tuple[str, str]]:
    """(mount point, fs type) pairs of a /proc/mounts style file; [] when it cannot be read."""
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((_unescape(parts[1]), parts[2]))
    return mounts


def fs_type_of(path: str, mounts: List[Tuple[str, str]]) -> Optional[str]:
    """Type of the mount that holds path: the longest mount point that is a prefix of it."""
    best, best_len = None, -1
    for point, kind in mounts:
        norm = point.rstrip("/") or "/"
        inside = path == norm or path.startswith(norm if norm == "/" else norm + "/")
        # ">=": a later mount on the same point hides the earlier one
        if inside and len(norm) >= best_len:
            best, best_len = kind, len(norm)
    return best


def megabytes(value: int) -> str:
    return "%d MB" % (value // 1_000_000)


class Volume:
    """Free space and file size limit of the file system rec_dir lives on."""

    def __init__(self, path: str, reserve_bytes: int = DEFAULT_RESERVE,
                 statvfs: Callable[[str], Any] = os.statvfs, mounts_file: str = "/proc/mounts",
                 max_file_bytes: Optional[int] = -1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = os.path.realpath(path)
        self.reserve_bytes = max(0, int(reserve_bytes or 0))
        self._statvfs = statvfs
        self._clock = clock
        self.fs_type = fs_type_of(self.path, read_mounts(mounts_file))
        if max_file_bytes == -1:  # not given: from the file system type
            max_file_bytes = FAT_LIMIT if self.fs_type in SMALL_FILE_FS else None
        self.max_file_bytes = max_file_bytes
        self._free: Optional[int] = None
        self._since_check = 0
        self._checked_at = 0.0

    def free_bytes(self) -> int:
        """Bytes an ordinary user may still write (f_bavail), asked of the file system now."""
        st = self._statvfs(self.path)
        self._free = int(st.f_bavail) * int(st.f_frsize or st.f_bsize)
        self._since_check = 0
        self._checked_at = self._clock()
        return self._free

    def _due(self, upcoming: int) -> bool:
        if self._free is None:
            return True
        if self._since_check + upcoming >= CHECK_BYTES:
            return True
        if self._clock() - self._checked_at >= CHECK_SECONDS:
            return True
        # the estimate (last answer minus what we wrote since) comes near the reserve
        return self._free - self._since_check - upcoming < self.reserve_bytes + NEAR_MARGIN

    def check(self, upcoming_bytes: int = 0, reclaimable: int = 0) -> None:
        """Raise DiskFullError when writing upcoming_bytes would eat into the reserve.

        reclaimable: bytes about to be freed (the previous recording, before a new one starts).
        """
        if not self.reserve_bytes:
            return
        if reclaimable or self._due(upcoming_bytes):
            try:
                self.free_bytes()
            except OSError as exc:
                log.warning("cannot read free space of %s: %s", self.path, exc.strerror)
                return
        free = (self._free or 0) - self._since_check + reclaimable
        if free - upcoming_bytes < self.reserve_bytes:
            note = "" if free < self.reserve_bytes else " (the next %d KB would not fit)" % (
                upcoming_bytes // 1000)
            raise DiskFullError("only %s free on %s, keeping %s free%s" % (
                megabytes(max(0, free)), self.path, megabytes(self.reserve_bytes), note))

    def wrote(self, count: int) -> None:
        """Count bytes written since the last statvfs (for the throttled estimate)."""
        self._since_check += count

    def fits(self, file_size: int, upcoming_bytes: int) -> bool:
        """Does a file of file_size bytes stay within the size limit after upcoming_bytes more?"""
        return self.max_file_bytes is None or file_size + upcoming_bytes <= self.max_file_bytes


VolumeFactory = Callable[[str, int], Volume]


def open_volume(rec_dir: str, reserve_bytes: int, factory: Optional[VolumeFactory] = None,
                reclaim_old: bool = True) -> Volume:
    """The Volume of rec_dir (factory: a test's fake file system), checked before a recording:
    the previous recording's files count as free, cleanup removes them before anything is
    written (reclaim_old=False: a continued recording, which keeps them)."""
    volume = (factory or Volume)(rec_dir, reserve_bytes)
    old = 0
    for path in files.owned_files(rec_dir) if reclaim_old else ():
        try:
            old += os.lstat(path).st_size
        except OSError:
            pass
    volume.check(0, reclaimable=old)
    if volume.max_file_bytes is not None:
        log.info("%s is on %s: files end before %d bytes", rec_dir, volume.fs_type or "?",
                 volume.max_file_bytes + 1)
    return volume
