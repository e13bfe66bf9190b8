"""Follows top-level MP4 boxes as bytes arrive: is it an MP4, and does moov precede mdat?"""

import struct
from typing import Optional

from .errors import InvalidStreamError

# Box types that may open an MP4/QuickTime file; anything else (HTML, JSON) is not one.
FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"styp",
               b"sidx", b"moof", b"uuid", b"junk", b"pnot"}


class TopLevelBoxes:
    """Incremental top-level box scanner; state is 'scanning', 'moov_first' or 'mdat_first'."""

    def __init__(self) -> None:
        self.pos = 0
        self.next_box = 0
        self.state = "scanning"
        self.moov_start: Optional[int] = None
        self.moov_end: Optional[int] = None
        self._hdr = b""

    def feed(self, chunk: bytes) -> None:
        """Account for the next bytes of the file; raises InvalidStreamError if not an MP4."""
        base = self.pos
        self.pos += len(chunk)
        while self.state == "scanning" and self.next_box < self.pos:
            rel = self.next_box - base
            if rel >= 0:
                self._hdr = bytes(chunk[rel:rel + 16])
            else:
                self._hdr += bytes(chunk[:16 - len(self._hdr)])
            if not self._box_header_complete():
                return

    def _box_header_complete(self) -> bool:
        hdr = self._hdr
        if len(hdr) < 8:
            return False
        size, kind = struct.unpack(">I4s", hdr[:8])
        if self.next_box == 0 and kind not in FIRST_BOXES:
            raise InvalidStreamError("the server did not send an MP4 file (starts with %r)"
                                     % bytes(hdr[:8]))
        if size == 1:
            if len(hdr) < 16:
                return False
            size = struct.unpack(">Q", hdr[8:16])[0]
        elif size == 0:
            size = 1 << 62  # box runs to the end of the file
        if size < 8:
            raise InvalidStreamError("corrupt MP4 box at offset %d" % self.next_box)
        if kind == b"moov":
            self.state = "moov_first"
            self.moov_start = self.next_box
            self.moov_end = self.next_box + size
        elif kind == b"mdat":
            self.state = "mdat_first"
        self.next_box += size
        self._hdr = b""
        return True


def mvhd_duration(path: str, moov_start: int) -> Optional[float]:
    """Movie duration in seconds from the mvhd box that opens moov, or None."""
    try:
        with open(path, "rb") as f:
            f.seek(moov_start + 8)
            head = f.read(40)
    except OSError:
        return None
    if len(head) < 40 or head[4:8] != b"mvhd":
        return None
    version = head[8]
    if version == 1:
        timescale, duration = struct.unpack(">IQ", head[28:40])
    else:
        timescale, duration = struct.unpack(">II", head[20:28])
    return duration / timescale if timescale else None
