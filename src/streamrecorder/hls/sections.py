"""Section files: joined segments go into stream_<n>.ts; a resolution change opens the next.

A section also ends before the file system's size limit (FAT: 4 GiB - 1), and no segment is
written into the free-space reserve. Beside each section: its .meta (title) from the start and
its .ap seeking index, one entry per segment once that segment's bytes are on disk.
"""

import logging
import os
from typing import BinaryIO, Optional, Tuple

from .. import files
from ..errors import FileTooLargeError
from ..meta import write_meta
from ..ts.apindex import ApWriter, first_access_point
from ..ts.joiner import SectionJoiner
from ..ts.packets import TS_SIZE, align
from ..ts.probe import parse_psi, video_resolution
from ..volume import Volume

log = logging.getLogger(__name__)

# The joiner may put a PAT and a PMT copy before a section's first segment.
JOIN_SLACK = 2 * TS_SIZE


class SectionWriter:
    """Writes segments in order into the current section file of rec_dir."""

    def __init__(self, rec_dir: str, volume: Optional[Volume] = None, title: str = "",
                 started_at: Optional[float] = None) -> None:
        self.rec_dir = rec_dir
        self.volume = volume
        self.title = title
        self.started_at = started_at
        self.index = -1
        self.path = ""
        self.resolution: Optional[Tuple[int, int]] = None
        self.bytes_written = 0
        self.segments_in_section = 0
        self._out: Optional[BinaryIO] = None
        self._ap: Optional[ApWriter] = None
        self._size = 0
        self._joiner: Optional[SectionJoiner] = None
        self._media_closed = 0.0

    @property
    def media_seconds(self) -> float:
        current = self._joiner.media_seconds if self._joiner is not None else 0.0
        return self._media_closed + current

    def write(self, data: bytes, discontinuity: bool = False) -> bool:
        """Append one segment; True when it opened a new section file."""
        packets = align(data)
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
        joined = self._joiner.push(packets, discontinuity=discontinuity and not opened)
        self._write(joined)
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
        self.close()
        self.index += 1
        name = "stream_%d.ts" % self.index
        self.path = os.path.join(self.rec_dir, name)
        self._out = files.open_output(self.rec_dir, name)
        self._ap = ApWriter(self.rec_dir, name)
        write_meta(self.path, self._section_title(), self.started_at)
        self._size = 0
        self._joiner = SectionJoiner()
        self.segments_in_section = 0

    def _section_title(self) -> str:
        title = self.title or "StreamRecorder"
        return title if self.index == 0 else "%s (%d)" % (title, self.index + 1)

    def _write(self, data: bytes) -> None:
        try:
            files.write_all(self._out, data)
        except OSError:
            # Keep the file playable: no half segment (and no half packet) at its end.
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
        if self._joiner is not None:
            self._media_closed += self._joiner.media_seconds
            self._joiner = None
        if self._ap is not None:
            self._ap.close()
            self._ap = None
        if self._out is not None:
            self._out.close()
            self._out = None
