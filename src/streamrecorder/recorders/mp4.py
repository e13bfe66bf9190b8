"""Progressive MP4 download into stream_0.mp4 with Range resume and honest completion."""

import logging
import os
import re
from typing import Any, BinaryIO, Dict, Optional

from .. import files
from ..errors import FileTooLargeError, InvalidStreamError, RecorderError
from ..http import RETRYABLE, RetryPolicy, TransientError, iter_body
from ..meta import write_meta
from ..mp4box import TopLevelBoxes, mvhd_duration
from .base import BaseRecorder

log = logging.getLogger(__name__)

CHUNK = 1 << 20
START_MARGIN = 2 << 20  # media bytes after moov before `start`
CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _content_range(value: str) -> Optional[tuple]:
    match = CONTENT_RANGE.match(value or "")
    if not match:
        return None
    total = match.group(3)
    return int(match.group(1)), (int(total) if total.isdigit() else None)


def _size_text(value: int) -> str:
    return "%.1f GB" % (value / 1e9) if value >= 10 ** 9 else "%d MB" % (value // 10 ** 6)


class Mp4Recorder(BaseRecorder):
    """Streams an MP4 to rec_dir/stream_0.mp4; `start` once moov + 2 MiB are on disk."""

    recorder_type = "mp4"
    file_name = "stream_0.mp4"

    def __init__(self, *args: Any, retry: Optional[RetryPolicy] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry = retry or RetryPolicy(attempts=6, base=0.5, cap=10.0)
        self.out: Optional[BinaryIO] = None
        self.path = ""
        self.written = 0
        self.total: Optional[int] = None
        self.layout = TopLevelBoxes()
        self.started = False
        self.media_duration: Optional[float] = None
        self._said_moov_late = False

    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        if self.options.continue_recording:
            # One file, no sections: going on would mean trusting that the server's file is
            # still the same byte for byte; it is downloaded again by a new recording instead.
            raise RecorderError("continuing an MP4 download (continue_recording) is not "
                                "supported; nothing in %s was deleted" % self.rec_dir)
        self.path = os.path.join(self.rec_dir, self.file_name)
        failures = 0
        while True:
            self.check_stop()
            before = self.written
            try:
                if self._download_once():
                    break
                raise TransientError("connection closed after %d of %s bytes"
                                     % (self.written, self.total))
            except RETRYABLE as exc:
                failures = 0 if self.written > before else failures + 1
                if failures >= self.retry.attempts:
                    raise RecorderError("download incomplete (%d of %s bytes): %s"
                                        % (self.written, self.total or "?", exc),
                                        getattr(exc, "error_id", None)) from None
                delay = self.retry.delay(failures + 1)
                log.info("MP4 download interrupted at %d bytes (%s); resuming in %.1f s",
                         self.written, exc, delay)
                self.wait(delay)
        if self.written == 0 or self.out is None:
            # 200 with no body: there is no file to play (and the old recording stays)
            raise InvalidStreamError("the server sent an empty file (0 bytes): nothing to record")
        if self.layout.state == "mdat_first" or not self.started:
            self._start()
        self._progress(force=True)

    def _download_once(self) -> bool:
        """One GET (ranged when resuming); True when the whole file is on disk."""
        headers = {"Range": "bytes=%d-" % self.written} if self.written else None
        with self.http.stream(self.url, headers, what="video download") as resp:
            self._accept_response(resp)
            for chunk in iter_body(resp, CHUNK):
                if self.out is None:
                    self._open_output(chunk)
                self.volume.check(len(chunk))  # before the write: the file ends on what fits
                files.write_all(self.out, chunk)
                self.volume.wrote(len(chunk))
                self.written += len(chunk)
                self.layout.feed(chunk)
                self._maybe_start()
                self._progress()
                self.check_stop()
        self.check_stop()
        return self.total is None or self.written >= self.total

    def _accept_response(self, resp: Any) -> None:
        """Take the size from the response; restart cleanly when a server ignores Range."""
        if self.written:
            rng = _content_range(resp.headers.get("Content-Range", ""))
            if resp.status_code == 206 and rng and rng[0] == self.written:
                self.total = rng[1] or self.total
                return
            log.warning("server ignored the Range request; downloading again from the start")
            self._restart()
        length = resp.headers.get("Content-Length", "")
        rng = _content_range(resp.headers.get("Content-Range", ""))
        if rng and rng[1]:
            self.total = rng[1]
        elif length.isdigit() and "Content-Encoding" not in resp.headers:
            self.total = int(length)
        if self.total is not None and self.out is None:
            self._check_size(self.total)

    def _check_size(self, total: int) -> None:
        """Before the first byte (and before the old recording goes): can this file be stored?"""
        volume = self.volume
        if volume is None:
            return
        if not volume.fits(0, total):
            # a progressive MP4 cannot be split into sections like a TS
            raise FileTooLargeError(
                "the video is %s, larger than a file on this %s file system can be (%s); "
                "record to a hard disk or a stick formatted with ext4" % (
                    _size_text(total), volume.fs_type or "FAT", _size_text(volume.max_file_bytes)))

    def _restart(self) -> None:
        if self.out is not None:
            self.out.seek(0)
            self.out.truncate()
        self.written = 0
        self.layout = TopLevelBoxes()

    def _open_output(self, first_chunk: bytes) -> None:
        # The first bytes prove the stream (an MP4, not an error page) before old files go.
        TopLevelBoxes().feed(first_chunk[:16])
        files.cleanup(self.rec_dir)
        self.out = files.open_output(self.rec_dir, self.file_name)
        write_meta(self.path, self.title)
        log.info("recording %s into %s (%s bytes)", self.url, self.path, self.total or "unknown")

    def _maybe_start(self) -> None:
        if self.started:
            return
        if self.layout.state == "moov_first":
            if self.media_duration is None and self.written >= self.layout.moov_end:
                self.media_duration = mvhd_duration(self.path, self.layout.moov_start)
            if self.written >= self.layout.moov_end + START_MARGIN:
                self._start()
        elif self.layout.state == "mdat_first" and not self._said_moov_late:
            self._said_moov_late = True
            log.info("moov comes after mdat in this MP4: playback starts when the download "
                     "completes")

    def _start(self) -> None:
        if not self.started:
            self.started = True
            self.start_playback(self.url, self.path)

    def _progress(self, force: bool = False) -> None:
        media = 0.0
        if self.media_duration and self.total:
            media = self.media_duration * min(1.0, self.written / self.total)
        self.report_progress(force=force, done=self.written / self.total if self.total else None,
                             bytes_done=self.written, total_bytes=self.total, media_s=media)

    def release(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
