"""enigma2's seeking index (.ap): big-endian (file offset, PTS) pairs, one per keyframe we mark.

enigma2's own recorder (lib/dvb/pvrparse.cpp) stores the offset of the TS packet that starts the
PES holding an I-frame/IDR, and that PES's 33-bit PTS; the player seeks and shows times with it.
"""

import os
import struct
from functools import lru_cache
from typing import BinaryIO, Iterator, List, Optional, Tuple

from .. import files
from .packets import TS_SIZE, payload_offset
from .timestamps import read_ts

ENTRY = struct.Struct(">QQ")
# The keyframe's NAL unit follows AUD, SPS, PPS and SEI: a few packets of the PES suffice.
NAL_SEARCH_PACKETS = 8
NAL_SEARCH_SPAN = 64  # packets of other PIDs interleaved within that PES start
H264_IDR = 5
HEVC_IRAP = range(16, 22)

AccessPoint = Tuple[int, int]  # (byte offset, PTS)


@lru_cache(maxsize=32)
def _pusi_table(pid_hi: int) -> bytes:
    """Header byte 1 -> 1 for PUSI packets whose PID high bits match (TEI and priority ignored)."""
    return bytes(1 if b & 0x40 and b & 0x1F == pid_hi and not b & 0x80 else 0 for b in range(256))


def _pes_pts(buf: bytes, off: int) -> Optional[Tuple[int, int]]:
    """(PTS, offset of the PES payload) of the PES starting in the packet at off, or None."""
    start = payload_offset(buf, off)
    end = off + TS_SIZE
    if start < 0 or start + 14 > end or buf[start:start + 3] != b"\x00\x00\x01":
        return None
    if not buf[start + 7] & 0x80:
        return None  # no PTS
    payload = start + 9 + buf[start + 8]
    return read_ts(buf, start + 9), min(payload, end)


def _random_access(buf: bytes, off: int) -> bool:
    return bool(buf[off + 3] & 0x20 and buf[off + 4] and buf[off + 5] & 0x40)


def _es_head(buf: bytes, off: int, payload: int, pid: int) -> bytes:
    """The start of the PES's elementary stream: this packet's payload and a few more of the PID."""
    parts = [bytes(buf[payload:off + TS_SIZE])]
    limit = min(len(buf), off + NAL_SEARCH_SPAN * TS_SIZE)
    pos = off + TS_SIZE
    while pos + TS_SIZE <= limit and len(parts) < NAL_SEARCH_PACKETS:
        if ((buf[pos + 1] & 0x1F) << 8 | buf[pos + 2]) == pid:
            if buf[pos + 1] & 0x40:
                break  # the next PES
            start = payload_offset(buf, pos)
            if start >= 0:
                parts.append(bytes(buf[start:pos + TS_SIZE]))
        pos += TS_SIZE
    return b"".join(parts)


def _nal_keyframe(es: bytes, codec: Optional[str]) -> Optional[bool]:
    """True/False from the first picture NAL unit found; None when none is in `es`."""
    pos = es.find(b"\x00\x00\x01")
    while 0 <= pos < len(es) - 3:
        head = es[pos + 3]
        if codec == "hevc":
            kind = (head >> 1) & 0x3F
            if kind < 32:  # VCL: a picture slice
                return kind in HEVC_IRAP
        else:
            kind = head & 0x1F
            if 1 <= kind <= 5:
                return kind == H264_IDR
        pos = es.find(b"\x00\x00\x01", pos + 3)
    return None


def _pes_starts(buf: bytes, pid: int) -> Iterator[Tuple[int, int, int]]:
    """(offset, PTS, payload offset) of each PES start with a PTS of `pid` in aligned packets."""
    flags = bytes(buf[1::TS_SIZE]).translate(_pusi_table(pid >> 8))
    lo = pid & 0xFF
    i = flags.find(b"\x01")
    while i >= 0:
        off = i * TS_SIZE
        if buf[off + 2] == lo:
            found = _pes_pts(buf, off)
            if found is not None:
                yield off, found[0], found[1]
        i = flags.find(b"\x01", i + 1)


def _is_keyframe(buf: bytes, off: int, payload: int, pid: int, codec: Optional[str]) -> bool:
    return _random_access(buf, off) or bool(_nal_keyframe(_es_head(buf, off, payload, pid), codec))


def access_points(buf: bytes, pid: int, codec: Optional[str] = None) -> List[AccessPoint]:
    """(offset in buf, PTS) of every keyframe PES start of `pid` in aligned packets."""
    return [(off, pts) for off, pts, payload in _pes_starts(buf, pid)
            if _is_keyframe(buf, off, payload, pid, codec)]


def first_access_point(buf: bytes, pid: int, codec: Optional[str] = None) -> Optional[AccessPoint]:
    """(offset in buf, PTS) of the first keyframe PES start of `pid` in aligned packets.

    A keyframe is marked by random_access_indicator or an IDR/IRAP NAL unit; a buffer where
    neither marks any picture falls back to the first PES with a PTS.
    """
    fallback = None
    for off, pts, payload in _pes_starts(buf, pid):
        if fallback is None:
            fallback = (off, pts)
        if _is_keyframe(buf, off, payload, pid, codec):
            return off, pts
    return fallback


class ApWriter:
    """Appends entries to <section file>.ap; each one written whole and unbuffered."""

    def __init__(self, rec_dir: str, media_name: str) -> None:
        self.path = os.path.join(rec_dir, media_name + ".ap")
        self._out: Optional[BinaryIO] = files.open_output(rec_dir, media_name + ".ap")
        self.entries = 0
        self._last_offset = -1

    def add(self, offset: int, pts: int) -> None:
        if self._out is None or offset <= self._last_offset:
            return  # enigma2 keeps one PTS per offset: entries go forward only
        files.write_all(self._out, ENTRY.pack(offset, pts))
        self._last_offset = offset
        self.entries += 1

    def cut(self, size: int) -> None:
        """Forget the entries at or past `size` (the media file was cut back there)."""
        if self._out is None or self._last_offset < size:
            return
        kept = [e for e in read_ap(self.path) if e[0] < size]
        self._out.seek(0)
        self._out.truncate(0)
        for offset, pts in kept:
            files.write_all(self._out, ENTRY.pack(offset, pts))
        self.entries = len(kept)
        self._last_offset = kept[-1][0] if kept else -1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def last_pes_start(buf: bytes, pid: int) -> Optional[int]:
    """Offset of the last packet of `pid` that starts a PES in aligned packets, or None."""
    flags = bytes(buf[1::TS_SIZE]).translate(_pusi_table(pid >> 8))
    lo = pid & 0xFF
    i = flags.rfind(b"\x01")
    while i >= 0:
        if buf[i * TS_SIZE + 2] == lo:
            return i * TS_SIZE
        i = flags.rfind(b"\x01", 0, i)
    return None


def read_ap(path: str) -> List[AccessPoint]:
    """The (offset, PTS) entries of an .ap file (a torn last entry is ignored)."""
    with open(path, "rb") as f:
        data = f.read()
    usable = len(data) - len(data) % ENTRY.size
    return [ENTRY.unpack_from(data, pos) for pos in range(0, usable, ENTRY.size)]
