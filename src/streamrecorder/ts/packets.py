"""Packet framing: find TS packets in raw bytes and whole-buffer views of their header bytes."""

import re
from typing import Dict, List, Optional, Tuple, Union

from ..errors import InvalidStreamError

TS_SIZE = 188
SYNC = 0x47
NULL_PID = 0x1FFF
# 188 plain TS, 192 M2TS (4-byte timecode before the sync byte), 204 (16-byte RS trailer).
PACKET_SIZES = (188, 192, 204)
# Consecutive sync bytes that must line up before a position counts as TS (fewer near the end).
CHAIN = 5
LOOKS_LIKE_TS_WINDOW = 8192
_TEXT_BYTES = bytes([9, 10, 13]) + bytes(range(0x20, 0x7F))
_NOT_TEXT = re.compile(rb"[^\t\n\r\x20-\x7e]")

Bytes = Union[bytes, bytearray, memoryview]


def _table(func) -> bytes:
    """A 256-byte translate table from a byte -> byte function."""
    return bytes(func(b) for b in range(256))


# Header byte 1 -> 1 where PUSI is set; header byte 3 -> 1 where an adaptation field is present.
PUSI_TABLE = _table(lambda b: 1 if b & 0x40 else 0)
AF_TABLE = _table(lambda b: 0xFF if b & 0x20 else 0)
_HI_TABLES: Dict[int, bytes] = {}
_LO_TABLES: Dict[int, bytes] = {}


def _syncs_ok(data: bytes, pos: int, size: int) -> bool:
    """True when `pos` starts a run of sync bytes `size` apart (as many as the data allows, max CHAIN)."""
    avail = (len(data) - pos - TS_SIZE) // size + 1
    if avail < 2:
        return False
    count = min(CHAIN, avail)
    return data[pos:pos + (count - 1) * size + 1:size] == b"\x47" * count


def _chain_ok(data: bytes, pos: int, size: int) -> bool:
    """A sync chain whose packets are not plain text."""
    # Text with fixed-length lines (a playlist, an HTML table) can repeat "G" at the packet
    # stride; real packets always hold bytes that are not printable text (headers, PES, video).
    return _syncs_ok(data, pos, size) and _NOT_TEXT.search(data, pos, pos + CHAIN * size) is not None


def _find_sync(data: bytes, pos: int, prefer: Optional[int] = None) -> Optional[Tuple[int, int]]:
    """First (offset of a sync byte, packet size) at or after `pos` that starts a sync chain."""
    sizes = PACKET_SIZES if prefer is None else (prefer,) + tuple(s for s in PACKET_SIZES if s != prefer)
    widest = CHAIN * max(PACKET_SIZES)
    pos = data.find(b"\x47", pos)
    while pos >= 0:
        binary = None
        for size in sizes:
            if not _syncs_ok(data, pos, size):
                continue
            if binary is None:
                binary = _NOT_TEXT.search(data, pos)
                if binary is None:
                    return None  # only text from here on
            if binary.start() < pos + CHAIN * size:
                if size == 192:
                    # The 4-byte M2TS timecode may hold 0x47 in every packet (its top byte
                    # changes slowly): the sync byte is the last chain start in that window.
                    pos = next(p for p in range(pos + 4, pos - 1, -1) if _chain_ok(data, p, 192))
                return pos, size
        # Inside a stretch of text no chain can start before it nears the next binary byte.
        skip = binary.start() - widest if binary is not None else 0
        pos = data.find(b"\x47", max(pos + 1, skip))
    return None


def _single_packet(data: bytes) -> bool:
    """A buffer holding exactly one packet (too short for a sync chain) that starts with a sync byte."""
    return (TS_SIZE <= len(data) < 2 * TS_SIZE and data[0] == SYNC
            and bool(data[:TS_SIZE].translate(None, _TEXT_BYTES)))


def looks_like_ts(data: Bytes) -> bool:
    """Cheap check on the first few KB: does this look like an MPEG transport stream?"""
    try:
        head = bytes(data[:LOOKS_LIKE_TS_WINDOW])
    except (TypeError, ValueError):
        return False
    return _single_packet(head) or _find_sync(head, 0) is not None


