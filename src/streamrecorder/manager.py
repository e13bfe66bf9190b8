"""The recorder manager: recorder-id registry, one active recorder, message fan-out."""

import logging
import threading
import uuid
from typing import Any, Dict, List, Literal, Optional, Type, Union

from twisted.internet import defer

from . import streamurl
from .messages import Message
from .recorders.auto import RECORDERS, AutoRecorder
from .recorders.base import BaseRecorder
from .runtime import Runtime

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("resolved_url", "recorder_id", "rec_dir")
# record_stream's answer: the new recording's id, or False when refused
RecordResult = Union[str, Literal[False]]
SHUTDOWN_TIMEOUT_S = 10.0  # reactor shutdown waits this long for the stop message


def default_recorder_types() -> Dict[str, Type[BaseRecorder]]:
    """The recorder ids of architecture.md, plus `auto`."""
    return dict(RECORDERS, auto=AutoRecorder)


def _loggable(resolve_result: Dict[str, Any]) -> str:
    """The URL without query, credentials or header values (url#..., url|..., references)."""
    return streamurl.loggable(str(resolve_result.get("resolved_url") or ""))


def _deliver(sink: Any, message: Message) -> None:
    try:
        if hasattr(sink, "broadcast"):
            sink.broadcast(message)
        else:
            sink(message)
    except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
        log.exception("message subscriber %r failed", sink)


class _Recording:
    """One accepted record_stream/start_recorder call: its id, recorder and extra sink."""

    def __init__(self, recorder_type: str, resolve_result: Dict[str, Any]) -> None:
        # A caller that must know the id before the call returns (the control socket, whose
        # client routes by it) may choose it; otherwise it is new.
        self.id = str(resolve_result.get("recording_id") or uuid.uuid4().hex)
        self.recorder_type = recorder_type
        self.resolve_result = resolve_result
        self.sink = resolve_result.get("socketserver")
        self.recorder: Optional[BaseRecorder] = None
        self.stop_delivered = False


