"""What a TS holds: program tables (PAT/PMT) and the video picture size from its SPS."""

from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from .packets import TS_SIZE, header_bytes, packet_pid, payload_offset, pusi_indices
from .sps import find_sps_size

PAT_PID = 0
VIDEO_CODECS = {0x1B: "h264", 0x24: "hevc"}
VIDEO_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24, 0x42, 0xD1, 0xEA}
AUDIO_TYPES = {0x03, 0x04, 0x0F, 0x11, 0x1C, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87}
# Private-data streams (type 0x06) that DVB marks as audio by descriptor: AC-3, E-AC-3, DTS, AAC.
AUDIO_DESCRIPTORS = {0x6A, 0x7A, 0x7B, 0x7C}
MAX_SECTION_PACKETS = 8  # a PSI section is at most 1024 bytes: 6 packets
MAX_PSI_TRIES = 32  # broken tables after that many copies: give up (bounds work on garbage)
SPS_SEARCH_PACKETS = 8  # SPS sits right after the AUD at the start of a keyframe's PES


class StreamInfo:
    """Program of a TS as its PAT/PMT describe it: PIDs and stream types."""

    def __init__(self, program_number: int, pmt_pid: int, pcr_pid: int,
                 streams: List[Tuple[int, int]], audio_pids: Optional[List[int]] = None) -> None:
        self.program_number = program_number
        self.pmt_pid = pmt_pid
        self.pcr_pid = pcr_pid
        self.streams = streams  # [(pid, stream_type)] in PMT order
        if audio_pids is None:
            audio_pids = [pid for pid, kind in streams if kind in AUDIO_TYPES]
        self.audio_pids = audio_pids
        video = [(pid, kind) for pid, kind in streams if kind in VIDEO_TYPES]
        self.video_pid: Optional[int] = video[0][0] if video else None
        self.video_codec: Optional[str] = VIDEO_CODECS.get(video[0][1]) if video else None

    def layout(self) -> Tuple[int, int, int, Tuple[Tuple[int, int], ...]]:
        """What must stay constant within one file: program, PMT PID, PCR PID and streams."""
        return self.program_number, self.pmt_pid, self.pcr_pid, tuple(self.streams)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamInfo) and self.layout() == other.layout()

    def __hash__(self) -> int:
        return hash(self.layout())

    def __repr__(self) -> str:
        return "StreamInfo(program=%d, pmt=0x%x, pcr=0x%x, streams=[%s])" % (
            self.program_number, self.pmt_pid, self.pcr_pid,
            ", ".join("0x%x:0x%02x" % s for s in self.streams))


class PsiLocation(NamedTuple):
    """Where the PAT and PMT the StreamInfo came from sit (packet indices)."""

    info: StreamInfo
    pat_index: int
    pmt_index: int
    single_packets: bool  # both sections fit in their first packet


