"""The recording folder: which files the recorder owns, safe creation and cleanup."""

import errno
import logging
import os
import re
from typing import BinaryIO, List

from .errors import RecorderError

log = logging.getLogger(__name__)

# The recorder owns exactly these names in rec_dir (architecture.md), nothing else; the .cuts
# cue sheet is written by enigma2's player when it stops playing a section, stream_state.json
# is what a continued recording needs (state.py).
STATE_NAME = "stream_state.json"
OWNED_NAME = re.compile(r"(?:stream_\d+\.(?:ts|mp4)(?:\.ap|\.meta|\.cuts)?|stream_state\.json)\Z")
SECTION_NAME = re.compile(r"stream_(\d+)\.(?:ts|mp4)\Z")


def is_owned(name: str) -> bool:
    return bool(OWNED_NAME.match(name))


def prepare_rec_dir(rec_dir: str) -> str:
    """Create rec_dir if missing; a path that exists but is not a folder is a clear error."""
    if not rec_dir:
        raise RecorderError("no recording folder (rec_dir) given")
    path = os.path.abspath(os.path.expanduser(rec_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise RecorderError("recording folder %s exists but is not a folder" % path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise RecorderError("cannot create recording folder %s: %s" % (path, exc.strerror)) from None
    return path


def owned_files(rec_dir: str) -> List[str]:
    """Paths of the files in rec_dir that belong to the recorder, sorted."""
    try:
        names = os.listdir(rec_dir)
    except OSError:
        return []
    return sorted(os.path.join(rec_dir, n) for n in names if is_owned(n))


def next_section(rec_dir: str) -> int:
    """The section number after the highest stream_<n>.ts|.mp4 in rec_dir (0 when none)."""
    try:
        names = os.listdir(rec_dir)
    except OSError:
        return 0
    numbers = [int(m.group(1)) for m in map(SECTION_NAME.match, names) if m]
    return max(numbers) + 1 if numbers else 0


def cleanup(rec_dir: str) -> int:
    """Remove the previous recording's stream_<n> files and stream_state.json (links are
    unlinked, never followed)."""
    removed = 0
    for path in owned_files(rec_dir):
        if os.path.isdir(path) and not os.path.islink(path):
            continue
        try:
            os.unlink(path)
            removed += 1
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc.strerror)
    if removed:
        log.info("removed %d file(s) of the previous recording in %s", removed, rec_dir)
    return removed


def open_output(rec_dir: str, name: str) -> BinaryIO:
    """Create (truncate) an owned output file without following a symlink planted at its name."""
    if not is_owned(name):
        raise ValueError("not a recorder file name: %r" % name)
    path = os.path.join(rec_dir, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            os.unlink(path)
            fd = os.open(path, flags, 0o644)
        else:
            raise
    return os.fdopen(fd, "wb", buffering=0)


def write_all(out: BinaryIO, data: bytes) -> None:
    """Write every byte (an unbuffered file may take a write in parts)."""
    view = memoryview(data)
    while view:
        view = view[out.write(view):]
