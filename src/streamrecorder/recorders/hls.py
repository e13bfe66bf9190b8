"""HLS with MPEG-TS segments, VOD and live: one loop, two small playlist policies."""

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import files
from ..errors import (InvalidStreamError, NotFoundError, RecorderError, StopRequested,
                      StreamTimeoutError)
from ..hls import playlist as hls_playlist
from ..hls import variants
from ..hls.fetch import OrderedFetcher, SegmentFetcher
from ..hls.live import LiveWindow, StallDetector, reload_delay
from ..hls.playlist import Segment
from ..hls.sections import SectionWriter
from ..http import RETRYABLE, RetryPolicy, redact
from ..messages import ProgressThrottle, SpeedMeter, progress_message
from .base import BaseRecorder, NothingRecorded

log = logging.getLogger(__name__)

PLAYLIST_LIMIT = hls_playlist.MAX_PLAYLIST_BYTES
MAX_MASTER_DEPTH = 3
# A live playlist answering 404/410 this many reloads in a row: read the master again.
REREAD_MASTER_AFTER = 3
MAX_VOD_FAILURES_IN_A_ROW = 10


class VodPolicy:
    """A finished playlist: every segment once, no reloads."""

    live = False

    def __init__(self, segs: List[Segment]) -> None:
        self._segs = list(segs)
        self.total = len(segs)

    def initial(self) -> List[Segment]:
        segs, self._segs = self._segs, []
        return segs

    def still_listed(self, seg: Segment) -> bool:
        return True


class LivePolicy:
    """A live playlist: start near the edge, reload on RFC 8216 timing, stall detection."""

    live = True
    total = None

    def __init__(self, recorder: "HlsRecorder", media_url: str, pl: Any, start_behind: int,
                 stall_floor: float = 30.0) -> None:
        self.recorder = recorder
        self.url = media_url
        self.window = LiveWindow(start_behind)
        self.stall = StallDetector(floor=stall_floor)
        self.ended = False
        self._listed: set = set()
        self._first = self.window.update(self._note(hls_playlist.segments(pl)))
        self.ended = hls_playlist.is_endlist(pl)
        self._target = float(pl.target_duration or 6)
        self._last_duration = self._segs_last_duration(pl)
        self._last_request = time.monotonic()
        self._changed = True
        self._gone_in_a_row = 0
        self._gone_error: Optional[NotFoundError] = None

    def _failed(self, exc: Exception) -> None:
        log.warning("live playlist reload failed: %s", exc)
        self._changed = False
        try:
            self.stall.observe(False, self._target)
        except StreamTimeoutError:
            # a playlist that is gone (404) ends as not_found: a dead link, not a slow one
            if self._gone_error is not None:
                raise self._gone_error from None
            raise

    def _vanished(self, exc: NotFoundError) -> None:
        """A 404/410 for a live playlist: a CDN hiccup, or the variant moved (new tokens or
        paths in the master). Reloads go on; every few, the master is read again."""
        self._gone_error = exc
        self._gone_in_a_row += 1
        if self._gone_in_a_row % REREAD_MASTER_AFTER == 0:
            new_url = self.recorder.reread_master()
            if new_url is not None and new_url != self.url:
                log.info("the master playlist now names another variant playlist: %s",
                         redact(new_url))
                self.url = new_url
        self._failed(exc)

    @staticmethod
    def _segs_last_duration(pl: Any) -> Optional[float]:
        return float(pl.segments[-1].duration) if pl.segments else None

    def _note(self, segs: List[Segment]) -> List[Segment]:
        self._listed = {s.media_sequence for s in segs}
        return segs

    def initial(self) -> List[Segment]:
        segs, self._first = self._first, []
        return segs

    def still_listed(self, seg: Segment) -> bool:
        return seg.media_sequence in self._listed

    def next_reload_in(self) -> float:
        elapsed = time.monotonic() - self._last_request
        return reload_delay(self._target, self._changed, self._last_duration, elapsed)

    def reload(self) -> List[Segment]:
        """Fetch the playlist again; new segments in order (a failed reload counts as unchanged)."""
        self._last_request = time.monotonic()
        try:
            pl = self.recorder.load_media_playlist(self.url)
        except RETRYABLE as exc:
            self._failed(exc)
            return []
        except NotFoundError as exc:
            self._vanished(exc)
            return []
        self._gone_in_a_row, self._gone_error = 0, None
        self._target = float(pl.target_duration or self._target)
        self._last_duration = self._segs_last_duration(pl) or self._last_duration
        missed_before = self.window.missed
        new = self.window.update(self._note(hls_playlist.segments(pl)))
        missed = self.window.missed - missed_before
        if missed:
            # Left the window during an outage: never silent, counted like any skipped segment.
            log.warning("%d live segment(s) left the playlist before they could be fetched", missed)
            self.recorder.skipped_segments += missed
        self._changed = self.window.changed
        self.stall.observe(self._changed, self._target)
        if hls_playlist.is_endlist(pl):
            self.ended = True
        return new


