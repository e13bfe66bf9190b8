"""PTS/DTS/PCR: find them in aligned packets, summarise them per stream, shift them in place."""

from typing import Dict, Iterable, List, Optional

from .packets import NULL_PID, TS_SIZE, PidIndex, payload_offset

CLOCK = 90000
WRAP = 1 << 33
MASK33 = WRAP - 1
HALF = 1 << 32
# PES stream ids without the optional header (so without PTS/DTS), ISO/IEC 13818-1 2.4.3.7.
NO_PES_HEADER = {0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF}
ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
DEFAULT_FRAME = {"v": 3600, "a": 1920}  # 25 fps video, 1024-sample AAC at 48 kHz


def diff(a: int, b: int) -> int:
    """a - b for 33-bit timestamps, taking the wrap into account (result in [-2**32, 2**32))."""
    return ((a - b + HALF) & MASK33) - HALF


def read_ts(buf: bytearray, pos: int) -> int:
    """The 33-bit value of a 5-byte PTS/DTS field."""
    return (((buf[pos] >> 1) & 7) << 30 | buf[pos + 1] << 22 | (buf[pos + 2] >> 1) << 15
            | buf[pos + 3] << 7 | buf[pos + 4] >> 1)


def write_ts(buf: bytearray, pos: int, value: int) -> None:
    """Store a 33-bit value into a PTS/DTS field, keeping its 4-bit prefix, marker bits set."""
    buf[pos:pos + 5] = bytes((
        (buf[pos] & 0xF0) | ((value >> 29) & 0x0E) | 1,
        (value >> 22) & 0xFF,
        ((value >> 14) & 0xFE) | 1,
        (value >> 7) & 0xFF,
        ((value << 1) & 0xFE) | 1,
    ))


def read_pcr(buf: bytearray, pos: int) -> int:
    """The 33-bit 90 kHz base of a PCR/OPCR field at byte `pos`."""
    return (buf[pos] << 25 | buf[pos + 1] << 17 | buf[pos + 2] << 9 | buf[pos + 3] << 1
            | buf[pos + 4] >> 7)


def write_pcr(buf: bytearray, pos: int, base: int) -> None:
    """Store a new PCR base; the reserved bits and the 27 MHz extension stay as they are."""
    buf[pos:pos + 5] = bytes((
        (base >> 25) & 0xFF,
        (base >> 17) & 0xFF,
        (base >> 9) & 0xFF,
        (base >> 1) & 0xFF,
        ((base & 1) << 7) | (buf[pos + 4] & 0x7F),
    ))


