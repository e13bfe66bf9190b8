"""Join independently muxed TS segments into one continuous, playable section file."""

from typing import Dict, List, Optional, Tuple

from . import timestamps as tsm
from .packets import (
    NULL_PID, TS_SIZE, PidIndex, align, header_bytes, packet_pid, pcr_candidates, pid_mask,
    pusi_indices, to_int,
)
from .probe import PAT_PID, PsiLocation, StreamInfo, locate_psi, read_section

SECTION_START = tsm.CLOCK  # the first segment is rebased so its earliest timestamp is 1 s
MAX_GAP = tsm.CLOCK  # a forward jump above this (1 s) starts a new offset
MAX_BUMP = 10 * tsm.CLOCK  # a stream overlapping its own past by more is broken: do not wait for it
SDT_PID = 0x11
MIN_BACKWARD_TOLERANCE = tsm.CLOCK // 1000

# byte 3 -> same byte with CC + delta (mod 16); one table per delta.
_CC_TABLES = [bytes((b & 0xF0) | ((b + d) & 0x0F) for b in range(256)) for d in range(16)]
_LOW_NIBBLE = bytes(b & 0x0F for b in range(256))
# (delta << 4 | cc) -> the bits that change when delta is added to cc (mod 16).
_CC_FLIP = bytes((b & 0x0F) ^ (((b & 0x0F) + (b >> 4)) & 0x0F) for b in range(256))


def _pid_hi_table(pid: int) -> bytes:
    """Header byte 1 -> same flags with the PID's high bits replaced (PUSI dropped for null)."""
    if pid == NULL_PID:
        return bytes((b & 0x80) | 0x1F for b in range(256))
    return bytes((b & 0xE0) | (pid >> 8) for b in range(256))


