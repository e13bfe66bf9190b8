"""The recorder manager: recorder-id registry, one active recorder, message fan-out."""

import logging
import threading
from typing import Any, Dict, List, Optional, Tuple, Type

from twisted.internet import defer

from .messages import Message
from .recorders.base import BaseRecorder
from .runtime import Runtime

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("resolved_url", "recorder_id", "rec_dir")


def default_recorder_types() -> Dict[str, Type[BaseRecorder]]:
    """The recorder ids of architecture.md, plus `auto`."""
    from .recorders.auto import AutoRecorder
    from .recorders.mp4 import Mp4Recorder
    types: Dict[str, Type[BaseRecorder]] = {"mp4": Mp4Recorder}
    try:
        from .recorders.hls import HlsBasicRecorder, HlsLiveRecorder
        types.update(hls_basic=HlsBasicRecorder, hls_live=HlsLiveRecorder)
    except ImportError:  # pragma: no cover - present once the HLS recorders are built
        pass
    try:
        from .recorders.hls_m4s import HlsM4sRecorder
        types["hls_m4s"] = HlsM4sRecorder
    except ImportError:  # pragma: no cover
        pass
    types["auto"] = AutoRecorder
    return types


def _deliver(sink: Any, message: Message) -> None:
    try:
        if hasattr(sink, "broadcast"):
            sink.broadcast(message)
        else:
            sink(message)
    except Exception:  # noqa: BLE001 - one broken subscriber must not stop the others
        log.exception("message subscriber %r failed", sink)


class Manager:
    """Single active recorder; all public methods run on the reactor thread and never block."""

    def __init__(self, runtime: Optional[Runtime] = None,
                 recorder_types: Optional[Dict[str, Type[BaseRecorder]]] = None,
                 recorder_options: Optional[Dict[str, Any]] = None) -> None:
        self.runtime = runtime or Runtime()
        self.recorder_types = recorder_types or default_recorder_types()
        self.recorder_options = dict(recorder_options or {})
        self.current_recorder: Optional[BaseRecorder] = None
        self._extra_sinks: Dict[int, Any] = {}
        self._pending: Optional[Tuple[str, Dict[str, Any]]] = None
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

    def record_stream(self, resolve_result: Dict[str, Any]) -> bool:
        """Main entry point: start the recorder resolve_result names (see architecture.md)."""
        missing = [k for k in REQUIRED_KEYS if not resolve_result.get(k)]
        if missing:
            log.error("resolve_result lacks %s", ", ".join(missing))
            return False
        return self.start_recorder(str(resolve_result["recorder_id"]), resolve_result)

    def start_recorder(self, recorder_type: str, resolve_result: Dict[str, Any]) -> bool:
        """Start a recorder; a running one is stopped first and the new one follows its stop."""
        if recorder_type not in self.recorder_types:
            log.error("unknown recorder type %r (known: %s)", recorder_type,
                      ", ".join(self.recorder_types))
            return False
        self._idle.clear()
        current = self.current_recorder
        if current is not None and current.is_running:
            if self._pending is not None:
                log.info("replacing the queued recording of %s", self._pending[1].get("resolved_url"))
            self._pending = (recorder_type, resolve_result)
            log.info("stopping %s before starting %s", current.name, recorder_type)
            current.stop()
            return True
        self._launch(recorder_type, resolve_result)
        return True

    def _launch(self, recorder_type: str, resolve_result: Dict[str, Any]) -> None:
        cls = self.recorder_types[recorder_type]
        recorder = cls(runtime=self.runtime, **self.recorder_options)
        recorder.emit_to = lambda message, r=recorder: self._on_message(r, message)
        sink = resolve_result.get("socketserver")
        if sink is not None:
            self._extra_sinks[id(recorder)] = sink
        self.current_recorder = recorder
        log.info("starting %s for %s", recorder.name, resolve_result.get("resolved_url"))
        recorder.start_thread(resolve_result)

    def stop(self) -> bool:
        """Ask the running recorder to stop (non-blocking); also drops a queued start."""
        self._pending = None
        if self.current_recorder is not None and self.current_recorder.is_running:
            self.current_recorder.stop()
        return True

    def status(self) -> Dict[str, Any]:
        """JSON-friendly state: idle/recording/stopping, recorder type and URL."""
        rec = self.current_recorder
        if rec is None or not rec.is_running:
            state = "idle" if self._pending is None else "starting"
            return {"state": state, "recorder": None, "url": None}
        state = "stopping" if rec.stop_event.is_set() else "recording"
        return {"state": state, "recorder": rec.recorder_type, "url": rec.url}

    @property
    def last_stop(self) -> Optional[Message]:
        return self._last_stop

    # --- waiting ----------------------------------------------------------------------------
    def stopped(self) -> defer.Deferred:
        """Deferred that fires with the stop message once no recording runs or is queued."""
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
    def _on_message(self, recorder: BaseRecorder, message: Message) -> None:
        for sink in list(self._subscribers):
            _deliver(sink, message)
        extra = self._extra_sinks.get(id(recorder))
        if extra is not None:
            _deliver(extra, message)
        if message[0] == "stop":
            self._extra_sinks.pop(id(recorder), None)
            self._on_recorder_stopped(recorder, message)

    def _on_recorder_stopped(self, recorder: BaseRecorder, message: Message) -> None:
        self._last_stop = message
        if recorder is self.current_recorder and self._pending is not None:
            recorder_type, resolve_result = self._pending
            self._pending = None
            self._launch(recorder_type, resolve_result)
            return
        if self.current_recorder is None or not self.current_recorder.is_running:
            self._idle.set()
            waiters, self._waiters = self._waiters, []
            for d in waiters:
                d.callback(message)

    def _before_shutdown(self) -> Optional[defer.Deferred]:
        """Reactor shutdown: stop the recorder first so the pool join cannot hang."""
        if self._idle.is_set():
            return None
        self.stop()
        d = self.stopped()
        d.addTimeout(10, self.runtime.reactor)
        d.addErrback(lambda f: log.warning("recorder did not stop before shutdown: %s", f.value))
        return d

    def close(self) -> None:
        """Remove the shutdown trigger (tests create many managers)."""
        if self._trigger is not None:
            self.runtime.reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
