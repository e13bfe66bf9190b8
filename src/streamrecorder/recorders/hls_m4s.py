"""`hls_m4s`: HLS with fMP4/CMAF segments (EXT-X-MAP) or separate renditions, remuxed by
ffmpeg into a growing TS.

The plan (hls.plan) has checked the stream first (playlists through the session, variant,
DRM, the init section and its codecs), so a dead, forbidden or protected URL gets the right
error_id and never wipes the last recording; then ffmpeg copies the chosen media playlist(s)
into section files (`-c copy`, no transcoding unless the user allowed it and nothing else fits).
"""

import logging
import os
import select
import time
from bisect import bisect_right
from typing import Any, Dict, List, Optional, Set

from .. import ffmpeg, files, state
from ..errors import InvalidStreamError, RecorderError, StreamTimeoutError
from ..hls import playlist as hls_playlist
from ..hls.adfree import AdFreePlaylist
from ..hls.plan import Media, Plan, Planner
from ..hls.sections import StreamSections
from ..http import RetryPolicy
from .base import BaseRecorder

log = logging.getLogger(__name__)

OUTPUT_NAME = "stream_0.ts"
PIPE_CHUNK = 1 << 20


class HlsM4sRecorder(BaseRecorder):
    """Records HLS with fMP4 segments (or separate audio renditions) through ffmpeg remuxing."""

    recorder_type = "hls_m4s"

    def __init__(self, *args: Any, ffmpeg_path: str = "ffmpeg", retry: Optional[RetryPolicy] = None,
                 stall_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink: Optional[StreamSections] = None
        self._pipe = -1
        self._eof = False
        self.ffmpeg_path = ffmpeg_path
        # The wait between retries ends at once on stop() (the event may be swapped by delegate()).
        self.retry = retry or RetryPolicy(
            attempts=3, base=0.5, cap=4.0,
            sleep=lambda seconds: self.clock.wait(self.stop_event, seconds))
        self.stall_timeout = float(stall_timeout)
        self.process: Optional[ffmpeg.FfmpegProcess] = None
        self.command: List[str] = []
        self._skipped_keys: Set[str] = set()
        self._playlist_server: Optional[ffmpeg.PlaylistServer] = None
        self._planner: Optional[Planner] = None
        self._served: Dict[str, str] = {}   # media playlist URL -> the ad-free copy ffmpeg reads

    # --- ffmpeg ---------------------------------------------------------------------------------
    def _input(self, media: Media, buffering: int) -> ffmpeg.HttpInput:
        assert self.http is not None
        verify = self.verify_tls if self.verify_tls is not None else self.http.session.verify
        return ffmpeg.session_input(
            self.http.session, self._served.get(media.url, media.url), list(self.http.headers.items()),
            verify, media.inline_keys, -buffering if media.live else None, origin=media.url)

    def _serve_ad_free(self, media: Media, planner: Planner, name: str,
                       imports: Optional[Dict[str, str]]) -> None:
        """ffmpeg reads media without its ads from a loopback URL (rewritten on every reload of
        a live playlist; the original is fetched through the session)."""
        if self._playlist_server is None:
            self._playlist_server = ffmpeg.PlaylistServer()
        rewrite = AdFreePlaylist()
        if not media.live:
            body = rewrite.render(media.segments, False)
            self._served[media.url] = self._playlist_server.publish(name, lambda: body)
            return

        def page() -> bytes:
            _final, pl = planner.load(media.url, imports)
            return rewrite.render(hls_playlist.segments(pl), not hls_playlist.is_endlist(pl))

        self._served[media.url] = self._playlist_server.publish(name, page)

    def build_command(self, info: ffmpeg.FfmpegInfo, plan: Plan, planner: Planner,
                      output: str) -> List[str]:
        buffering = self.options.buffering
        if not self.options.show_ads:
            # A live playlist may list its first ad break only later: always rewritten.
            for media, name in ((plan.video, "video.m3u8"), (plan.audio, "audio.m3u8")):
                if media is not None and (media.ads or media.live) and media.url not in self._served:
                    self._serve_ad_free(media, planner, name, plan.imports)
        audio = self._input(plan.audio, buffering) if plan.audio is not None else None
        return ffmpeg.hls_command(info, self._input(plan.video, buffering), audio,
                                  plan.transcode_video, plan.transcode_audio, output)

    def _first_section(self, plan: Plan) -> int:
        """0, or for a continued live recording the number after the sections in rec_dir.

        A VOD is not continued on this path: where ffmpeg's remuxed output ended cannot be
        tied to a segment exactly, so resuming there could repeat or drop media."""
        if not self.options.continue_recording:
            return 0
        if not plan.live:
            raise RecorderError("continuing a VOD recorded through ffmpeg (fMP4 segments, a "
                                "separate audio rendition or transcoding) is not supported; "
                                "nothing in %s was deleted" % self.rec_dir)
        first = files.next_section(self.rec_dir)
        log.info("continuing the live recording in %s from stream_%d.ts", self.rec_dir, first)
        return first

    def _save_state(self) -> None:
        """stream_state.json: which section a live recording through ffmpeg wrote last."""
        sink, plan = self.sink, self.plan
        if sink is None or sink.index < sink.first_index or plan is None:
            return
        try:
            state.write(self.rec_dir, state.new(
                self.url, self.recorder_type, plan.live, section_index=sink.index,
                skipped_segments=self.skipped_segments, missing_s=self.missing_s,
                updated=self.clock.time()))
        except OSError as exc:
            log.warning("could not write %s in %s: %s", files.STATE_NAME, self.rec_dir,
                        exc.strerror or exc)

    def _on_stderr(self, line: str) -> None:
        skipped, key = ffmpeg.skipped_in_line(line)
        if skipped and (key is None or key not in self._skipped_keys):
            if key is not None:
                self._skipped_keys.add(key)
            self.skipped_segments += skipped
            log.warning("ffmpeg skipped media: %s", ffmpeg.clean_line(line))

    # --- recording ------------------------------------------------------------------------------
    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        buffering = self.options.buffering
        info = ffmpeg.probe(self.ffmpeg_path)
        assert self.http is not None
        # Everything here goes to ffmpeg's -headers: a CR/LF is refused before any request.
        ffmpeg.header_block((str(k), str(v)) for k, v in self.http.session.headers.items()
                            if v is not None)
        planner = self._planner = Planner(self.http, self.options, self.retry)
        plan = self.plan or planner.plan(self.url, ffmpeg=True)
        planner.prove(plan)
        self.plan = plan
        first_section = self._first_section(plan)
        # Built (and so checked) before the old recording goes; the output fd comes after.
        self.command = self.build_command(info, plan, planner, "pipe:1")
        self.check_stop()
        if not self.options.continue_recording:
            files.cleanup(self.rec_dir)  # the stream proved itself: playlist, no DRM, init section
        # ffmpeg writes into a pipe; the sink copies it into section files (reserve, size limit,
        # .ap index), so a FAT stick gets several files instead of EFBIG at 4 GiB.
        self.sink = StreamSections(self.rec_dir, self.volume, self.title, self.clock.time(),
                                   first_index=first_section)
        self._pipe, write_fd = os.pipe()
        self._eof = False
        self.command[-1] = "pipe:%d" % write_fd
        log.info("ffmpeg %s: %s", "transcode" if plan.transcode else "remux",
                 ffmpeg.describe_command(self.command))
        try:
            self.process = ffmpeg.FfmpegProcess(self.command, pass_fds=(write_fd,),
                                                on_stderr=self._on_stderr)
        finally:
            os.close(write_fd)  # ffmpeg holds the only write end: its exit means EOF here
        self.add_abort_hook(self.process.terminate)
        watch = _Watch(self, plan, buffering)
        try:
            self._supervise(self.process, watch, plan)
        finally:
            self.remove_abort_hook(self.process.terminate)
            if self.process.returncode is None:  # stopped, duration reached, or an error
                self._wind_down(self.process, watch)
                watch.drain(self.process, messages=False)
                watch.progress(force=True)

    def _supervise(self, proc: ffmpeg.FfmpegProcess, watch: "_Watch", plan: Plan) -> None:
        while not proc.exited():
            self.check_stop()
            self._pump(0.25, watch)
            self._take_progress(proc, watch)
            watch.tick()
        deadline = time.monotonic() + ffmpeg.TERMINATE_GRACE_S
        while not self._eof and time.monotonic() < deadline:
            self._pump(0.1, watch)  # what ffmpeg wrote just before it exited
        returncode = proc.reap()
        watch.drain(proc)
        if self.stop_event.is_set():
            return  # reason user: ffmpeg ended because stop() terminated it
        size = watch.size()
        if returncode != 0:
            raise ffmpeg.error_from_output(proc.stderr_tail(), returncode)
        if size == 0:
            raise InvalidStreamError("ffmpeg ended without writing any media: %s" % "; ".join(
                ffmpeg.clean_line(x) for x in proc.stderr_tail()[-3:]))
        if plan.live:
            self._confirm_live_end(plan, proc)
        watch.finish()

    def _pump(self, timeout: float, watch: "_Watch") -> None:
        """Copy what ffmpeg wrote into the section files (waits up to timeout for data)."""
        if self._eof or self._pipe < 0:
            time.sleep(timeout)
            return
        readable, _, _ = select.select([self._pipe], [], [], timeout)
        if not readable:
            return
        data = os.read(self._pipe, PIPE_CHUNK)
        if not data:
            self._eof = True
            return
        assert self.sink is not None
        if self.sink.feed(data) and self.sink.index > self.sink.first_index:
            # a later section (size limit): announced as soon as it holds data, after the
            # first one (complete now, even when it ended before `buffering` was reached)
            if not watch.started:
                watch.started = True
                self.start_playback(self.url, self.sink.paths[0], self.sink.first_index,
                                    watch.start_index)
            self.start_playback(self.url, self.sink.path, self.sink.index, watch.segment_index())

    @staticmethod
    def _take_progress(proc: ffmpeg.FfmpegProcess, watch: "_Watch") -> None:
        while True:
            block = proc.next_progress(0)
            if block is None:
                return
            watch.update(block)

    def _wind_down(self, proc: ffmpeg.FfmpegProcess, watch: "_Watch") -> None:
        """Stop ffmpeg and keep copying what it flushes (dropped after a disk error)."""
        start = time.monotonic()
        second_sigterm = True
        proc.terminate()
        while not self._eof and time.monotonic() - start < ffmpeg.TERMINATE_GRACE_S:
            if second_sigterm and time.monotonic() - start >= ffmpeg.SECOND_SIGTERM_AFTER_S:
                second_sigterm = False
                proc.terminate()  # the first one goes unnoticed inside a blocked read
            try:
                self._pump(0.1, watch)
            except (OSError, RecorderError) as exc:
                log.warning("the end of ffmpeg's output was not written: %s", exc)
        self._close_pipe()  # a writer still blocked on it gets EPIPE
        proc.stop()

    def _close_pipe(self) -> None:
        if self._pipe >= 0:
            os.close(self._pipe)
            self._pipe = -1

    def _confirm_live_end(self, plan: Plan, proc: ffmpeg.FfmpegProcess) -> None:
        """ffmpeg also ends a live input quietly (exit 0) when a playlist reload fails: only
        EXT-X-ENDLIST makes that a complete recording. A failing playlist raises its own error."""
        for media in (plan.video, plan.audio):
            if media is None or not media.live:
                continue
            assert self._planner is not None
            _, pl = self._planner.load(media.url, plan.imports)
            if not hls_playlist.is_endlist(pl):
                error = ffmpeg.error_from_output(proc.stderr_tail(), 0)
                raise type(error)("ffmpeg stopped reading the live stream before it ended (%s)"
                                  % error)

    def release(self) -> None:
        self._close_pipe()
        if self.process is not None:
            self.process.stop()
        if self._playlist_server is not None:
            self._playlist_server.close()
            self._playlist_server = None
        if self.sink is not None:
            self.sink.close()
            self._save_state()


class _Watch:
    """Turns ffmpeg's progress into start/progress messages; notices a stalled ffmpeg."""

    def __init__(self, recorder: HlsM4sRecorder, plan: Plan, buffering: int) -> None:
        self.rec = recorder
        segs = plan.video.kept(recorder.options.show_ads)
        self.live = plan.video.live
        self.durations = [s.duration for s in (segs[-buffering:] if self.live else segs)]
        self.ends: List[float] = []
        total = 0.0
        for duration in self.durations:
            total += duration
            self.ends.append(total)
        self.total = None if self.live else total
        count = min(buffering, len(self.durations))
        if self.live or len(segs) > buffering:
            # The media of `buffering` segments, less a frame's worth of rounding.
            self.threshold: Optional[float] = max(0.0, self.ends[count - 1] - 0.1)
        else:
            self.threshold = None  # a VOD this short starts when it is complete
        self.start_index = count - 1
        self.started = False
        self.media_s = 0.0
        self.last_change = time.monotonic()
        self._last_size = -1

    def size(self) -> int:
        return self.rec.sink.bytes_written if self.rec.sink is not None else 0

    def output_path(self) -> str:
        sink = self.rec.sink
        return sink.path if sink is not None and sink.path else os.path.join(self.rec.rec_dir,
                                                                             OUTPUT_NAME)

    def section(self) -> int:
        return self.rec.sink.current if self.rec.sink is not None else 0

    def segment_index(self) -> int:
        if self.live:
            average = self.ends[-1] / len(self.ends) if self.ends and self.ends[-1] else 1.0
            return int(self.media_s / average)
        return min(len(self.ends) - 1, bisect_right(self.ends, self.media_s + 0.05))

    def update(self, block: ffmpeg.Progress) -> None:
        if block.out_time is not None and block.out_time > self.media_s:
            self.media_s = block.out_time
            self.last_change = time.monotonic()
        if not self.started and self.threshold is not None and self.media_s >= self.threshold \
                and self.size() > 0:
            self.started = True
            self.progress(force=True)  # the media on disk, then the start it allows
            self.rec.start_playback(self.rec.url, self.output_path(), self.section(),
                                    self.start_index)
            return
        self.progress(force=False)

    def drain(self, proc: ffmpeg.FfmpegProcess, messages: bool = True) -> None:
        """Take in the blocks ffmpeg wrote just before it exited."""
        while True:
            block = proc.next_progress(0)
            if block is None:
                return
            if messages:
                self.update(block)
            elif block.out_time is not None:
                self.media_s = max(self.media_s, block.out_time)

    def tick(self) -> None:
        size = self.size()
        if size != self._last_size:
            self._last_size = size
            self.last_change = time.monotonic()
        self.progress(force=False)  # also while ffmpeg waits (the throttle spaces them)
        idle = time.monotonic() - self.last_change
        if idle > self.rec.stall_timeout:
            raise StreamTimeoutError("ffmpeg wrote no media for %.0f s (%s)" % (idle, "; ".join(
                ffmpeg.clean_line(x) for x in (self.rec.process.stderr_tail()[-3:]
                                               if self.rec.process else []))))

    def progress(self, force: bool, complete: bool = False) -> None:
        done = None
        if self.total:
            done = 1.0 if complete else min(1.0, self.media_s / self.total)
        self.rec.report_progress(
            force=force, done=done, bytes_done=self.size(), section_index=self.section(),
            segment_index=self.segment_index(), media_s=self.media_s,
            skipped_segments=self.rec.skipped_segments)

    def finish(self) -> None:
        """ffmpeg ended 0: a VOD is complete (a short one starts now), a live stream ended."""
        if not self.started:
            self.started = True
            self.rec.start_playback(self.rec.url, self.output_path(), self.section(),
                                    max(0, len(self.durations) - 1 if not self.live else 0))
        self.progress(force=True, complete=True)

