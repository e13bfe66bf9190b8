"""Section files: joined segments go into stream_<n>.ts; a resolution change opens the next.

A section also ends before the file system's size limit (FAT: 4 GiB - 1), and no segment is
written into the free-space reserve. Beside each section: its .meta (title) from the start and
its .ap seeking index, one entry per segment once that segment's bytes are on disk.
"""

import logging
import os
from typing import Any, BinaryIO, List, Optional, Tuple

from .. import files
from ..errors import FileTooLargeError
from ..meta import write_meta
from ..ts.apindex import ApWriter, access_points, first_access_point, last_pes_start
from ..ts.joiner import SectionJoiner
from ..ts.packets import TS_SIZE, align, packet_pid
from ..ts.probe import parse_psi, video_resolution
from ..volume import Volume

log = logging.getLogger(__name__)

# The joiner may put a PAT and a PMT copy before a section's first segment.
JOIN_SLACK = 2 * TS_SIZE


class SectionFiles:
    """stream_<n>.ts files in rec_dir with their .ap and .meta: opening, writing, closing."""

    def __init__(self, rec_dir: str, volume: Optional[Volume] = None, title: str = "",
                 started_at: Optional[float] = None, first_index: int = 0) -> None:
        self.rec_dir = rec_dir
        self.volume = volume
        self.title = title
        self.started_at = started_at
        # the first file is stream_<first_index>.ts: a continued recording goes on after the
        # earlier one's sections
        self.first_index = first_index
        self.index = first_index - 1
        self.path = ""
        self.paths: List[str] = []  # every section file so far
        self.bytes_written = 0
        self._out: Optional[BinaryIO] = None
        self._ap: Optional[ApWriter] = None
        self._size = 0

    def _open_file(self) -> None:
        self.close()
        self.index += 1
        name = "stream_%d.ts" % self.index
        self.path = os.path.join(self.rec_dir, name)
        self.paths.append(self.path)
        self._out = files.open_output(self.rec_dir, name)
        self._ap = ApWriter(self.rec_dir, name)
        write_meta(self.path, self._section_title(), self.started_at)
        self._size = 0

    def _section_title(self) -> str:
        title = self.title or "StreamRecorder"
        return title if self.index == 0 else "%s (%d)" % (title, self.index + 1)

    @property
    def current(self) -> int:
        """The section being written (the first one before anything was)."""
        return max(self.index, self.first_index)

    def _write_out(self, data: bytes) -> None:
        """Append data; on a write error (a full disk) the file is cut back to what it was,
        so it ends on whole segments (whole packets for ffmpeg's stream) and stays playable."""
        try:
            files.write_all(self._out, data)
        except OSError:
            try:
                self._out.truncate(self._size)
            except OSError:
                pass
            raise
        self._size += len(data)
        self.bytes_written += len(data)
        if self.volume is not None:
            self.volume.wrote(len(data))

    def close(self) -> None:
        if self._ap is not None:
            self._ap.close()
            self._ap = None
        if self._out is not None:
            self._out.close()
            self._out = None


