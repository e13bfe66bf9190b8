"""BaseRecorder: the lifecycle every recorder shares (thread, stop, the single stop message)."""

import errno
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import files, options as record_options, streamurl, volume
from ..clock import REAL, Clock
from ..meta import title_for
from ..volume import Volume, VolumeFactory, open_volume
from ..errors import InvalidStreamError, RecorderError, StopRequested
from ..http import DEFAULT_TIMEOUT, DEFAULT_USER_AGENT, HttpClient, prepare_session
from ..messages import Message, ProgressReporter, start_message, stop_message
from ..options import RecordOptions
from ..runtime import Runtime

log = logging.getLogger(__name__)

Emit = Callable[[Message], None]


class DurationReached(StopRequested):
    """The requested recording duration is over: ends as reason user."""


class NothingRecorded(InvalidStreamError):
    """The recording ended (stop(), `duration`) before anything playable arrived: reason user
    (the user or the duration ended it), but with error_id invalid_stream, as there is no file."""


def request_headers(options: RecordOptions, stream_url: streamurl.StreamUrl) -> Dict[str, str]:
    """Headers for every request of a recording: ffmpeg_headers, then the URL's own (they win);
    a name given twice in other letter cases is sent once."""
    merged: Dict[str, str] = {}
    for name, value in list(options.ffmpeg_headers) + list(stream_url.headers):
        for known in [k for k in merged if k.lower() == name.lower()]:
            del merged[known]
        merged[name] = value
    return merged