class HlsRecorder(BaseRecorder):
    """Records HLS with TS segments into stream_<n>.ts: parallel fetch, ordered joined writes."""

    recorder_type = "hls_basic"

    def __init__(self, *args: Any, parallel: int = 4, codecs: Tuple[str, ...] = variants.DEFAULT_CODECS,
                 retry: Optional[RetryPolicy] = None, queue_bytes: int = 32 << 20,
                 audio_language: Optional[str] = None, stall_floor: float = 30.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every option goes on to the ffmpeg recorder when this stream needs it
        self._options = dict(kwargs, codecs=codecs, retry=retry, audio_language=audio_language)
        self.stall_floor = stall_floor
        self.parallel = max(1, int(parallel))
        self.codecs = tuple(codecs)
        self.audio_language = audio_language
        # stop() ends a wait between retries at once (delegate() may swap the event)
        self.retry = retry or RetryPolicy(attempts=4, base=0.5, cap=4.0,
                                          sleep=lambda seconds: self.stop_event.wait(seconds))
        self.queue_bytes = queue_bytes
        self.fetcher: Optional[OrderedFetcher] = None
        self.writer: Optional[SectionWriter] = None
        self.segment_index = 0
        self.written_segments = 0
        self.valid_segments = 0
        self._failures_in_a_row = 0
        self._started_sections: set = set()
        # section index -> (file, playlist index of the last segment written into it)
        self._section_last: Dict[int, Tuple[str, int]] = {}
        self._first_sequence: Optional[int] = None  # VOD: media sequence of playlist index 0
        self._throttle = ProgressThrottle()
        self._speed = SpeedMeter()
        self._skip_ads = False
        self._last_disc: Optional[int] = None
        self._gap = False
        self._final_progress_sent = False
        self._resolve_result: Optional[Dict[str, Any]] = None
        self._master_url: Optional[str] = None

    # --- playlists --------------------------------------------------------------------------
    def load_media_playlist(self, url: str) -> Any:
        body, final = self.http.fetch(url, max_bytes=PLAYLIST_LIMIT, what="playlist")
        return hls_playlist.parse_checked(body, final)

    def reread_master(self) -> Optional[str]:
        """The media playlist URL the master playlist names now; None without a master or
        when it cannot be read (the live reloads go on and the stall limit ends them)."""
        if self._resolve_result is None or self._master_url is None:
            return None
        log.info("live playlist gone: reading the master playlist again")
        try:
            url, _pl, _variant = self.resolve_playlist(self._resolve_result)
        except RETRYABLE + (NotFoundError,) as exc:
            log.warning("the master playlist could not be read again: %s", exc)
            return None
        return url

    def resolve_playlist(self, resolve_result: Dict[str, Any]) -> Tuple[str, Any, Any]:
        """(media playlist URL, parsed media playlist, chosen variant or None)."""
        self._resolve_result = resolve_result
        url = self.url
        variant = None
        for _ in range(MAX_MASTER_DEPTH):
            body, final = self.retry.run(
                lambda u=url: self.http.fetch(u, max_bytes=PLAYLIST_LIMIT, what="playlist"),
                what="playlist")
            pl = hls_playlist.parse_checked(body, final)
            if not hls_playlist.is_master(pl):
                return final, pl, variant
            self._master_url = final
            variant = variants.choose_variant(pl, resolve_result.get("quality", "best"),
                                              self.codecs, self.audio_language)
            log.info("variant: %s (%s bps, %s, codecs %s)", redact(variant.url), variant.bandwidth,
                     "x".join(map(str, variant.resolution)) if variant.resolution else "?",
                     ",".join(variant.codecs) or "unknown")
            url = variant.url
        raise InvalidStreamError("master playlists nested more than %d deep" % MAX_MASTER_DEPTH)

    # --- recording --------------------------------------------------------------------------
    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        buffering = max(1, int(resolve_result.get("buffering") or 5))
        # show_ads defaults to False: ad segments are dropped unless the result asks for them
        self._skip_ads = not resolve_result.get("show_ads", False)
        media_url, pl, variant = self.resolve_playlist(resolve_result)
        if variant is not None and variant.audio_url:
            self._record_with_ffmpeg(resolve_result, variant)
            return
        segs = hls_playlist.segments(pl)
        if any(s.init is not None for s in segs):
            log.info("fMP4 segments (EXT-X-MAP): recording through ffmpeg")
            self._record_with_ffmpeg(resolve_result, variant)
            return
        if hls_playlist.is_endlist(pl):
            policy: Any = VodPolicy(segs)
        else:
            policy = LivePolicy(self, media_url, pl, buffering, self.stall_floor)
        log.info("%s playlist with %d segment(s), target duration %ss, %d parallel download(s)",
                 "live" if policy.live else "VOD", len(segs), pl.target_duration, self.parallel)
        self._run(policy, buffering)

    def _record_with_ffmpeg(self, resolve_result: Dict[str, Any], variant: Any) -> None:
        try:
            from .hls_m4s import HlsM4sRecorder
        except ImportError:
            raise RecorderError("this stream needs the ffmpeg recorder (separate audio or fMP4 "
                                "segments), which is not available") from None
        if variant is not None and variant.audio_url:
            log.info("the chosen variant has its audio in a separate rendition (%s): recording "
                     "through ffmpeg with both renditions mapped", variant.audio_language or "?")
        inner = HlsM4sRecorder(**self._options)
        self.delegate(inner, dict(resolve_result, recorder_id="hls_m4s"))

    def _run(self, policy: Any, buffering: int) -> None:
        segment_fetcher = SegmentFetcher(self.http, self.retry)
        self.fetcher = OrderedFetcher(
            lambda seg: segment_fetcher.fetch(seg, give_up=lambda: self._gone(policy, seg)),
            workers=self.parallel, max_bytes=self.queue_bytes)
        initial = policy.initial()
        if not policy.live and initial:
            self._first_sequence = initial[0].media_sequence
        todo = [s for s in initial if self._wanted(s)]
        self._total = policy.total
        start_after = buffering if policy.total is None else min(buffering, max(1, policy.total))
        try:
            self._loop(policy, todo, start_after)
        except (StopRequested, RecorderError) as exc:
            if (policy.live and self.valid_segments == 0
                    and (isinstance(exc, StopRequested) or self.stop_event.is_set())):
                # stopped (or `duration` over) before any segment: no file, nothing to keep
                raise NothingRecorded("no segment arrived before the recording ended") from None
            raise
        if self.valid_segments == 0:
            raise InvalidStreamError("no playable segment arrived")
        self._start_pending_sections(every=True)  # the VOD (or live stream) ended
        self._progress(force=True)
        self._final_progress_sent = True

    def _loop(self, policy: Any, todo: List[Segment], start_after: int) -> None:
        while True:
            self.check_stop()
            while todo and self.fetcher.can_submit():
                self.fetcher.submit(todo.pop(0))
            if policy.live and not policy.ended and policy.next_reload_in() <= 0:
                todo.extend(s for s in policy.reload() if self._wanted(s))
                continue
            if not todo and not len(self.fetcher):
                if not policy.live or policy.ended:
                    break
                self.wait(min(policy.next_reload_in(), 0.5))
                continue
            wait = 0.2 if not policy.live else max(0.01, min(0.2, policy.next_reload_in()))
            result = self.fetcher.next_result(wait)
            if result is not None:
                self._handle(result, start_after)

    def _gone(self, policy: Any, seg: Segment) -> bool:
        return self.stop_event.is_set() or not policy.still_listed(seg)

    def _wanted(self, seg: Segment) -> bool:
        if seg.gap:  # EXT-X-GAP: the server has no media there; never requested
            self.missing_s += seg.duration
            self._gap = True
            return False
        if self._skip_ads and seg.is_ad:
            self._gap = True  # the next kept segment continues the timeline
            return False
        return True

    def _handle(self, result: Any, start_after: int) -> None:
        seg, data, error = result
        self.segment_index += 1
        if error is not None:
            self._skip(seg, error)
            return
        self._failures_in_a_row = 0
        if self.writer is None:
            files.cleanup(self.rec_dir)  # the stream proved itself: a valid first segment
            self.writer = SectionWriter(self.rec_dir, self.volume, self.title, time.time())
        discontinuity = (self._gap or seg.discontinuity
                         or (self._last_disc is not None and seg.discontinuity_sequence != self._last_disc))
        self.writer.write(data, discontinuity)
        self._gap = False
        self._last_disc = seg.discontinuity_sequence
        self.valid_segments += 1
        self._speed.add(self.writer.bytes_written)
        section = self.writer.index
        self._section_last[section] = (self.writer.path, self._playlist_index(seg))
        self._start_pending_sections(every=False)  # an earlier section that never got its start
        if section not in self._started_sections:
            # Section 0 waits for `buffering` segments; a skipped one counts as waited for, so
            # a short VOD with a missing segment still starts (and its end starts it anyway).
            done = self.segment_index if section == 0 else self.writer.segments_in_section
            if done >= (start_after if section == 0 else 1):
                self._send_start(section)
        self._progress()

    def _playlist_index(self, seg: Segment) -> int:
        """0-based playlist index of seg (VOD); for live, its place in this recording."""
        if self._first_sequence is not None:
            return seg.media_sequence - self._first_sequence
        return self.segment_index - 1

    def _send_start(self, section: int) -> None:
        path, index = self._section_last[section]
        self._started_sections.add(section)
        self.start_playback(self.url, path, section, index)

    def _start_pending_sections(self, every: bool) -> None:
        """`start` for sections holding data without one: those before the current section, and
        with every=True (the stream ended) the current one too."""
        current = self.writer.index if self.writer is not None else -1
        for section in sorted(self._section_last):
            if section not in self._started_sections and (every or section < current):
                self._send_start(section)

    def _skip(self, seg: Segment, error: BaseException) -> None:
        if isinstance(error, StopRequested) or self.stop_event.is_set():
            self.check_stop()
        self._failures_in_a_row += 1
        first_ones = self.valid_segments == 0 and self._failures_in_a_row >= min(3, self._total or 3)
        # A VOD whose segments keep failing is broken; a live stream may come back (the stall
        # detector ends it when the playlist stops moving).
        many = self._total is not None and self._failures_in_a_row > MAX_VOD_FAILURES_IN_A_ROW
        if first_ones or many:
            if isinstance(error, RecorderError):
                raise error
            raise RecorderError(str(error))
        if not isinstance(error, RecorderError):
            log.debug("segment %d failed", seg.media_sequence, exc_info=error)
        self.skipped_segments += 1
        self.missing_s += seg.duration
        self._gap = True
        log.warning("segment %d skipped after retries: %s", seg.media_sequence, error)
        self._progress(force=True)

    def _progress(self, force: bool = False) -> None:
        total = self._total
        percent = 100.0 * self.segment_index / total if total else None
        if not force and not self._throttle.due(percent):
            return
        written = self.writer.bytes_written if self.writer else 0
        self._speed.add(written)
        speed = self._speed.bps()
        eta = None
        if total and self.segment_index:
            elapsed = time.monotonic() - self.started_at
            eta = elapsed / self.segment_index * (total - self.segment_index)
        self.emit(progress_message(
            self.recorder_type, section_index=max(0, self.writer.index if self.writer else 0),
            segment_index=self.segment_index, bytes_done=written, total_bytes=None,
            percent=percent, speed_bps=speed, eta_s=eta,
            media_s=self.writer.media_seconds if self.writer else 0.0,
            skipped_segments=self.skipped_segments))

    def release(self) -> None:
        if self.fetcher is not None:
            if len(self.fetcher) and self.http is not None:
                self.http.abort()
            self.fetcher.close()
            self.fetcher = None
        if self.writer is not None:
            self.writer.close()
            if not self._final_progress_sent:
                self._progress(force=True)  # the final numbers also when stopped mid-way


class HlsBasicRecorder(HlsRecorder):
    """`hls_basic`: HLS with TS segments (a playlist without ENDLIST is followed live)."""

    recorder_type = "hls_basic"


class HlsLiveRecorder(HlsRecorder):
    """`hls_live`: the same loop; starts at the live edge minus `buffering` segments."""

    recorder_type = "hls_live"
