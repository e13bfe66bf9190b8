"""HLS with MPEG-TS segments, VOD and live: one loop, two small playlist policies."""

import logging
from typing import Any, Dict, List, Optional, Tuple

from .. import files, state
from ..errors import InvalidStreamError, NotFoundError, RecorderError, StopRequested
from ..hls import playlist as hls_playlist, resume
from ..hls.fetch import OrderedFetcher, SegmentFetcher
from ..hls.live import LiveWindow, Outage, StallDetector, missing_media, reload_delay
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
# stream_state.json is rewritten (fsync + rename) after a segment at most this often, and at the end
STATE_EVERY_S = 2.0


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
    """A live playlist: start near the edge, reload on RFC 8216 timing, stall detection, and
    outages ridden out with backoff (hls.live.Outage)."""

    live = True
    total = None

    def __init__(self, recorder: "HlsRecorder", media_url: str, pl: Any, start_behind: int,
                 stall_floor: float = 30.0, outage_limit: float = Outage.LIMIT,
                 earlier: Optional[state.RecordingState] = None) -> None:
        self.recorder = recorder
        self.url = media_url
        self._clock = recorder.clock.monotonic
        self.window = LiveWindow(start_behind)
        self.stall = StallDetector(clock=self._clock, floor=stall_floor)
        self.outage = Outage(clock=self._clock, limit=outage_limit)
        self.ended = False
        self._listed: set = set()
        segs = hls_playlist.segments(pl)
        self._newest: Optional[Segment] = segs[-1] if segs else None  # the newest listed
        self._first = resume.live_start(earlier, segs, self.window.update(self._note(segs)))
        self.ended = hls_playlist.is_endlist(pl)
        self._target = float(pl.target_duration or 6)
        self._last_duration = self._segs_last_duration(pl)
        self._last_request = self._last_answer = self._clock()
        self._changed = True
        self._gone_in_a_row = 0

    def _failed(self, exc: Exception) -> None:
        log.warning("live playlist reload failed: %s", exc)
        self._changed = False
        # raises once the outage outlasts its limit
        self.outage.failed(exc, self._window_s, reload_delay(self._target, False, None, 0.0))

    def _vanished(self, exc: NotFoundError) -> None:
        """A 404/410 for a live playlist: a CDN hiccup, or the variant moved (new tokens or
        paths in the master). Reloads go on; every few, the master is read again."""
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
        self._window_s = sum(s.duration for s in segs)
        return segs

    def initial(self) -> List[Segment]:
        segs, self._first = self._first, []
        return segs

    def still_listed(self, seg: Segment) -> bool:
        return seg.media_sequence in self._listed

    def next_reload_in(self) -> float:
        elapsed = self._clock() - self._last_request
        if self.outage.active:
            return max(0.0, self.outage.delay - elapsed)
        return reload_delay(self._target, self._changed, self._last_duration, elapsed)

    def reload(self) -> List[Segment]:
        """Fetch the playlist again; new segments in order (a failed reload counts as unchanged)."""
        now = self._last_request = self._clock()
        try:
            pl = self.recorder.load_media_playlist(self.url)
        except RETRYABLE as exc:
            self._failed(exc)
            return []
        except NotFoundError as exc:
            self._vanished(exc)
            return []
        self._gone_in_a_row = 0
        lasted = self.outage.ended()
        if lasted:
            log.info("the live playlist answers again after %.0f s", lasted)
            self.stall.excuse(lasted)
        self._target = float(pl.target_duration or self._target)
        self._last_duration = self._segs_last_duration(pl) or self._last_duration
        missed_before, resets, before = self.window.missed, self.window.resets, self._newest
        segs = hls_playlist.segments(pl)
        new = self.window.update(self._note(segs))
        missed = self.window.missed - missed_before
        if segs and (before is None or self.window.resets != resets
                     or segs[-1].media_sequence > before.media_sequence):
            self._newest = segs[-1]  # not from a stale reload of a lagging CDN edge
        if missed:
            # Left the window during an outage: never silent, counted like any skipped segment.
            seconds, how = missing_media(before, new, now - self._last_answer)
            log.warning("%d live segment(s) left the playlist before they could be fetched: "
                        "about %.1f s of media missing (from %s)", missed, seconds, how)
            self.recorder.skipped_segments += missed
            self.recorder.missing_s += seconds
        self._last_answer = now
        self._changed = self.window.changed
        self.stall.observe(self._changed, self._target)
        if hls_playlist.is_endlist(pl):
            self.ended = True
        return new