class StreamTimes:
    """PES timestamps of one PID within a segment, relative to the segment's first timestamp."""

    __slots__ = ("kind", "pts", "first_dts", "sizes", "last_pusi", "last_payload", "last_duration",
                 "_frame")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # 'v' video, 'a' audio, 'o' other (metadata, subtitles)
        self.pts: List[int] = []
        self.first_dts: Optional[int] = None
        self.sizes: List[int] = []  # PES payload bytes, 0 when the PES length is unbounded
        self.last_pusi = -1  # packet index of the last PES start
        self.last_payload = -1  # byte offset of that PES's payload
        self.last_duration: Optional[int] = None  # exact duration of the last PES (ADTS audio)
        self._frame: Optional[int] = -1

    @property
    def start(self) -> int:
        """Earliest PTS."""
        return min(self.pts)

    @property
    def frame(self) -> Optional[int]:
        """Typical PTS step between PES packets (a frame, or an audio PES of several frames)."""
        if self._frame == -1:
            steps = sorted(set(self.pts))
            deltas = sorted(b - a for a, b in zip(steps, steps[1:]))
            self._frame = deltas[len(deltas) // 2] if deltas else None
        return self._frame

    def end(self, fallback: Optional[int] = None) -> int:
        """Where the stream ends: last PTS plus the duration of the last PES."""
        last = max(self.pts)
        if self.last_duration is not None and self.pts[-1] == last:
            return last + self.last_duration
        frame = self.frame or fallback or DEFAULT_FRAME.get(self.kind, 0)
        sizes = self.sizes
        if self.kind == "a" and len(sizes) > 1 and all(sizes) and self.pts[-1] == last:
            # Audio PES packets hold several frames and the last one is often short: scale the
            # typical duration per byte by the last PES's size.
            before = sum(sizes) - sizes[-1]
            span = last - min(self.pts)
            if span > 0:
                return last + min(span * sizes[-1] // before, 2 * frame)
        return last + frame


class SegmentTimes:
    """Every PTS/DTS/PCR of one segment: byte positions, raw values, per-stream summaries."""

    def __init__(self) -> None:
        self.t0: Optional[int] = None
        self.stamp_pos: List[int] = []  # PTS/DTS fields
        self.stamp_val: List[int] = []
        self.pcr_pos: List[int] = []  # PCR/OPCR fields
        self.pcr_val: List[int] = []
        self.pcr_first: Optional[int] = None  # PCR only (not OPCR), relative
        self.pcr_last: Optional[int] = None
        self.streams: Dict[int, StreamTimes] = {}

    def rel(self, value: int) -> int:
        """Value relative to the segment's first timestamp (wrap-safe)."""
        if self.t0 is None:
            self.t0 = value
        return diff(value, self.t0)

    def absolute(self, rel: int) -> int:
        """A relative value back on the 33-bit clock."""
        return ((self.t0 or 0) + rel) & MASK33

    def av(self) -> Dict[int, StreamTimes]:
        """Video and audio streams only: they define where a segment starts and ends."""
        return {pid: s for pid, s in self.streams.items() if s.kind != "o"}


def _kind(stream_id: int, pid: int, audio_pids: Iterable[int]) -> str:
    if 0xE0 <= stream_id <= 0xEF:
        return "v"
    if 0xC0 <= stream_id <= 0xDF or pid in audio_pids:
        return "a"
    return "o"


def scan(buf: bytearray, hi: bytes, lo: bytes, pusi: List[int], pcr_packets: List[int],
         es_pids: Optional[Iterable[int]] = None, audio_pids: Iterable[int] = (),
         pid_index: Optional[PidIndex] = None) -> SegmentTimes:
    """Collect the timestamps of PUSI packets (PES headers) and adaptation fields (PCR)."""
    times = SegmentTimes()
    wanted = set(es_pids) if es_pids is not None else None
    audio = set(audio_pids)
    streams = times.streams
    for index in pusi:
        pid = ((hi[index] & 0x1F) << 8) | lo[index]
        if (pid not in wanted) if wanted is not None else (pid < 0x20 or pid == NULL_PID):
            continue  # PSI/SI tables also start with PUSI; only elementary streams carry PES
        off = index * TS_SIZE
        afc = buf[off + 3] & 0x30
        if afc == 0x30:
            p = off + 5 + buf[off + 4]
        elif afc == 0x10:
            p = off + 4
        else:
            continue
        if p + 14 > off + TS_SIZE or buf[p] or buf[p + 1] or buf[p + 2] != 1:
            continue
        stream_id = buf[p + 3]
        if stream_id in NO_PES_HEADER or buf[p + 6] & 0xC0 != 0x80:
            continue
        flags = buf[p + 7] >> 6
        header_len = buf[p + 8]
        if flags == 2 and header_len >= 5:
            pts = read_ts(buf, p + 9)
            dts = None
        elif flags == 3 and header_len >= 10 and p + 19 <= off + TS_SIZE:
            pts = read_ts(buf, p + 9)
            dts = read_ts(buf, p + 14)
        else:
            continue
        st = streams.get(pid)
        if st is None:
            st = streams[pid] = StreamTimes(_kind(stream_id, pid, audio))
        rel = times.rel(pts)
        st.pts.append(rel)
        times.stamp_pos.append(p + 9)
        times.stamp_val.append(pts)
        if dts is not None:
            times.stamp_pos.append(p + 14)
            times.stamp_val.append(dts)
            if st.first_dts is None:
                st.first_dts = times.rel(dts)
        elif st.first_dts is None:
            st.first_dts = rel
        length = (buf[p + 4] << 8) | buf[p + 5]
        st.sizes.append(max(length - 3 - header_len, 0) if length else 0)
        st.last_pusi = index
        st.last_payload = p + 9 + header_len
    for index in pcr_packets:
        off = index * TS_SIZE
        af_len = buf[off + 4]
        if af_len < 7 or ((buf[off + 1] & 0x1F) << 8 | buf[off + 2]) == NULL_PID:
            continue
        pcr = read_pcr(buf, off + 6)
        times.pcr_pos.append(off + 6)
        times.pcr_val.append(pcr)
        times.pcr_last = times.rel(pcr)
        if times.pcr_first is None:
            times.pcr_first = times.pcr_last
        if buf[off + 5] & 0x08 and af_len >= 13:  # OPCR follows the PCR
            times.pcr_pos.append(off + 12)
            times.pcr_val.append(read_pcr(buf, off + 12))
    if pid_index is not None:
        for pid, st in streams.items():
            if st.kind == "a":
                st.last_duration = adts_duration(_last_pes(buf, pid_index, pid, st))
    return times


def _last_pes(buf: bytearray, index: PidIndex, pid: int, st: StreamTimes) -> bytes:
    """Payload bytes of the stream's last PES (its packets found through the PID index)."""
    chunks = [bytes(buf[st.last_payload:(st.last_pusi + 1) * TS_SIZE])]
    for i in index.indices_from(pid, st.last_pusi + 1):
        off = i * TS_SIZE
        start = payload_offset(buf, off)
        if start >= 0:
            chunks.append(bytes(buf[start:off + TS_SIZE]))
    return b"".join(chunks)


def adts_duration(payload: bytes) -> Optional[int]:
    """90 kHz duration of whole AAC ADTS frames in a PES payload; None if it is not ADTS."""
    pos = samples = 0
    rate = 0
    end = len(payload)
    while pos + 7 <= end:
        if payload[pos] != 0xFF or payload[pos + 1] & 0xF6 != 0xF0:
            break
        rate_index = (payload[pos + 2] >> 2) & 0x0F
        if rate_index >= len(ADTS_RATES):
            break
        rate = ADTS_RATES[rate_index]
        length = ((payload[pos + 3] & 3) << 11) | (payload[pos + 4] << 3) | (payload[pos + 5] >> 5)
        if length < 7:
            break
        samples += 1024 * ((payload[pos + 6] & 3) + 1)
        pos += length
    if not samples or pos < end - 7:  # trailing bytes that are not ADTS: do not trust the count
        return None
    return samples * CLOCK // rate


def shift(buf: bytearray, times: SegmentTimes, offset: int) -> None:
    """Add `offset` (mod 2**33) to every PTS, DTS, PCR and OPCR found by scan()."""
    offset &= MASK33
    if not offset:
        return
    for pos, value in zip(times.stamp_pos, times.stamp_val):
        write_ts(buf, pos, (value + offset) & MASK33)
    for pos, value in zip(times.pcr_pos, times.pcr_val):
        write_pcr(buf, pos, (value + offset) & MASK33)