class SectionWriter(SectionFiles):
    """Writes segments in order into the current section file of rec_dir."""

    def __init__(self, rec_dir: str, volume: Optional[Volume] = None, title: str = "",
                 started_at: Optional[float] = None, first_index: int = 0) -> None:
        super().__init__(rec_dir, volume, title, started_at, first_index)
        self.resolution: Optional[Tuple[int, int]] = None
        self.segments_in_section = 0
        self._joiner: Optional[SectionJoiner] = None
        self._media_closed = 0.0

    @property
    def media_seconds(self) -> float:
        current = self._joiner.media_seconds if self._joiner is not None else 0.0
        return self._media_closed + current

    def write(self, data: bytes, discontinuity: bool = False) -> bool:
        """Append one segment; True when it opened a new section file.

        A bytearray is taken over as the work buffer, with no copy of the segment: it is
        rewritten in place and emptied once written (its memory goes back at once, whoever
        still holds the object). Pass bytes to keep the data."""
        packets = align(data, in_place=True)
        try:
            return self._write_packets(packets, discontinuity)
        finally:
            _empty(packets)
            if isinstance(data, bytearray):
                _empty(data)

    def _write_packets(self, packets: bytearray, discontinuity: bool) -> bool:
        info = parse_psi(packets)
        resolution = video_resolution(packets, info) if info is not None else None
        upcoming = len(packets) + JOIN_SLACK
        if self.volume is not None:
            self.volume.check(upcoming)  # before a byte of it goes out: whole segments only
        opened = False
        if self._out is None or self._new_resolution(resolution) or not self._fits(upcoming):
            self._open_next()
            opened = True
            if not self._fits(upcoming):
                raise FileTooLargeError("one segment (%d bytes) is larger than the %d-byte file "
                                        "limit of this file system" % (len(packets),
                                                                       self.volume.max_file_bytes))
        if resolution is not None:
            self.resolution = resolution
        base = self._size
        joined = self._joiner.push_packets(packets, discontinuity=discontinuity and not opened)
        self._write_out(joined)
        self.segments_in_section += 1
        self._index(joined, base)
        return opened

    def _new_resolution(self, resolution: Optional[Tuple[int, int]]) -> bool:
        if resolution is None or self.resolution is None or resolution == self.resolution:
            return False
        log.info("resolution %sx%s -> %sx%s: new section file", *self.resolution, *resolution)
        return True

    def _fits(self, upcoming: int) -> bool:
        if self.volume is None or self.volume.fits(self._size, upcoming):
            return True
        if self._out is not None and self.segments_in_section:
            log.info("%s nears the %s file system's size limit: new section file",
                     self.path, self.volume.fs_type or "?")
        return False

    def _index(self, joined: bytes, base: int) -> None:
        """One .ap entry per segment: its first keyframe, at its offset in the section file."""
        info = self._joiner.info if self._joiner is not None else None
        if self._ap is None or info is None or info.video_pid is None:
            return
        found = first_access_point(joined, info.video_pid, info.video_codec)
        if found is not None:
            self._ap.add(base + found[0], found[1])

    def _open_next(self) -> None:
        self._open_file()
        self._joiner = SectionJoiner()
        self.segments_in_section = 0

    def close(self) -> None:
        if self._joiner is not None:
            self._media_closed += self._joiner.media_seconds
            self._joiner = None
        super().close()


def _empty(buf: bytearray) -> None:
    try:
        del buf[:]
    except BufferError:  # someone holds a view of it: it stays as it is
        pass


SDT_PID = 0x11


def pat_pmt_first(buf: bytes, info: Any) -> bytes:
    """ffmpeg's mpegts muxer writes its SDT before PAT and PMT; a section file starts with
    PAT/PMT (receivers find the program there), so leading SDT packets move behind them."""
    lead = 0
    while (lead + 1) * TS_SIZE <= len(buf) and packet_pid(buf, lead) == SDT_PID:
        lead += 1
    if not lead or info is None or (lead + 2) * TS_SIZE > len(buf):
        return buf
    if packet_pid(buf, lead) != 0 or packet_pid(buf, lead + 1) != info.pmt_pid:
        return buf
    cut, psi_end = lead * TS_SIZE, (lead + 2) * TS_SIZE
    return bytes(buf[cut:psi_end]) + bytes(buf[:cut]) + bytes(buf[psi_end:])


# How far before the size limit a growing stream looks for the PAT to start the next file at
# (ffmpeg repeats PAT/PMT at every keyframe and every 0.1 s).
SPLIT_WINDOW = 32 << 20