def align(data: Bytes, in_place: bool = False) -> bytearray:
    """Return the 188-byte packets found in `data` (188/192/204 framing, junk skipped, resynced).

    in_place=True with a bytearray that holds plain 188-byte packets from its first sync byte
    on (what HLS segments are): no copy, `data` itself is returned, with junk before the first
    packet and a cut last packet removed from it. Anything else is copied as usual.
    """
    if not isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data)
        except (TypeError, ValueError) as exc:
            raise InvalidStreamError("not an MPEG transport stream (%s)" % type(data).__name__) from exc
    if _single_packet(data):
        return bytearray(data[:TS_SIZE])
    if in_place and isinstance(data, bytearray) and _trim_plain(data):
        return data
    view = memoryview(data)
    out = bytearray()
    last_start = -1  # input offset of the last packet copied to `out`
    found = _find_sync(data, 0)
    if found is None:
        raise InvalidStreamError("not an MPEG transport stream (no sync bytes found)")
    while found is not None:
        pos, size = found
        if 0 <= last_start and pos < last_start + TS_SIZE and out:
            # The new chain starts inside the packet copied last: that packet was cut short.
            del out[-TS_SIZE:]
        count = (len(data) - pos - TS_SIZE) // size + 1
        if size == TS_SIZE:
            # Copy first, then check the sync bytes of the copy while it is still in cache.
            start = len(out)
            if start:
                out += view[pos:pos + count * TS_SIZE]
            else:
                out = bytearray(view[pos:pos + count * TS_SIZE])
            good = count - len(out[start::TS_SIZE].lstrip(b"\x47"))
            if good < count:
                del out[start + good * TS_SIZE:]
        else:
            syncs = data[pos:pos + (count - 1) * size + 1:size]
            good = count - len(syncs.lstrip(b"\x47"))
            # M2TS / 204-byte framing: the 188 bytes from each sync byte, framing bytes dropped.
            out += b"".join([view[p:p + TS_SIZE] for p in range(pos, pos + good * size, size)])
        if good == count:
            break
        last_start = pos + (good - 1) * size
        found = _find_sync(data, last_start + 1, size)
    return out


def _trim_plain(data: bytearray) -> bool:
    """When data is plain 188-byte packets from its first sync chain to its end: cut what
    comes before and a partial last packet off (in place) and return True."""
    found = _find_sync(data, 0)
    if found is None or found[1] != TS_SIZE:
        return False
    pos = found[0]
    count = (len(data) - pos) // TS_SIZE
    if data[pos:pos + count * TS_SIZE:TS_SIZE].lstrip(b"\x47"):
        return False  # junk or a cut packet inside: the copying path resyncs
    del data[pos + count * TS_SIZE:]
    del data[:pos]
    return True


def header_bytes(buf: Bytes, index: int) -> bytes:
    """Byte `index` (0-3 header, 4+ adaptation field) of every packet in an aligned buffer."""
    return bytes(buf[index::TS_SIZE])


def _hi_table(pid_hi: int) -> bytes:
    table = _HI_TABLES.get(pid_hi)
    if table is None:
        table = _HI_TABLES[pid_hi] = _table(lambda b: 0xFF if b & 0x1F == pid_hi else 0)
    return table


def _lo_table(pid_lo: int) -> bytes:
    table = _LO_TABLES.get(pid_lo)
    if table is None:
        table = _LO_TABLES[pid_lo] = _table(lambda b: 0xFF if b == pid_lo else 0)
    return table


def to_int(data: bytes) -> int:
    """Bytes as one big integer: Python's bignum ops then work like SIMD over all packets."""
    return int.from_bytes(data, "big")


def pid_mask(hi: bytes, lo: bytes, pid: int) -> int:
    """Per-packet mask (0xFF byte where the packet has `pid`) as a big integer."""
    return to_int(hi.translate(_hi_table(pid >> 8))) & to_int(lo.translate(_lo_table(pid & 0xFF)))


def packet_pid(buf: Bytes, index: int) -> int:
    """PID of packet number `index`."""
    off = index * TS_SIZE
    return ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]


def _distinct(data: bytes, limit: int) -> Optional[List[int]]:
    """Distinct byte values in order of first appearance (None when more than `limit`)."""
    values = []
    while data:
        value = data[0]
        values.append(value)
        if len(values) > limit:
            return None
        data = data.translate(None, bytes((value,)))  # C-speed delete; the rest shrinks fast
    return values


