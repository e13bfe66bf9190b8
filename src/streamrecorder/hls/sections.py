"""Section files: joined segments go into stream_<n>.ts; a resolution change opens the next."""

import logging
import os
from typing import BinaryIO, Optional, Tuple

from .. import files
from ..ts.joiner import SectionJoiner
from ..ts.packets import align
from ..ts.probe import parse_psi, video_resolution

log = logging.getLogger(__name__)


class SectionWriter:
    """Writes segments in order into the current section file of rec_dir."""

    def __init__(self, rec_dir: str) -> None:
        self.rec_dir = rec_dir
        self.index = -1
        self.path = ""
        self.resolution: Optional[Tuple[int, int]] = None
        self.bytes_written = 0
        self.segments_in_section = 0
        self._out: Optional[BinaryIO] = None
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
        opened = False
        if self._out is None or (resolution is not None and self.resolution is not None
                                 and resolution != self.resolution):
            if self._out is not None:
                log.info("resolution %sx%s -> %sx%s: new section file", *self.resolution,
                         *resolution)
            self._open_next()
            opened = True
        if resolution is not None:
            self.resolution = resolution
        joined = self._joiner.push(packets, discontinuity=discontinuity and not opened)
        self._write(joined)
        self.segments_in_section += 1
        return opened

    def _open_next(self) -> None:
        self.close()
        self.index += 1
        name = "stream_%d.ts" % self.index
        self.path = os.path.join(self.rec_dir, name)
        self._out = files.open_output(self.rec_dir, name)
        self._size = 0
        self._joiner = SectionJoiner()
        self.segments_in_section = 0

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

    def close(self) -> None:
        if self._joiner is not None:
            self._media_closed += self._joiner.media_seconds
            self._joiner = None
        if self._out is not None:
            self._out.close()
            self._out = None