class BaseRecorder:
    """Runs record_start on the reactor's thread pool and sends exactly one stop message."""

    recorder_type = "base"

    def __init__(self, emit: Optional[Emit] = None, runtime: Optional[Runtime] = None,
                 name: Optional[str] = None, user_agent: str = DEFAULT_USER_AGENT,
                 verify_tls: Optional[bool] = None,
                 timeout: Tuple[float, float] = DEFAULT_TIMEOUT,
                 reserve_bytes: Optional[int] = None,
                 volume_factory: Optional[VolumeFactory] = None,
                 parallel: Optional[int] = None, allow_transcode: Optional[bool] = None,
                 audio_language: Optional[str] = None, codecs: Optional[Any] = None,
                 clock: Optional[Clock] = None, **options: Any) -> None:
        # Options meant for other recorder types (the manager passes one set to all) are ignored.
        # These four are the settings' defaults; a resolve_result's keys win (options.build).
        self.defaults = {k: v for k, v in (("parallel", parallel), ("allow_transcode", allow_transcode),
                                           ("audio_language", audio_language), ("codecs", codecs))
                         if v is not None}
        self.options = RecordOptions()
        # monotonic time, wall time and every wait of the recording (tests: a fake clock)
        self.clock = clock or REAL
        self.reporter: Optional[ProgressReporter] = None
        self.plan: Any = None  # an hls.plan.Plan made by detection, handed to the HLS recorders
        self.name = name or type(self).__name__
        self.emit_to = emit
        self.runtime = runtime
        self.user_agent = user_agent
        self.verify_tls = verify_tls
        self.timeout = (float(timeout[0]), float(timeout[1]))
        # kept free on rec_dir's file system; 0: off
        self.reserve_bytes = volume.DEFAULT_RESERVE if reserve_bytes is None else int(reserve_bytes)
        self.volume_factory = volume_factory  # tests: a fake file system
        self.volume: Optional[Volume] = None  # rec_dir's file system, checked at the start
        self.title = ""
        self.is_running = False
        self.stop_event = threading.Event()
        self.stop_sent = False
        self.thread: Optional[threading.Thread] = None
        self.http: Optional[HttpClient] = None
        self._own_session = False
        self.url = ""
        self.rec_dir = ""
        self.skipped_segments = 0
        self.missing_s = 0.0  # seconds of media known to be missing (skipped or gap segments)
        self.duration: Optional[float] = None
        self.started_at = 0.0
        self._abort_hooks: List[Callable[[], None]] = []
        self._delegate: Optional[BaseRecorder] = None
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------
    def start_thread(self, resolve_result: Dict[str, Any]) -> bool:
        """Start recording on the reactor's thread pool; False when already running.

        The pool thread is held for the whole recording and is joined without a limit at reactor
        shutdown, so nothing it does may block beyond the reach of stop(): calls into code it
        cannot interrupt (a resolver's adapter, a body it has no socket for) run on daemon
        helper threads it leaves at once on stop() (see abortable.py).
        """
        if self.is_running:
            return False
        if self.runtime is None:
            self.runtime = Runtime()
        self.stop_event.clear()
        self.stop_sent = False
        self.is_running = True
        self.runtime.run_in_thread(self._thread_wrapper, resolve_result)
        return True

    def _thread_wrapper(self, resolve_result: Dict[str, Any]) -> None:
        self.thread = threading.current_thread()
        reason, error_id, msg = "complete", None, ""
        try:
            self._setup(resolve_result)
            self.record_start(resolve_result)
            if self.stop_event.is_set():
                reason, msg = "user", "stopped"
        except BaseException as exc:  # noqa: B036 - the thread must always send its stop message
            reason, error_id, msg = self.classify(exc)
            if reason == "error":
                self.on_thread_error(exc, error_id)
            if not isinstance(exc, Exception):
                self._finish(reason, error_id, msg)
                raise
        self._finish(reason, error_id, msg)

    def _finish(self, reason: str, error_id: Optional[str], msg: str) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - releasing must not prevent the stop message
            log.exception("%s: error while releasing resources", self.name)
        self._close_own_session()
        self.is_running = False
        self.on_thread_ended()
        self._send_stop(reason, error_id, msg)

    def _setup(self, resolve_result: Dict[str, Any]) -> None:
        raw_url = str(resolve_result.get("resolved_url") or "")
        self.url = streamurl.loggable(raw_url)  # until it is read: no header value in a stop
        self.options = record_options.build(resolve_result, self.defaults)
        # url#User-Agent=..., url|Name=value, a service reference: headers for every request
        stream_url = streamurl.parse(raw_url)
        self.url = stream_url.url
        self.rec_dir = files.prepare_rec_dir(str(resolve_result.get("rec_dir") or ""))
        self.duration = self.options.duration
        self.started_at = self.clock.monotonic()
        self.reporter = ProgressReporter(self.emit)
        self.title = title_for(self.options.title or stream_url.name, self.url)
        # a continued recording keeps the earlier files: they do not count as free space
        self.volume = open_volume(self.rec_dir, self.reserve_bytes, self.volume_factory,
                                  reclaim_old=not self.options.continue_recording)
        if self.http is None:
            self._own_session = resolve_result.get("session") is None
            session = prepare_session(resolve_result, self.user_agent)
            self.http = HttpClient(session, self.stop_event, timeout=self.timeout,
                                   verify=self.verify_tls,
                                   headers=request_headers(self.options, stream_url))

    def _close_own_session(self) -> None:
        # The client's own connections, and a session we created ourselves, are ours to close
        # (pooled connections would otherwise stay open until a garbage collection); the
        # resolver's session is not.
        if self.http is not None:
            self.http.close()
        if self._own_session and self.http is not None:
            self._own_session = False
            try:
                self.http.session.close()
            except Exception:  # noqa: BLE001
                log.debug("%s: closing the session failed", self.name, exc_info=True)

    def classify(self, exc: BaseException) -> Tuple[str, Optional[str], str]:
        """The one place that turns an exception into (reason, error_id, msg)."""
        if isinstance(exc, NothingRecorded):
            return "user", exc.error_id, str(exc) or "nothing arrived before the recording ended"
        if isinstance(exc, DurationReached):
            return "user", None, "requested duration reached"
        if isinstance(exc, StopRequested):
            return "user", None, "stopped"
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return "error", "disk_full", "disk full while writing the recording (%s)" % self.rec_dir
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            return "error", "file_too_large", ("file too large for this file system "
                                               "(%s)" % self.rec_dir)
        if self.stop_event.is_set():
            return "user", None, "stopped"
        if isinstance(exc, RecorderError):
            return "error", exc.error_id, str(exc) or exc.error_id
        if isinstance(exc, OSError) and exc.strerror:
            # a system error the user can act on (permissions, a missing folder): say which
            where = " (%s)" % exc.filename if exc.filename else ""
            log.error("%s: system error", self.name, exc_info=exc)
            return "error", "failure", "system error while recording: %s%s" % (exc.strerror, where)
        # A bug, not a stream problem: never the bare Python text; the traceback goes to the log.
        log.error("%s: internal error", self.name, exc_info=exc)
        return "error", "failure", ("internal error while recording (%s); details are in the log"
                                    % type(exc).__name__)

    def stop(self) -> bool:
        """Ask the recording to end; never blocks (sockets shut down, subprocesses terminated)."""
        self.stop_event.set()
        inner = self._delegate
        if inner is not None:
            inner.stop()
        if self.http is not None:
            self.http.abort()
        with self._lock:
            hooks = list(self._abort_hooks)
        for hook in hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001
                log.exception("%s: abort hook failed", self.name)
        return True

    def add_abort_hook(self, hook: Callable[[], None]) -> None:
        """Run hook on stop() (e.g. terminate a subprocess); runs at once if already stopping."""
        with self._lock:
            self._abort_hooks.append(hook)
        if self.stop_event.is_set():
            hook()

    def remove_abort_hook(self, hook: Callable[[], None]) -> None:
        with self._lock:
            if hook in self._abort_hooks:
                self._abort_hooks.remove(hook)

    def delegate(self, inner: "BaseRecorder", resolve_result: Dict[str, Any]) -> None:
        """Hand this recording to another recorder on this thread (auto-detection, ffmpeg path).

        The inner recorder shares the stop event, HTTP client and message sink, so stop()
        and the single stop message keep working; messages carry the inner recorder's type.
        """
        inner.runtime = self.runtime
        inner.emit_to = self.emit_to
        inner.stop_event = self.stop_event
        inner.http = self.http
        inner.url, inner.rec_dir = self.url, self.rec_dir
        inner.duration, inner.started_at = self.duration, self.started_at
        inner.clock = self.clock
        inner.volume, inner.title = self.volume, self.title
        inner.options, inner.reporter = self.options, self.reporter
        self.recorder_type = inner.recorder_type
        self._delegate = inner
        try:
            inner.record_start(resolve_result)
        finally:
            self.skipped_segments = inner.skipped_segments
            self.missing_s = inner.missing_s
            self._delegate = None
            inner.release()

    # --- for subclasses ---------------------------------------------------------------------
    def record_start(self, resolve_result: Dict[str, Any]) -> None:
        """Record until done; raise a RecorderError on failure. Runs on the recorder thread."""
        raise NotImplementedError

    def release(self) -> None:
        """Free resources (files, pools, subprocesses); runs on the recorder thread at the end."""

    def on_thread_error(self, error: BaseException, error_id: Optional[str]) -> None:
        log.error("%s: %s (%s)", self.name, error, error_id)

    def on_thread_ended(self) -> None:
        log.info("%s has fully stopped", self.name)

    def check_stop(self) -> None:
        """Raise StopRequested when stop() was called or the requested duration is over."""
        if self.stop_event.is_set():
            raise StopRequested()
        if self.duration is not None and self.clock.monotonic() - self.started_at >= self.duration:
            raise DurationReached()

    def wait(self, seconds: float) -> None:
        """Sleep that stop() interrupts."""
        if self.clock.wait(self.stop_event, seconds):
            raise StopRequested()

    def emit(self, message: Message) -> None:
        """Deliver a message to the subscribers on the reactor thread."""
        if self.emit_to is not None and self.runtime is not None:
            self.runtime.call_on_reactor(self.emit_to, message)

    def report_progress(self, **fields: Any) -> None:
        """A progress message when due (see messages.ProgressReporter.report)."""
        if self.reporter is not None:
            self.reporter.report(self.recorder_type, **fields)

    def start_playback(self, video_url: str, output_file: str, section_index: int = 0,
                       segment_index: int = 0) -> None:
        """Send `start`: output_file holds playable data now."""
        log.info("%s: playable: %s (section %d)", self.name, output_file, section_index)
        self.emit(start_message(video_url, output_file, self.recorder_type,
                                section_index, segment_index))

    def _send_stop(self, reason: str, error_id: Optional[str], msg: str) -> None:
        with self._lock:
            if self.stop_sent:
                return
            self.stop_sent = True
        log.info("%s: stop (%s%s) %s", self.name, reason,
                 ", " + error_id if error_id else "", msg)
        self.emit(stop_message(self.recorder_type, reason, error_id, msg, self.url,
                               self.rec_dir, self.skipped_segments, self.missing_s))
