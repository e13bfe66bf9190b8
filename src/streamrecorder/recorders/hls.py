"""HLS with MPEG-TS segments, VOD and live: one loop, two small playlist policies."""

import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from .. import files
from ..errors import (InvalidStreamError, NotFoundError, RecorderError, StopRequested,
                      StreamTimeoutError)
from ..hls import playlist as hls_playlist
from ..hls.fetch import OrderedFetcher, SegmentFetcher
from ..hls.live import LiveWindow, StallDetector, reload_delay
from ..hls.plan import Plan, Planner
from ..hls.playlist import Segment
from ..hls.sections import SectionWriter
from ..http import RETRYABLE, RetryPolicy, redact
from .base import BaseRecorder, NothingRecorded

log = logging.getLogger(__name__)

# A live playlist answering 404/410 this many reloads in a row: read the master again.
REREAD_MASTER_AFTER = 3
MAX_VOD_FAILURES_IN_A_ROW = 10
# Segments in flight and waiting to be written, at most (bench/memory.py: with 16 MiB a 20 Mbit/s
# recording peaks below ffmpeg's own, at any parallel setting).
QUEUE_BYTES = 16 << 20


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

    def __init__(self, *args: Any, retry: Optional[RetryPolicy] = None,
                 queue_bytes: int = QUEUE_BYTES, stall_floor: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every option goes on to the ffmpeg recorder when this stream needs it
        self._options = dict(kwargs, retry=retry)
        self.stall_floor = stall_floor
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
        self._skip_ads = False
        self._last_disc: Optional[int] = None
        self._gap = False
        self._final_progress_sent = False
        self._planner: Optional[Planner] = None

    # --- playlists --------------------------------------------------------------------------
    def load_media_playlist(self, url: str) -> Any:
        assert self._planner is not None
        imports = self.plan.imports if self.plan is not None else None
        return self._planner.load(url, imports, retry=False)[1]

    def reread_master(self) -> Optional[str]:
        """The media playlist URL the master playlist names now; None without a master or
        when it cannot be read (the live reloads go on and the stall limit ends them)."""
        if self._planner is None or self.plan is None or self.plan.master_url is None:
            return None
        log.info("live playlist gone: reading the master playlist again")
        try:
            return self._planner.media_url_now(self.plan.master_url)
        except RETRYABLE + (NotFoundError,) as exc:
            log.warning("the master playlist could not be read again: %s", exc)
            return None

    # --- recording --------------------------------------------------------------------------
    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        assert self.http is not None
        self._planner = Planner(self.http, self.options, self.retry)
        plan: Plan = self.plan or self._planner.plan(self.url)
        self.plan = plan
        if plan.recorder_id == "hls_m4s":
            self._record_with_ffmpeg(resolve_result, plan)
            return
        buffering = self.options.buffering
        self._skip_ads = not self.options.show_ads
        segs = plan.video.segments
        if plan.live:
            policy: Any = LivePolicy(self, plan.video.url, plan.playlist, buffering, self.stall_floor)
        else:
            policy = VodPolicy(segs)
        log.info("%s playlist with %d segment(s), target duration %ss, %d parallel download(s)",
                 "live" if policy.live else "VOD", len(segs), plan.video.target_duration,
                 self.options.parallel)
        self._run(policy, buffering)

    def _record_with_ffmpeg(self, resolve_result: Dict[str, Any], plan: Plan) -> None:
        from .hls_m4s import HlsM4sRecorder
        log.info("recording through ffmpeg (%s)", "separate audio rendition" if plan.audio
                 else "transcoding" if plan.transcode else "fMP4 segments")
        inner = HlsM4sRecorder(**self._options)
        inner.plan = plan
        self.delegate(inner, dict(resolve_result, recorder_id="hls_m4s"))

    def _run(self, policy: Any, buffering: int) -> None:
        segment_fetcher = SegmentFetcher(self.http, self.retry)
        self.fetcher = OrderedFetcher(
            lambda seg: segment_fetcher.fetch(seg, give_up=lambda: self._gone(policy, seg)),
            workers=self.options.parallel, max_bytes=self.queue_bytes,
            estimate=self.plan.segment_bytes if self.plan is not None else None)
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
            while todo and self.fetcher.can_submit(todo[0]):
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
        writer = self.writer
        self.report_progress(
            force=force, done=self.segment_index / total if total else None,
            bytes_done=writer.bytes_written if writer else 0,
            section_index=max(0, writer.index) if writer else 0,
            segment_index=self.segment_index, media_s=writer.media_seconds if writer else 0.0,
            skipped_segments=self.skipped_segments)

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