class Manager:
    """Single active recorder; all public methods run on the reactor thread and never block.

    Every record_stream/start_recorder call that is accepted gets a recording id (a string),
    and every message of that recording reaches the subscribers with `recording_id` in its
    dict. A recording is active from its start until its stop message has been delivered to
    every subscriber; a new recording requested meanwhile stops the active one and starts only
    after that delivery, so all of the old recording's messages come before any of the new
    one's, and the new recorder's cleanup of rec_dir cannot precede the old stop message.
    """

    def __init__(self, runtime: Optional[Runtime] = None,
                 recorder_types: Optional[Dict[str, Type[BaseRecorder]]] = None,
                 recorder_options: Optional[Dict[str, Any]] = None,
                 shutdown_timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        self.runtime = runtime or Runtime()
        self.recorder_types = recorder_types or default_recorder_types()
        self.recorder_options = dict(recorder_options or {})
        self.shutdown_timeout = shutdown_timeout
        self.current_recorder: Optional[BaseRecorder] = None  # the last one started
        self._active: Optional[_Recording] = None
        self._pending: Optional[_Recording] = None
        self._subscribers: List[Any] = []
        self._waiters: List[defer.Deferred] = []
        self._idle = threading.Event()
        self._idle.set()
        self._last_stop: Optional[Message] = None
        self._trigger = self.runtime.reactor.addSystemEventTrigger(
            "before", "shutdown", self._before_shutdown)

    # --- subscribers ------------------------------------------------------------------------
    def subscribe(self, sink: Any) -> None:
        """Add a listener: a callable(message) or an object with broadcast(message)."""
        if sink not in self._subscribers:
            self._subscribers.append(sink)

    def unsubscribe(self, sink: Any) -> None:
        if sink in self._subscribers:
            self._subscribers.remove(sink)

    # --- recording --------------------------------------------------------------------------
    def get_available_types(self) -> List[str]:
        return list(self.recorder_types)

    def record_stream(self, resolve_result: Dict[str, Any]) -> RecordResult:
        """Main entry point: start the recorder resolve_result names (see architecture.md).

        Returns the new recording's id (a non-empty string, so truthy), which every message
        of this recording carries as `recording_id`; False when resolve_result is refused.
        A recording that is still active is stopped first (see start_recorder).
        """
        missing = [k for k in REQUIRED_KEYS if not resolve_result.get(k)]
        if missing:
            log.error("resolve_result lacks %s", ", ".join(missing))
            return False
        return self.start_recorder(str(resolve_result["recorder_id"]), resolve_result)

    def start_recorder(self, recorder_type: str,
                       resolve_result: Dict[str, Any]) -> RecordResult:
        """Start a recorder; returns the recording id, or False for an unknown type.

        While a recording is active (running, or its stop message not yet delivered) the new
        one is queued, the active one is stopped, and the new one starts once the old stop
        message has reached every subscriber. A recording queued earlier and not yet started is
        dropped: it never starts and sends no messages.
        """
        if recorder_type not in self.recorder_types:
            log.error("unknown recorder type %r (known: %s)", recorder_type,
                      ", ".join(self.recorder_types))
            return False
        recording = _Recording(recorder_type, resolve_result)
        self._idle.clear()
        if self._active is None:
            return recording.id if self._launch(recording) else False
        if self._pending is not None:
            log.info("replacing the queued recording of %s",
                     _loggable(self._pending.resolve_result))
        self._pending = recording
        log.info("stopping %s before starting %s", self._active.recorder_type, recorder_type)
        self._stop_active()
        return recording.id

    def _launch(self, recording: _Recording) -> bool:
        try:
            cls = self.recorder_types[recording.recorder_type]
            recorder = cls(runtime=self.runtime, **self.recorder_options)
        except Exception:  # noqa: BLE001 - bad options must not leave the manager busy
            log.exception("cannot create the %s recorder", recording.recorder_type)
            self._set_idle_if_done()
            return False
        recorder.emit_to = lambda message: self._on_message(recording, message)
        recording.recorder = recorder
        self._active = recording
        self.current_recorder = recorder
        log.info("starting %s (recording %s) for %s", recorder.name, recording.id,
                 _loggable(recording.resolve_result))
        recorder.start_thread(recording.resolve_result)
        return True

    def _stop_active(self) -> None:
        active = self._active
        if active is not None and active.recorder is not None:
            active.recorder.stop()

    def stop(self) -> bool:
        """Ask the active recorder to stop (non-blocking); also drops a queued start."""
        self._pending = None
        self._stop_active()
        return True

    @property
    def current_recording_id(self) -> Optional[str]:
        """The active recording's id (until its stop message is delivered); else None."""
        return self._active.id if self._active is not None else None

    @property
    def queued_recording_id(self) -> Optional[str]:
        """The id of a recording waiting for the active one's stop message; else None."""
        return self._pending.id if self._pending is not None else None

    def status(self) -> Dict[str, Any]:
        """JSON-friendly state: idle/starting/recording/stopping, recorder type, URL, ids.

        `state` describes the recorder itself: "idle" as soon as its thread has ended (so it
        also settles after the reactor has stopped); `recording_id` is current_recording_id,
        `queued_recording_id` the recording that follows it.
        """
        ids = {"recording_id": self.current_recording_id,
               "queued_recording_id": self.queued_recording_id}
        rec = self._active.recorder if self._active is not None else None
        if rec is None or not rec.is_running:
            state = "idle" if self._pending is None else "starting"
            return dict(ids, state=state, recorder=None, url=None)
        state = "stopping" if rec.stop_event.is_set() else "recording"
        return dict(ids, state=state, recorder=rec.recorder_type, url=rec.url)

    @property
    def last_stop(self) -> Optional[Message]:
        return self._last_stop

    # --- waiting ----------------------------------------------------------------------------
    def stopped(self) -> defer.Deferred:
        """Deferred that fires with the stop message once no recording is active or queued."""
        d: defer.Deferred = defer.Deferred()
        if self._idle.is_set():
            d.callback(self._last_stop)
        else:
            self._waiters.append(d)
        return d

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until idle. For the CLI and tests only, never on the reactor thread."""
        if self.runtime.in_reactor_thread():
            raise RuntimeError("Manager.wait() would block the reactor; use stopped()")
        return self._idle.wait(timeout)

    # --- internals (reactor thread) ---------------------------------------------------------
    def _on_message(self, recording: _Recording, message: Message) -> None:
        if recording.stop_delivered:  # nothing of a recording may follow its stop message
            log.debug("dropped a %s message of finished recording %s", message[0], recording.id)
            return
        stamped = [message[0], dict(message[1], recording_id=recording.id)]
        for sink in list(self._subscribers):
            _deliver(sink, stamped)
        if recording.sink is not None:
            _deliver(recording.sink, stamped)
        if stamped[0] == "stop":
            self._on_stop_delivered(recording, stamped)

    def _on_stop_delivered(self, recording: _Recording, message: Message) -> None:
        recording.stop_delivered = True
        self._last_stop = message
        if recording is not self._active:
            return
        self._active = None
        queued, self._pending = self._pending, None
        if queued is None or not self._launch(queued):
            self._set_idle_if_done()

    def _set_idle_if_done(self) -> None:
        if self._active is not None or self._pending is not None:
            return
        self._idle.set()
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(self._last_stop)

    def _before_shutdown(self) -> Optional[defer.Deferred]:
        """Reactor shutdown: stop the recorder and wait a bounded time for its stop message.

        The recorder's reactor pool thread returns within about a second of stop(): whatever
        stop() cannot reach through a socket (a resolver adapter's send(), a body without a
        socket) runs on a daemon helper thread the recorder leaves (streamrecorder.abortable),
        so Twisted's unbounded join of its pool threads that follows stays short.
        """
        if self._idle.is_set():
            return None
        self.stop()
        d = self.stopped()
        d.addTimeout(self.shutdown_timeout, self.runtime.reactor)
        d.addErrback(lambda f: log.warning("recorder did not stop before shutdown: %s", f.value))
        return d

    def close(self) -> None:
        """Remove the shutdown trigger (tests create many managers)."""
        if self._trigger is not None:
            self.runtime.reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