class HlsRecorder(BaseRecorder):
    """Records HLS with TS segments into stream_<n>.ts: parallel fetch, ordered joined writes."""

    recorder_type = "hls_basic"

    def __init__(self, *args: Any, retry: Optional[RetryPolicy] = None,
                 queue_bytes: int = QUEUE_BYTES, stall_floor: float = 30.0,
                 outage_limit: float = Outage.LIMIT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every option goes on to the ffmpeg recorder when this stream needs it
        self._options = dict(kwargs, retry=retry)
        self.stall_floor = stall_floor
        self.outage_limit = float(outage_limit)  # seconds a live playlist may fail in a row
        # stop() ends a wait between retries at once (delegate() may swap the event)
        self.retry = retry or RetryPolicy(
            attempts=4, base=0.5, cap=4.0,
            sleep=lambda seconds: self.clock.wait(self.stop_event, seconds))
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
        self._first_section = 0  # a continued recording: after the sections in rec_dir
        self._last_seg: Optional[Segment] = None  # the last segment written
        self._state_saved = float("-inf")
        self._live = False
        self._original_url: Optional[str] = None
        self._earlier: Optional[state.RecordingState] = None  # what a continued one goes on from

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
        self._live = plan.live
        self._original_url = resolve_result.get("original_url") or None
        if self.options.continue_recording:
            self._earlier = resume.earlier(self.rec_dir, self.url, self._original_url, plan.live)
            self._first_section = files.next_section(self.rec_dir)
            log.info("continuing the recording in %s: new sections from stream_%d.ts",
                     self.rec_dir, self._first_section)
        if plan.live:
            policy: Any = LivePolicy(self, plan.video.url, plan.playlist, buffering,
                                     self.stall_floor, self.outage_limit, self._earlier)
        else:
            self._first_sequence = segs[0].media_sequence if segs else None
            segs = resume.vod_rest(self._earlier, segs)
            if not segs:
                log.info("the earlier recording in %s already holds the whole VOD", self.rec_dir)
                return
            policy = VodPolicy(segs)
        log.info("%s playlist with %d segment(s), target duration %ss, %d parallel download(s)",
                 "live" if policy.live else "VOD", len(segs), plan.video.target_duration,
                 self.options.parallel)
        self._run(policy, buffering)

    def _save_state(self, force: bool) -> None:
        """stream_state.json after the last segment written (at most every STATE_EVERY_S, and
        at the end): where a continued recording goes on."""
        seg, writer = self._last_seg, self.writer
        if seg is None or writer is None:
            return
        now = self.clock.monotonic()
        if not force and now - self._state_saved < STATE_EVERY_S:
            return
        self._state_saved = now
        earlier = self._earlier
        values = dict(
            section_index=writer.current, media_sequence=seg.media_sequence,
            playlist_index=None if self._live else self._playlist_index(seg),
            missing_s=round(self.missing_s + (earlier.missing_s if earlier else 0.0), 3),
            skipped_segments=self.skipped_segments + (earlier.skipped_segments if earlier else 0),
            updated=self.clock.time())
        try:
            state.write(self.rec_dir, state.new(self.url, self.recorder_type, self._live,
                                                self._original_url, **values))
        except OSError as exc:
            log.warning("could not write %s in %s: %s", files.STATE_NAME, self.rec_dir,
                        exc.strerror or exc)

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
            if not self.options.continue_recording:
                files.cleanup(self.rec_dir)  # the stream proved itself: a valid first segment
            self.writer = SectionWriter(self.rec_dir, self.volume, self.title, self.clock.time(),
                                        first_index=self._first_section)
        discontinuity = (self._gap or seg.discontinuity
                         or (self._last_disc is not None and seg.discontinuity_sequence != self._last_disc))
        self.writer.write(data, discontinuity)
        self._gap = False
        self._last_disc = seg.discontinuity_sequence
        self.valid_segments += 1
        self._last_seg = seg
        section = self.writer.index
        self._section_last[section] = (self.writer.path, self._playlist_index(seg))
        self._save_state(force=False)
        self._start_pending_sections(every=False)  # an earlier section that never got its start
        if section not in self._started_sections:
            # The first section waits for `buffering` segments; a skipped one counts as waited
            # for, so a short VOD with a missing segment still starts (its end starts it anyway).
            first = section == self._first_section
            done = self.segment_index if first else self.writer.segments_in_section
            if done >= (start_after if first else 1):
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
            self._save_state(force=True)
            if not self._final_progress_sent:
                self._progress(force=True)  # the final numbers also when stopped mid-way


class HlsBasicRecorder(HlsRecorder):
    """`hls_basic`: HLS with TS segments (a playlist without ENDLIST is followed live)."""

    recorder_type = "hls_basic"


class HlsLiveRecorder(HlsRecorder):
    """`hls_live`: the same loop; starts at the live edge minus `buffering` segments."""

    recorder_type = "hls_live"