def _crc32_table() -> List[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc32_table()


def crc32_mpeg(data: bytes) -> int:
    """CRC-32/MPEG-2 as PSI sections use it (0 over a section including its CRC)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ b]
    return crc


def read_section(buf: bytearray, index: int, pid: int) -> Optional[Tuple[bytes, bool]]:
    """(section, fits in one packet) starting in PUSI packet `index`, or None if broken/bad CRC."""
    off = index * TS_SIZE
    start = payload_offset(buf, off)
    if start < 0:
        return None
    start += 1 + buf[start]  # pointer_field
    end = off + TS_SIZE
    if start + 3 > end:
        return None
    length = 3 + (((buf[start + 1] & 0x0F) << 8) | buf[start + 2])
    if length < 12 or length > 1024:
        return None
    section = bytes(buf[start:min(end, start + length)])
    single = len(section) == length
    index += 1
    count = len(buf) // TS_SIZE
    scanned = 0
    while len(section) < length and index < count and scanned < MAX_SECTION_PACKETS * 4:
        off = index * TS_SIZE
        if packet_pid(buf, index) == pid:
            if buf[off + 1] & 0x40:
                return None  # next section started before this one was complete
            start = payload_offset(buf, off)
            if start >= 0:
                section += bytes(buf[start:min(off + TS_SIZE, start + length - len(section))])
        index += 1
        scanned += 1
    if len(section) < length or crc32_mpeg(section):
        return None
    return section, single


def _parse_pat(section: bytes) -> Optional[Tuple[int, int]]:
    """(program_number, PMT PID) of the first program in a PAT section."""
    if section[0] != 0x00:
        return None
    for pos in range(8, len(section) - 4 - 3, 4):
        program = (section[pos] << 8) | section[pos + 1]
        if program:
            return program, ((section[pos + 2] & 0x1F) << 8) | section[pos + 3]
    return None


def _parse_pmt(section: bytes, program: int, pmt_pid: int) -> Optional[StreamInfo]:
    if len(section) < 16 or section[0] != 0x02 or ((section[3] << 8) | section[4]) != program:
        return None
    pcr_pid = ((section[8] & 0x1F) << 8) | section[9]
    pos = 12 + (((section[10] & 0x0F) << 8) | section[11])
    end = len(section) - 4
    streams = []
    audio = []
    while pos + 5 <= end:
        kind = section[pos]
        pid = ((section[pos + 1] & 0x1F) << 8) | section[pos + 2]
        info_end = pos + 5 + (((section[pos + 3] & 0x0F) << 8) | section[pos + 4])
        if kind in AUDIO_TYPES or (kind == 0x06 and _has_audio_descriptor(section, pos + 5,
                                                                          min(info_end, end))):
            audio.append(pid)
        streams.append((pid, kind))
        pos = info_end
    return StreamInfo(program, pmt_pid, pcr_pid, streams, audio)


def _has_audio_descriptor(section: bytes, pos: int, end: int) -> bool:
    while pos + 2 <= end:
        if section[pos] in AUDIO_DESCRIPTORS:
            return True
        pos += 2 + section[pos + 1]
    return False


def _whole_packets(packets: bytearray) -> bytearray:
    """Callers pass aligned packets; anything else is cut to whole packets so nothing overruns."""
    extra = len(packets) % TS_SIZE
    return bytearray(packets[:-extra]) if extra else packets


def _first_table(packets: bytearray, pusi: List[int], pid: int,
                 parse: Callable[[bytes], Any]) -> Optional[Tuple[int, Any, bool]]:
    """(packet index, parsed section, single packet?) of the first section of `pid` that
    parses; None when none does within MAX_PSI_TRIES starts of that PID."""
    tries = 0
    for index in pusi:
        if packet_pid(packets, index) != pid:
            continue
        tries += 1
        if tries > MAX_PSI_TRIES:
            return None
        found = read_section(packets, index, pid)
        if found:
            parsed = parse(found[0])
            if parsed is not None:
                return index, parsed, found[1]
    return None


def locate_psi(packets: bytearray, pusi: Optional[List[int]] = None) -> Optional[PsiLocation]:
    """The first valid PAT and its PMT in aligned packets, with their packet indices."""
    packets = _whole_packets(packets)
    if pusi is None:
        pusi = pusi_indices(header_bytes(packets, 1))
    pat = _first_table(packets, pusi, PAT_PID, _parse_pat)
    if pat is None:
        return None
    pat_index, (program, pmt_pid), pat_single = pat
    if pmt_pid in (PAT_PID, 0x1FFF):
        return None
    pmt = _first_table(packets, pusi, pmt_pid,
                       lambda section: _parse_pmt(section, program, pmt_pid))
    if pmt is None:
        return None
    pmt_index, info, pmt_single = pmt
    return PsiLocation(info, pat_index, pmt_index, pat_single and pmt_single)


def parse_psi(packets: bytearray) -> Optional[StreamInfo]:
    """StreamInfo from the first PAT/PMT in aligned packets, or None when there is none."""
    found = locate_psi(packets)
    return found.info if found else None


def _pes_head(packets: bytearray, index: int, pid: int) -> bytes:
    """Payload of PUSI packet `index` and the next few packets of the same PID."""
    chunks = []
    count = len(packets) // TS_SIZE
    stop = min(count, index + SPS_SEARCH_PACKETS * 8)
    while index < stop and len(chunks) < SPS_SEARCH_PACKETS:
        if packet_pid(packets, index) == pid:
            off = index * TS_SIZE
            if chunks and packets[off + 1] & 0x40:
                break
            start = payload_offset(packets, off)
            if start >= 0:
                chunks.append(bytes(packets[start:off + TS_SIZE]))
        index += 1
    return b"".join(chunks)


def video_resolution(packets: bytearray, info: StreamInfo) -> Optional[Tuple[int, int]]:
    """(width, height) from the first H.264/HEVC SPS of the video stream, or None."""
    pid, codec = info.video_pid, info.video_codec
    if pid is None or codec is None:
        return None
    packets = _whole_packets(packets)
    for index in pusi_indices(header_bytes(packets, 1)):
        if packet_pid(packets, index) != pid:
            continue
        pes = _pes_head(packets, index, pid)
        if pes[:3] != b"\x00\x00\x01" or len(pes) < 9:
            continue
        size = find_sps_size(pes[9 + pes[8]:], codec)
        if size:
            return size
    return None