class PidIndex:
    """Each packet's PID as one key byte, so per-PID work is translate/find over one string."""

    def __init__(self, keys: bytes, pids: List[int], key_of: Dict[int, int]) -> None:
        self.keys = keys  # one byte per packet
        self.pids = pids  # in order of first appearance
        self.key_of = key_of  # PID -> key byte

    @classmethod
    def build(cls, hi: bytes, lo: bytes) -> Optional["PidIndex"]:
        """Index the packets by PID; None when the PIDs are too many to key in one byte."""
        n = len(hi)
        hi_raw = _distinct(hi, 255)
        lo_values = _distinct(lo, 255)
        if hi_raw is None or lo_values is None:
            return None
        hi_values = list(dict.fromkeys(b & 0x1F for b in hi_raw))
        if len(hi_values) * len(lo_values) > 256:
            return None
        nlo = len(lo_values)
        hi_code = {v: i * nlo for i, v in enumerate(hi_values)}
        lo_code = {v: i for i, v in enumerate(lo_values)}
        hi_table = _table(lambda b: hi_code.get(b & 0x1F, 0))
        lo_table = _table(lambda b: lo_code.get(b, 0))
        if len(hi_values) == 1:
            keys = lo.translate(lo_table)
        elif nlo == 1:
            keys = hi.translate(hi_table)
        else:
            # Codes never carry into the next byte (sum < 256): one addition keys every packet.
            keys = (to_int(hi.translate(hi_table)) + to_int(lo.translate(lo_table))).to_bytes(n, "big")
        pids = []
        key_of = {}
        for key in _distinct(keys, 256) or ():
            pid = (hi_values[key // nlo] << 8) | lo_values[key % nlo]
            pids.append(pid)
            key_of[pid] = key
        return cls(keys, pids, key_of)

    def first(self, pid: int) -> int:
        """Index of the PID's first packet (-1 if absent)."""
        key = self.key_of.get(pid)
        return -1 if key is None else self.keys.find(bytes((key,)))

    def last(self, pid: int) -> int:
        """Index of the PID's last packet (-1 if absent)."""
        key = self.key_of.get(pid)
        return -1 if key is None else self.keys.rfind(bytes((key,)))

    def indices(self, pid: int) -> List[int]:
        """Indices of all packets of a PID (meant for rare PIDs such as PAT/PMT)."""
        return self.indices_from(pid, 0)

    def indices_from(self, pid: int, start: int) -> List[int]:
        """Indices of the packets of a PID from packet `start` on."""
        key = self.key_of.get(pid)
        if key is None:
            return []
        needle = bytes((key,))
        keys = self.keys
        result = []
        i = keys.find(needle, start)
        while i >= 0:
            result.append(i)
            i = keys.find(needle, i + 1)
        return result

    def per_packet(self, values: Dict[int, int], default: int = 0) -> bytes:
        """One byte per packet: values[pid] for the packets of that PID, else default."""
        table = bytearray((default,)) * 256
        for pid, value in values.items():
            key = self.key_of.get(pid)
            if key is not None:
                table[key] = value
        return self.keys.translate(bytes(table))


def pusi_indices(hi: bytes) -> List[int]:
    """Indices of the packets that start a PES packet or a PSI section."""
    flags = hi.translate(PUSI_TABLE)
    result = []
    i = flags.find(b"\x01")
    while i >= 0:
        result.append(i)
        i = flags.find(b"\x01", i + 1)
    return result


def pcr_candidates(buf: Bytes, b3: Optional[bytes] = None) -> List[int]:
    """Indices of packets whose adaptation field has the PCR flag (b3: header byte 3 of all)."""
    if b3 is None:
        b3 = header_bytes(buf, 3)
    marks = b3.translate(AF_TABLE)  # AF packets are few: ends of PES packets, PCR carriers
    result = []
    i = marks.find(b"\xff")
    while i >= 0:
        off = i * TS_SIZE
        if buf[off + 4] and buf[off + 5] & 0x10:
            result.append(i)
        i = marks.find(b"\xff", i + 1)
    return result


def payload_offset(buf: Bytes, off: int) -> int:
    """Offset of the payload of the packet at byte `off`, or -1 when it has none."""
    afc = (buf[off + 3] >> 4) & 3
    if not afc & 1:
        return -1
    if afc == 3:
        start = off + 5 + buf[off + 4]
        return start if start < off + TS_SIZE else -1
    return off + 4