class StreamSections(SectionFiles):
    """Copies one continuous TS (ffmpeg's output pipe) into section files.

    Whole packets only; the reserve is checked before each write; near the file system's size
    limit the next file starts at a PAT (the one before a keyframe when the data holds one);
    the .ap gets every keyframe.
    """

    def __init__(self, rec_dir: str, volume: Optional[Volume] = None, title: str = "",
                 started_at: Optional[float] = None, first_index: int = 0) -> None:
        super().__init__(rec_dir, volume, title, started_at, first_index)
        self.failed = False
        self._rest = b""
        self._info = None
        self._frame_start: Optional[int] = None  # file offset of the last video PES begun

    def section_bytes(self) -> int:
        return self._size

    def _open_file(self) -> None:
        super()._open_file()
        self._frame_start = None

    def feed(self, data: bytes) -> bool:
        """Write the whole packets of data (the rest waits); True when a new file was opened."""
        if self.failed:
            return False  # after an error only the recorder's wind-down reads on: dropped
        buf = self._rest + data
        whole = len(buf) - len(buf) % TS_SIZE
        self._rest = buf[whole:]
        if not whole:
            return False
        buf = buf[:whole]
        try:
            return self._write_packets(buf)
        except Exception:
            self.failed = True
            self._cut_to_whole_frames()
            raise

    def _cut_to_whole_frames(self) -> None:
        """The recording ends here (a full disk, the reserve): whole packets are not enough,
        a picture cut in the middle is a decoding error at the end of the file. Cut back to
        the start of the last video PES, the one that may be unfinished."""
        if self._out is None or self._frame_start is None or self._frame_start >= self._size:
            return
        try:
            self._out.truncate(self._frame_start)
        except OSError:
            return
        self.bytes_written -= self._size - self._frame_start
        self._size = self._frame_start
        if self._ap is not None:
            try:
                self._ap.cut(self._size)
            except OSError:
                pass

    def _write_packets(self, buf: bytes) -> bool:
        if self._info is None:
            self._info = parse_psi(bytearray(buf))
        if self.volume is not None:
            self.volume.check(len(buf))
        opened = False
        if self._out is None:
            self._open_file()
            opened = True
            buf = pat_pmt_first(buf, self._info)
        elif not self._fits(len(buf)) or self._near_limit(len(buf)):
            must = not self._fits(len(buf))
            split = self._split_at(buf, must)
            if split is None and must:
                raise FileTooLargeError("no place to start a new file before the %d-byte limit "
                                        "of this file system" % self.volume.max_file_bytes)
            if split is not None:
                self._append(buf[:split])
                buf = buf[split:]
                log.info("%s nears the %s file system's size limit: new section file",
                         self.path, self.volume.fs_type or "?")
                self._open_file()
                opened = True
        if not self._fits(len(buf)):
            raise FileTooLargeError("the stream does not fit below the %d-byte file limit of "
                                    "this file system" % self.volume.max_file_bytes)
        self._append(buf)
        return opened

    def _fits(self, upcoming: int) -> bool:
        return self.volume is None or self.volume.fits(self._size, upcoming)

    def _near_limit(self, upcoming: int) -> bool:
        limit = self.volume.max_file_bytes if self.volume is not None else None
        if limit is None:
            return False
        return self._size + upcoming > limit - min(SPLIT_WINDOW, limit // 4)

    def _split_at(self, buf: bytes, must: bool) -> Optional[int]:
        """Offset of the PAT before the first keyframe in buf, where the next file starts.

        Without one, None (the next chunk may hold one) unless the file must end now: then any
        PAT (the new file's first pictures until a keyframe cannot be shown).
        """
        pats = [i * TS_SIZE for i, b in enumerate(bytes(buf[1::TS_SIZE]))
                if b & 0x40 and not b & 0x1F and buf[i * TS_SIZE + 2] == 0]
        if not pats:
            return None
        info = self._info
        if info is not None and info.video_pid is not None:
            keys = access_points(buf, info.video_pid, info.video_codec)
            before = [p for p in pats if keys and p <= keys[0][0]]
            if before:
                return before[-1]
        return pats[0] if must else None

    def _append(self, buf: bytes) -> None:
        if not buf:
            return
        base = self._size
        self._write_out(buf)
        info = self._info
        if info is not None and info.video_pid is not None:
            start = last_pes_start(buf, info.video_pid)
            if start is not None:
                self._frame_start = base + start
            if self._ap is not None:
                for off, pts in access_points(buf, info.video_pid, info.video_codec):
                    self._ap.add(base + off, pts)