class SectionJoiner:
    """Joins independently muxed TS segments into one continuous TS section file."""

    def __init__(self) -> None:
        self.media_seconds = 0.0
        self.segments = 0
        self.info: Optional[StreamInfo] = None
        # The section's own PAT, PMT and SDT packets: they replace those of later segments.
        self._tables: Dict[int, bytes] = {}
        self._cc: Dict[int, int] = {}  # PID -> last continuity counter written
        self._offset: Optional[int] = None  # added to every timestamp of the current run of segments
        self._ends: Dict[int, int] = {}  # PID -> where that stream ended (output clock)
        self._frames: Dict[int, int] = {}  # PID -> last known frame duration
        self._slack: Dict[int, int] = {}  # PID -> how far its recorded end may be too late
        self._pcr_last: Optional[int] = None
        self._end_all: Optional[int] = None
        self._media_ticks = 0

    def push(self, data: bytes, discontinuity: bool = False) -> bytearray:
        """Take one segment's bytes (already decrypted), return the bytes to append to the section file."""
        return self.push_packets(align(data), discontinuity)

    def push_packets(self, buf: bytearray, discontinuity: bool = False) -> bytearray:
        """push() for a segment already aligned to 188-byte packets (ts.packets.align); the
        buffer is rewritten in place and returned (with PAT/PMT copies in front if needed)."""
        hi = header_bytes(buf, 1)
        lo = header_bytes(buf, 2)
        pusi = pusi_indices(hi)
        psi = locate_psi(buf, pusi)
        index = PidIndex.build(hi, lo)
        prefix = b""
        if self.info is None:
            if psi is not None:
                prefix = self._adopt_psi(buf, psi, pusi, index)
        elif psi is not None:
            if psi.info != self.info:
                hi, lo = self._remap(buf, hi, lo, psi.info)
                index = PidIndex.build(hi, lo)
            self._rewrite_psi(buf, hi, lo, index)
        b3 = header_bytes(buf, 3)
        if index is None:
            self._renumber_cc_slow(buf)
        else:
            self._renumber_cc(buf, b3, index)
        self._retime(buf, hi, lo, pusi, b3, index, discontinuity)
        self.segments += 1
        if prefix:
            buf[:0] = prefix  # in place: no second copy of the segment
        return buf

    # -- program tables -------------------------------------------------------------------------

    def _adopt_psi(self, buf: bytearray, psi: PsiLocation, pusi: List[int],
                   index: Optional[PidIndex]) -> bytes:
        """Take the first PSI as the section's; return PAT+PMT copies to put first if needed."""
        self.info = psi.info
        pat_off, pmt_off = psi.pat_index * TS_SIZE, psi.pmt_index * TS_SIZE
        pat = bytes(buf[pat_off:pat_off + TS_SIZE])
        pmt = bytes(buf[pmt_off:pmt_off + TS_SIZE])
        if psi.single_packets:
            self._tables = {PAT_PID: pat, psi.info.pmt_pid: pmt}
            # The SDT names the service; an ad's own SDT would add a second program for players.
            for i in pusi:
                if packet_pid(buf, i) == SDT_PID:
                    found = read_section(buf, i, SDT_PID)
                    if found and found[1] and found[0][0] == 0x42:
                        self._tables[SDT_PID] = bytes(buf[i * TS_SIZE:(i + 1) * TS_SIZE])
                        break
        if self.segments or psi.pat_index == 0:
            return b""
        # Copies numbered so that the first packet of each PID in the segment still follows on.
        copies = []
        for packet, pid, known in ((pat, PAT_PID, psi.pat_index), (pmt, psi.info.pmt_pid, psi.pmt_index)):
            first = index.first(pid) if index is not None else known
            cc_byte = buf[(first if first >= 0 else known) * TS_SIZE + 3]
            cc = (cc_byte - 1) & 0x0F if cc_byte & 0x10 else cc_byte & 0x0F
            copies.append(packet[:3] + bytes(((packet[3] & 0xF0) | cc,)) + packet[4:])
        return b"".join(copies)

    def _remap(self, buf: bytearray, hi: bytes, lo: bytes, seg: StreamInfo) -> Tuple[bytes, bytes]:
        """Move a segment whose PMT differs (an ad from another encoder) onto the section's PIDs."""
        sec = self.info
        assert sec is not None
        mapping = {seg.pmt_pid: sec.pmt_pid}
        free = list(sec.streams)
        for pid, kind in seg.streams:
            match = next((s for s in free if s[1] == kind), None)
            if match is None:
                mapping[pid] = NULL_PID  # no stream of this type in the section: drop it
            else:
                free.remove(match)
                mapping[pid] = match[0]
        seg_pids = {pid for pid, _ in seg.streams}
        sec_pids = {pid for pid, _ in sec.streams}
        if seg.pcr_pid not in seg_pids and sec.pcr_pid not in sec_pids:
            mapping.setdefault(seg.pcr_pid, sec.pcr_pid)
        n = len(hi)
        hi_int, lo_int = to_int(hi), to_int(lo)
        new_hi, new_lo = hi_int, lo_int
        for src, dst in mapping.items():
            if src == dst:
                continue
            mask = pid_mask(hi, lo, src)  # masks from the original PIDs: swaps stay correct
            if not mask:
                continue
            new_hi ^= mask & (hi_int ^ to_int(hi.translate(_pid_hi_table(dst))))
            new_lo ^= mask & (lo_int ^ to_int(bytes((dst & 0xFF,)) * n))
        hi, lo = new_hi.to_bytes(n, "big"), new_lo.to_bytes(n, "big")
        buf[1::TS_SIZE] = hi
        buf[2::TS_SIZE] = lo
        return hi, lo

    def _rewrite_psi(self, buf: bytearray, hi: bytes, lo: bytes, index: Optional[PidIndex]) -> None:
        """Replace every PAT/PMT/SDT payload packet by the section's own, so they never change."""
        for pid, packet in self._tables.items():
            if index is not None:
                found = index.indices(pid)
            else:
                marks = pid_mask(hi, lo, pid).to_bytes(len(hi), "big")
                found = [i for i in range(len(hi)) if marks[i]]
            for i in found:
                off = i * TS_SIZE
                cc_byte = buf[off + 3]
                if cc_byte & 0x10:  # keep AF-only packets; CC stays the segment's own
                    buf[off:off + TS_SIZE] = packet
                    buf[off + 3] = (packet[3] & 0xF0) | (cc_byte & 0x0F)

    # -- continuity counters --------------------------------------------------------------------

    def _delta(self, pid: int, first: int) -> int:
        """CC delta that makes a PID's first packet in this segment follow the last one written."""
        prev = self._cc.get(pid)
        if prev is None:
            return 0
        want = (prev + 1) & 0x0F if first & 0x10 else prev  # AF-only packets repeat the CC
        return (want - first) & 0x0F

    def _renumber_cc(self, buf: bytearray, b3: bytes, index: PidIndex) -> None:
        """Shift each PID's CCs by one constant per segment so every PID continues across joins."""
        deltas = {}
        for pid in index.pids:
            if pid == NULL_PID:
                continue
            delta = self._delta(pid, b3[index.first(pid)])
            self._cc[pid] = (b3[index.last(pid)] + delta) & 0x0F
            if delta:
                deltas[pid] = delta << 4
        if not deltas:
            return
        # Per packet (delta << 4 | cc) -> cc ^ new cc, then one XOR fixes all header bytes 3.
        n = len(b3)
        combined = (to_int(index.per_packet(deltas)) | to_int(b3.translate(_LOW_NIBBLE))).to_bytes(n, "big")
        buf[3::TS_SIZE] = (to_int(b3) ^ to_int(combined.translate(_CC_FLIP))).to_bytes(n, "big")

    def _renumber_cc_slow(self, buf: bytearray) -> None:
        """Per-packet fallback for segments with very many PIDs (not seen in real HLS)."""
        deltas: Dict[int, int] = {}
        for off in range(0, len(buf), TS_SIZE):
            pid = ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]
            if pid == NULL_PID:
                continue
            delta = deltas.get(pid)
            if delta is None:
                delta = deltas[pid] = self._delta(pid, buf[off + 3])
            value = _CC_TABLES[delta][buf[off + 3]]
            buf[off + 3] = value
            self._cc[pid] = value & 0x0F

    # -- timestamps -----------------------------------------------------------------------------

    def _retime(self, buf: bytearray, hi: bytes, lo: bytes, pusi: List[int], b3: bytes,
                index: Optional[PidIndex], discontinuity: bool) -> None:
        """Shift PTS/DTS/PCR so the section's timeline runs on without jumps."""
        info = self.info
        es_pids = [pid for pid, _ in info.streams] if info else None
        audio = info.audio_pids if info else ()
        times = tsm.scan(buf, hi, lo, pusi, pcr_candidates(buf, b3), es_pids, audio, index)
        if times.t0 is None:
            return
        av = times.av()
        if self._offset is None:
            self._offset = self._first_offset(times)
        elif discontinuity or self._jumped(times):
            self._offset = self._continue_offset(times)
        offset = self._offset
        tsm.shift(buf, times, offset)
        if times.pcr_last is not None:
            self._pcr_last = (times.absolute(times.pcr_last) + offset) & tsm.MASK33
        for pid, st in av.items():
            end = (times.absolute(st.end(self._frames.get(pid))) + offset) & tsm.MASK33
            self._ends[pid] = end
            if st.frame:
                self._frames[pid] = st.frame
            self._slack[pid] = self._end_slack(pid, st)
        self._account_media(times, offset)

    def _first_offset(self, times: tsm.SegmentTimes) -> int:
        """Rebase the section so its earliest PCR/DTS is SECTION_START (no 33-bit wrap for 26 h)."""
        av = times.av() or times.streams
        firsts = [min(st.first_dts, st.start) for st in av.values() if st.first_dts is not None]
        if times.pcr_first is not None:
            firsts.append(times.pcr_first)
        earliest = times.absolute(min(firsts)) if firsts else times.absolute(0)
        return (SECTION_START - earliest) & tsm.MASK33

    def _reference(self, times: tsm.SegmentTimes) -> Optional[int]:
        """The stream whose end/start decides continuity: video if possible, else audio."""
        common = [(st.kind != "v", pid) for pid, st in times.av().items() if pid in self._ends]
        return min(common)[1] if common else None

    def _end_slack(self, pid: int, st: tsm.StreamTimes) -> int:
        """How much a stream's computed end may overshoot: a next segment may start that early."""
        frame = st.frame or self._frames.get(pid) or tsm.DEFAULT_FRAME.get(st.kind, 0)
        if st.kind == "v":
            return max(MIN_BACKWARD_TOLERANCE, frame // 8)  # frame grid, give or take rounding
        if st.last_duration is not None:
            return MIN_BACKWARD_TOLERANCE  # exact: counted ADTS frames
        return max(MIN_BACKWARD_TOLERANCE, frame)  # estimated from PES sizes

    def _jumped(self, times: tsm.SegmentTimes) -> bool:
        """Does this segment jump backwards, or more than MAX_GAP forwards, from the last end?"""
        ref = self._reference(times)
        if ref is None:
            return bool(times.av()) and bool(self._ends)  # different streams: start fresh after the end
        assert self._offset is not None
        for pid, st in times.av().items():
            if pid in self._ends:
                gap = tsm.diff((times.absolute(st.start) + self._offset) & tsm.MASK33, self._ends[pid])
                if gap < -self._slack.get(pid, MIN_BACKWARD_TOLERANCE):
                    return True  # would overlap what this stream already played
                if pid == ref and gap > MAX_GAP:
                    return True
        return False

    def _continue_offset(self, times: tsm.SegmentTimes) -> int:
        """An offset that makes this segment start where the previous one ended."""
        av = times.av()
        ref = self._reference(times)
        if ref is None:
            if not av or self._end_all is None:
                return self._offset or 0
            start = min(st.start for st in av.values())
            return (self._end_all - times.absolute(start)) & tsm.MASK33
        offset = (self._ends[ref] - times.absolute(times.streams[ref].start)) & tsm.MASK33
        # No other stream (nor the PCR) may start before its own previous end.
        bump = 0
        for pid, st in av.items():
            if pid != ref and pid in self._ends:
                over = tsm.diff(self._ends[pid], (times.absolute(st.start) + offset) & tsm.MASK33)
                if 0 < over <= MAX_BUMP:
                    bump = max(bump, over)
        if times.pcr_first is not None and self._pcr_last is not None:
            over = tsm.diff(self._pcr_last, (times.absolute(times.pcr_first) + offset) & tsm.MASK33)
            if 0 <= over < MAX_BUMP:
                bump = max(bump, over + 1)
        ref_times = times.streams[ref]
        frame = ref_times.frame or self._frames.get(ref)
        if bump and ref_times.kind == "v" and frame:
            bump = -(-bump // frame) * frame  # whole frames: video stays on its frame grid
        return (offset + bump) & tsm.MASK33

    def _account_media(self, times: tsm.SegmentTimes, offset: int) -> None:
        """Advance media_seconds by how far this segment moved the end of the timeline."""
        av = times.av()
        if not av:
            return
        ends = [self._ends[pid] for pid in av]
        end = max(ends, key=lambda e: tsm.diff(e, ends[0]))
        if self._end_all is None:
            start = min(st.start for st in av.values())
            self._media_ticks = tsm.diff(end, (times.absolute(start) + offset) & tsm.MASK33)
        else:
            self._media_ticks += max(0, tsm.diff(end, self._end_all))
        if self._end_all is None or tsm.diff(end, self._end_all) > 0:
            self._end_all = end
        self.media_seconds = self._media_ticks / tsm.CLOCK
