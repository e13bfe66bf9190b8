"""The one ISO BMFF box parser: top-level boxes as bytes arrive (is it an MP4, does moov
precede mdat?), the tracks of an fMP4 init section, and a look at a media file's first bytes."""

import logging
import struct
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from .errors import InvalidStreamError
from .mediacodecs import ENCRYPTED_ENTRIES, codec_family

log = logging.getLogger(__name__)

# Box types that may open an MP4/QuickTime file; anything else (HTML, JSON) is not one.
FIRST_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"styp",
               b"sidx", b"moof", b"uuid", b"junk", b"pnot"}
RUNS_TO_END = 1 << 62


def box_header(data: bytes, pos: int = 0,
               end: Optional[int] = None) -> Optional[Tuple[int, bytes, int]]:
    """(size, type, header length) of the box at data[pos:end]; None until enough bytes are there.

    size 0 (the box runs to the end of the file) comes back as RUNS_TO_END."""
    end = len(data) if end is None else end
    if end - pos < 8:
        return None
    size, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if size == 1:
        if end - pos < 16:
            return None
        return struct.unpack(">Q", data[pos + 8:pos + 16])[0], kind, 16
    return (RUNS_TO_END if size == 0 else size), kind, 8


def iter_boxes(data: bytes, start: int, end: int) -> Iterator[Tuple[bytes, int, int]]:
    """(type, payload start, box end) of the whole boxes in data[start:end]."""
    pos = start
    while pos < end:
        header = box_header(data, pos, end)
        if header is None:
            return
        size, kind, length = header
        if size == RUNS_TO_END:
            size = end - pos
        if size < length or pos + size > end:
            return
        yield kind, pos + length, pos + size
        pos += size


def child(data: bytes, start: int, end: int, kind: bytes) -> Optional[Tuple[int, int]]:
    """(payload start, end) of the first `kind` box in data[start:end]."""
    for found, payload, box_end in iter_boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


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
        if len(self._hdr) >= 8 and self.next_box == 0 and self._hdr[4:8] not in FIRST_BOXES:
            raise InvalidStreamError("the server did not send an MP4 file (starts with %r)"
                                     % bytes(self._hdr[:8]))
        header = box_header(self._hdr)
        if header is None:
            return False
        size, kind, length = header
        if size < length:
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


# --- init sections ------------------------------------------------------------------------------

@dataclass
class Track:
    handler: str          # 'vide', 'soun', 'text', ...
    fourcc: str           # sample entry type: avc1, hvc1, mp4a, encv, ...
    family: Optional[str]
    encrypted: bool = False


def _descriptor(data: bytes, pos: int, end: int) -> Optional[Tuple[int, int, int]]:
    """(tag, payload start, payload end) of an MPEG-4 descriptor (ISO 14496-1 expandable size)."""
    if pos >= end:
        return None
    tag, pos, size = data[pos], pos + 1, 0
    for _ in range(4):
        if pos >= end:
            return None
        byte = data[pos]
        pos += 1
        size = (size << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return tag, pos, min(end, pos + size)


def _mp4a_oti(data: bytes, entry_start: int, entry_end: int) -> Optional[int]:
    """objectTypeIndication from an mp4a sample entry's esds (0x40 AAC, 0x6B/0x69 MP3...)."""
    esds = child(data, entry_start + 28, entry_end, b"esds")
    if esds is None:
        return None
    es = _descriptor(data, esds[0] + 4, esds[1])
    if es is None or es[0] != 0x03 or es[1] + 3 > es[2]:
        return None
    pos = es[1] + 2
    flags = data[pos]
    pos += 1
    if flags & 0x80:
        pos += 2
    if flags & 0x40 and pos < es[2]:
        pos += 1 + data[pos]
    if flags & 0x20:
        pos += 2
    config = _descriptor(data, pos, es[2])
    if config is None or config[0] != 0x04 or config[1] >= config[2]:
        return None
    return data[config[1]]


def init_tracks(data: bytes) -> List[Track]:
    """Tracks of an fMP4 init section (moov/trak/mdia/{hdlr, minf/stbl/stsd}); [] if unreadable."""
    try:
        return _init_tracks(data)
    except (struct.error, IndexError, ValueError):
        log.debug("unreadable init section", exc_info=True)
        return []


def _sample_entry(data: bytes, mdia: Tuple[int, int]) -> Optional[Tuple[bytes, int, int]]:
    minf = child(data, mdia[0], mdia[1], b"minf")
    stbl = child(data, minf[0], minf[1], b"stbl") if minf else None
    stsd = child(data, stbl[0], stbl[1], b"stsd") if stbl else None
    if stsd is None:
        return None
    return next(iter_boxes(data, stsd[0] + 8, stsd[1]), None)


def _init_tracks(data: bytes) -> List[Track]:
    tracks: List[Track] = []
    moov = child(data, 0, len(data), b"moov")
    if moov is None:
        return tracks
    for kind, start, end in iter_boxes(data, *moov):
        mdia = child(data, start, end, b"mdia") if kind == b"trak" else None
        entry = _sample_entry(data, mdia) if mdia else None
        if mdia is None or entry is None:
            continue
        hdlr = child(data, mdia[0], mdia[1], b"hdlr")
        handler = data[hdlr[0] + 8:hdlr[0] + 12].decode("latin-1") if hdlr else "?"
        fourcc = entry[0].decode("latin-1")
        family = codec_family(fourcc)
        if fourcc == "mp4a":
            oti = _mp4a_oti(data, entry[1], entry[2])
            family = codec_family("mp4a.%02x" % oti if oti is not None else "mp4a")
        tracks.append(Track(handler, fourcc, family, fourcc in ENCRYPTED_ENTRIES))
    return tracks


def moov_end(data: bytes, start: int = 0) -> Optional[int]:
    """How many bytes from `start` hold a leading moov box: its end; -1 when none leads there
    (mdat or moof first, or not an MP4 at all); None while more bytes are needed to tell."""
    pos = start
    while True:
        header = box_header(data, pos)
        if header is None:
            return None
        size, kind, length = header
        if kind == b"moov":
            return pos - start + size
        if (pos == start and kind not in FIRST_BOXES) or kind in (b"mdat", b"moof") \
                or size < length or size == RUNS_TO_END:
            return -1
        pos += size


def check_media_start(data: bytes, what: str) -> str:
    """'mp4', 'ts' or 'audio' for a plausible init section / first segment; else invalid_stream."""
    if data[:1] == b"\x47":
        return "ts"
    if len(data) >= 8 and data[4:8] in FIRST_BOXES:
        return "mp4"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xF0 == 0xF0):
        return "audio"
    head = bytes(data[:64]).decode("latin-1").strip().lower()
    kind = "an HTML page" if head.startswith("<") else "%d bytes of something else" % len(data)
    raise InvalidStreamError("the %s is not media (the server sent %s)" % (what, kind))
