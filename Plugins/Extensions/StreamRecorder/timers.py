"""Stream timers on enigma2's own timer engine (timer.py), as RecordTimer and PowerTimer are.

A StreamTimerEntry goes through the engine's states: waiting -> prepared (nothing heavy) ->
running (the recording starts through the controller, with `duration` up to the timer's end)
-> ended (the recording is stopped and kept, then the after-event). The engine repeats daily or
weekly timers (TimerEntry.repeated, one bit per weekday) and schedules the next activation.

Rules: a timer never pre-empts another timer (an overlapping one is refused when added); a due
timer pre-empts a recording started without a timer, which is kept. The list is kept in
/etc/enigma2/streamrecorder/timers.json, written atomically off the reactor thread.

Across restarts: timers.json names the run that was recording ("recording": its begin). When
that run's window is still open at the next start and the recording folder's stream_state.json
is of the timer's stream, the recording continues (continue_recording) into the next section
file; the left-over offer leaves those files alone (claims()).
"""

import datetime
import json
import logging
import os
import threading
import time as time_module
import types
from time import localtime, mktime, time
from typing import Any, Callable, Dict, List, Optional, Tuple

import timer as engine
from streamrecorder import state as rec_state
from twisted.internet import defer, threads

from . import _, leftovers
from .jsonfiles import read_json, write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "streamrecorder/timers.json"


class AFTEREVENT:
    """As RecordTimer.AFTEREVENT (the same numbers)."""
    NONE, STANDBY, DEEPSTANDBY, AUTO = 0, 1, 2, 3


AFTER_EVENT_NAMES = {AFTEREVENT.NONE: "nothing", AFTEREVENT.STANDBY: "standby",
                     AFTEREVENT.DEEPSTANDBY: "deepstandby", AFTEREVENT.AUTO: "auto"}
# enigma2 wakes the box 240 s before the start the plugin told it (StartEnigma.py): a timer
# starting within this window after a timer wake-up is the one that woke the box.
WAKEUP_WINDOW_S = 360
DAILY = 0x7F
QUIT_DEEP_STANDBY = 1  # Screens.Standby.QUIT_SHUTDOWN


# --- the engine's code on this module's clock ---------------------------------------------------
def _now() -> float:
    return time()  # this module's `time`: the tests put a fake clock here, nothing else changes


def _on_our_clock(func: Callable[..., Any]) -> Callable[..., Any]:
    """The engine's own function, unchanged, reading the time through this module.

    timer.py calls its module's time(); a copy of the function whose globals map `time` to
    _now runs the same code on this module's clock, so no library global is patched. An image
    whose timer.py names something else `time` keeps its function as it is."""
    if func.__globals__.get("time") is not time_module.time:
        return func
    return types.FunctionType(func.__code__, dict(func.__globals__, time=_now), func.__name__,
                              func.__defaults__, func.__closure__)


def next_day(moment: int, days: int = 1) -> int:
    """moment + days in local time (the same clock time on that day)."""
    when = datetime.datetime.fromtimestamp(moment) + datetime.timedelta(days=days)
    return int(mktime(when.timetuple()))


# --- one timer ----------------------------------------------------------------------------------
class StreamTimerEntry(engine.TimerEntry):
    """One timer: a window (margins included), a source (channel or saved stream), a title."""

    processRepeated = _on_our_clock(engine.TimerEntry.processRepeated)
    shouldSkip = _on_our_clock(engine.TimerEntry.shouldSkip)
    abort = _on_our_clock(engine.TimerEntry.abort)

    def __init__(self, begin: int, end: int, name: str, url: str, title: str = "",
                 description: str = "", margin_before: int = 0, margin_after: int = 0,
                 after_event: int = AFTEREVENT.AUTO, repeated: int = 0,
                 event: Optional[Dict[str, Any]] = None) -> None:
        engine.TimerEntry.__init__(self, int(begin), int(end))
        self.name = name  # of the channel or saved stream
        self.url = url  # a service reference string or a URL (streamurl conventions)
        self.title = title or name
        self.description = description
        self.margin_before = int(margin_before)  # minutes, already in begin
        self.margin_after = int(margin_after)  # minutes, already in end
        self.after_event = after_event
        self.repeated = int(repeated)
        self.event = event  # the EPG event (eventinfo fields) when made from one
        self.woke_box = False
        self.owner: Optional[StreamTimer] = None
        self.job: Any = None  # the controller's Job of the current run
        self.failed = ""
        self.recording_run: Optional[int] = None  # from timers.json: the run that recorded
        self.start_prepare = self.begin - self.prepare_time
        self.resetState()

    def __repr__(self) -> str:
        return "StreamTimerEntry(%r, %s, state %d)" % (self.title, time_module.ctime(self.begin),
                                                       self.state)

    def timeChanged(self) -> None:  # noqa: N802 - the engine's name
        self.start_prepare = self.begin - self.prepare_time

    def getNextActivation(self) -> int:  # noqa: N802
        if self.state == self.StateEnded:
            return self.end
        return {self.StatePrepared: self.start_prepare, self.StateRunning: self.begin,
                self.StateEnded: self.end}[self.state + 1]

    def activate(self) -> bool:
        """The engine moves to the next state (always accepted)."""
        next_state = self.state + 1
        if self.owner is not None:
            if next_state == self.StateRunning:
                self.owner.start_recording(self)
            elif next_state == self.StateEnded:
                self.owner.end_recording(self)
        return True

    def windows(self, days: int = 8) -> List[Tuple[int, int]]:
        """(begin, end) of this timer's runs over the coming days (one when not repeating)."""
        if not self.repeated:
            return [(self.begin, self.end)]
        length = self.end - self.begin
        runs = []
        for day in range(days):
            begin = next_day(self.begin, day)
            if self.repeated & (1 << localtime(begin).tm_wday):
                runs.append((begin, begin + length))
        return runs

    def overlaps(self, other: "StreamTimerEntry") -> bool:
        return any(b1 < e2 and b2 < e1 for b1, e1 in self.windows() for b2, e2 in other.windows())

    def to_dict(self) -> Dict[str, Any]:
        return {"begin": self.begin, "end": self.end, "name": self.name, "url": self.url,
                "title": self.title, "description": self.description,
                "margin_before": self.margin_before, "margin_after": self.margin_after,
                "after_event": AFTER_EVENT_NAMES.get(self.after_event, "auto"),
                "repeated": self.repeated, "disabled": bool(self.disabled), "event": self.event,
                # which run records: after a restart in its window it continues
                "recording": self.begin if self.state == self.StateRunning else None}


def entry_from_dict(data: Any) -> Optional[StreamTimerEntry]:
    """An entry from timers.json; None for one that cannot be used (logged)."""
    try:
        after = {v: k for k, v in AFTER_EVENT_NAMES.items()}.get(data.get("after_event"),
                                                                  AFTEREVENT.AUTO)
        entry = StreamTimerEntry(int(data["begin"]), int(data["end"]), str(data["name"]),
                                 str(data["url"]), str(data.get("title") or ""),
                                 str(data.get("description") or ""),
                                 int(data.get("margin_before") or 0),
                                 int(data.get("margin_after") or 0), after,
                                 int(data.get("repeated") or 0) & DAILY,
                                 data.get("event") if isinstance(data.get("event"), dict) else None)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.error("StreamRecorder: a timer in timers.json cannot be used (%s): %r", exc, data)
        return None
    entry.disabled = bool(data.get("disabled"))
    recording = data.get("recording")
    entry.recording_run = recording if isinstance(recording, int) else None
    return entry if entry.end > entry.begin and entry.url else None


def read_timers(path: str) -> List[Any]:
    """The timer dicts in path ([] when missing); a broken file is set aside as .bad, never
    overwritten, so a hand edit gone wrong can be repaired."""
    data = read_json(path)
    timers = data.get("timers") if isinstance(data, dict) else None
    return [t for t in timers if isinstance(t, dict)] if isinstance(timers, list) else []


def encode(entries: List[StreamTimerEntry]) -> bytes:
    return json.dumps({"version": 1, "timers": [e.to_dict() for e in entries]},
                      ensure_ascii=False, indent=1).encode("utf-8")


# --- the timer list -----------------------------------------------------------------------------
class StreamTimer(engine.Timer):
    """enigma2's Timer holding the stream timers; loads and saves timers.json."""

    __init__ = _on_our_clock(engine.Timer.__init__)
    calcNextActivation = _on_our_clock(engine.Timer.calcNextActivation)
    processActivation = _on_our_clock(engine.Timer.processActivation)
    cleanupDaily = _on_our_clock(engine.Timer.cleanupDaily)

    def setup(self, path: str, session: Any) -> "StreamTimer":
        """Where the list is kept and the session that recordings and after-events use."""
        self.path = path
        self.session = session
        self.loading: Optional[defer.Deferred] = None
        self._lock = threading.Lock()
        self._queued = self._written = 0
        self._pending: List[defer.Deferred] = []
        self.on_state_change.append(self._state_changed)
        return self

    # --- storage ------------------------------------------------------------------------------
    def load(self) -> defer.Deferred:
        """Read timers.json on a worker thread and add its timers; fires when they are in."""
        self.loading = threads.deferToThread(read_timers, self.path).addCallback(self._loaded)
        return self.loading

    def _loaded(self, dicts: List[Dict[str, Any]]) -> None:
        woke = _was_timer_wakeup()
        for entry in filter(None, map(entry_from_dict, dicts)):
            entry.woke_box = woke and abs(entry.begin - _now()) <= WAKEUP_WINDOW_S
            self._enqueue(entry)
        self.calcNextActivation()

    def ready(self) -> defer.Deferred:
        """Fires once timers.json has been read (at once when it has)."""
        d: defer.Deferred = defer.Deferred()
        if self.loading is None or self.loading.called:
            d.callback(self)
        else:
            self.loading.addBoth(lambda result: (d.callback(self), result)[1])
        return d

    def entries(self) -> List[StreamTimerEntry]:
        """Every timer, coming and running first, then ended ones, each by start."""
        return sorted(self.timer_list, key=lambda e: e.begin) + \
            sorted(self.processed_timers, key=lambda e: e.begin)

    def save(self) -> defer.Deferred:
        """Write the list in the background (temp file, fsync, rename); fires once on disk.
        A few kB, but fsync on a flash or a sleeping disk can take long: never on the reactor."""
        if self.loading is not None and not self.loading.called:
            # Never write the list before the file has been read: it would lose its timers.
            return self.ready().addCallback(lambda _: self.save())
        self._queued += 1
        d = threads.deferToThread(self._write, self._queued, encode(self.entries()))
        self._pending.append(d)
        d.addErrback(lambda f: log.error("StreamRecorder: timers.json not written: %s",
                                         f.getErrorMessage()))
        d.addBoth(lambda result: self._pending.remove(d) if d in self._pending else None)
        return d

    def _write(self, seq: int, data: bytes) -> None:
        with self._lock:
            if seq > self._written:  # else a newer list is already on disk
                write_atomic(self.path, data)
                self._written = seq

    def idle(self) -> defer.Deferred:
        """Fires when every queued write has finished (tests)."""
        pending = list(self._pending)
        return defer.DeferredList(pending).addCallback(lambda _: None) if pending \
            else defer.succeed(None)

    def _state_changed(self, entry: StreamTimerEntry) -> None:
        self.save()  # a repeating timer has moved on, an ended one is marked as such

    # --- adding, changing, removing -----------------------------------------------------------
    def conflict(self, entry: StreamTimerEntry, ignore: Any = None) -> Optional[StreamTimerEntry]:
        """The timer that entry's window overlaps (a timer never pre-empts another), if any."""
        for other in self.timer_list:
            if other is not entry and other is not ignore and not other.disabled \
                    and entry.overlaps(other):
                return other
        return None

    def add(self, entry: StreamTimerEntry) -> Optional[StreamTimerEntry]:
        """Add entry unless it overlaps another timer: then that one is returned, nothing added."""
        other = self.conflict(entry)
        if other is not None:
            return other
        self._enqueue(entry)
        self.calcNextActivation()
        self.save()
        return None

    def _enqueue(self, entry: StreamTimerEntry) -> None:
        entry.owner = self
        self.addTimerEntry(entry)

    def changed(self, entry: StreamTimerEntry) -> None:
        """entry's times or repeat were edited: the engine re-sorts it (RecordTimer's way)."""
        if entry.state == entry.StateEnded and entry.end <= _now():
            entry.resetState()
        self.timeChanged(entry)
        self.save()

    def remove(self, entry: StreamTimerEntry) -> None:
        """As RecordTimer.removeEntry: abort (a running recording ends and is kept), forget."""
        entry.repeated = 0
        entry.abort()
        if entry.state != entry.StateEnded:
            self.timeChanged(entry)
        if entry in self.processed_timers:
            self.processed_timers.remove(entry)
        if entry in self.timer_list:
            self.timer_list.remove(entry)
        self.save()

    # --- wake-up ----------------------------------------------------------------------------------
    def next_wakeup(self) -> int:
        """The start (margin included) of the next timer that has not started, or -1."""
        now = _now()
        starts = [e.begin for e in self.timer_list
                  if not e.disabled and e.state == e.StateWaiting and e.begin > now]
        return int(min(starts)) if starts else -1

    # --- what a state change does ---------------------------------------------------------------
    def start_recording(self, entry: StreamTimerEntry) -> None:
        entry.failed = ""
        if entry.recording_run is not None and entry.recording_run == entry.begin:
            # This run was recording when the GUI went away (restart, crash, power cut): its
            # files go on when they are still there (stream_state.json read off the reactor).
            entry.recording_run = None
            d = threads.deferToThread(continuable, entry.url)
            d.addErrback(_not_continuable)
            d.addCallback(lambda folder: self._record(entry, folder)
                          if entry.state == entry.StateRunning else None)  # else ended meanwhile
            d.addErrback(lambda f: log.error("StreamRecorder: timer %r: %s", entry.title,
                                             f.getTraceback()))
            return
        self._record(entry, None)

    def _record(self, entry: StreamTimerEntry, folder: Optional[str]) -> None:
        """Record the rest of entry's window; continued in folder when one is given."""
        from .controller import get_controller
        controller = get_controller()
        rr = {"resolved_url": entry.url, "original_url": entry.url, "recorder_id": "auto",
              "title": entry.title, "duration": max(1, int(entry.end - _now()))}
        if folder is not None:
            rr.update(continue_recording=True, rec_dir=folder)
            log.info("StreamRecorder: timer %r continues its recording in %s", entry.title, folder)
        entry.job = controller.record_for_timer(self.session, rr, entry.description,
                                                self._eit(entry))
        if entry.job is None:
            entry.failed = _("another timer's recording is running")
            log.error("StreamRecorder: timer %r not started: %s", entry.title, entry.failed)
        elif entry.woke_box:
            _enter_standby(self.session)  # woken for the recording: the screen stays dark

    def end_recording(self, entry: StreamTimerEntry) -> None:
        from .controller import get_controller
        controller = get_controller()
        job, entry.job = entry.job, None
        if job is not None and job.running:
            controller.stop_and(job, "keep")
        elif job is not None and job.stop is not None and job.stop.get("reason") == "error":
            from .texts import error_text  # ended early: the list says why
            entry.failed = error_text(job.stop.get("error_id"), str(job.stop.get("msg") or ""))
        # The after-event runs once the files are in the movie folder (a deep standby now
        # would leave them for the left-over question).
        controller.idle().addCallback(lambda _: self._after_event(entry))

    def _after_event(self, entry: StreamTimerEntry) -> None:
        import Screens.Standby
        in_standby = Screens.Standby.inStandby is not None
        after = entry.after_event
        if after == AFTEREVENT.DEEPSTANDBY or (after == AFTEREVENT.AUTO and entry.woke_box
                                               and in_standby):
            _deep_standby(self.session)
        elif after == AFTEREVENT.STANDBY and not in_standby:
            _enter_standby(self.session)
        entry.woke_box = False

    @staticmethod
    def _eit(entry: StreamTimerEntry) -> bytes:
        event = entry.event
        if not event or event.get("event_id") is None:
            return b""
        from .eitfile import event_bytes
        return event_bytes(int(event["event_id"]), int(event["begin"]), int(event["duration"]),
                           str(event.get("name") or entry.title), str(event.get("short") or ""),
                           str(event.get("extended") or ""))


def continuable(url: str) -> Optional[str]:
    """The recording folder when its stream_state.json is of url, else None (blocking: a
    worker thread). The timer's URL is the recording's original_url, which the state keeps."""
    folder = leftovers.configured_dir()
    saved = rec_state.read(folder) if folder else None
    return folder if saved is not None and saved.same_stream(url, url) else None


def _not_continuable(failure: Any) -> None:
    log.error("StreamRecorder: the recording folder could not be read: %s",
              failure.getErrorMessage())
    return None


def claims(saved: Optional[rec_state.RecordingState]) -> Optional[StreamTimerEntry]:
    """The timer whose window is open now and whose stream `saved` (a stream_state.json) is
    of: it continues those files, or keeps them before it records anew, so nobody is asked."""
    if saved is None or _timer is None:
        return None
    now = _now()
    return next((entry for entry in _timer.timer_list
                 if not entry.disabled and entry.begin <= now < entry.end
                 and saved.same_stream(entry.url, entry.url)), None)


def loaded() -> defer.Deferred:
    """Fires once the timer list, if there is one, has been read (a timer may own files)."""
    return _timer.ready() if _timer is not None else defer.succeed(None)


class Claims:
    """What the left-over offer asks the timers (LeftoverOffer.claimant)."""

    claims = staticmethod(claims)
    loaded = staticmethod(loaded)


def _was_timer_wakeup() -> bool:
    import NavigationInstance
    nav = NavigationInstance.instance
    return bool(nav is not None and nav.wasTimerWakeup())


def _enter_standby(session: Any) -> None:
    """Open Standby unless the box is in it (through the notification queue, as RecordTimer)."""
    import Screens.Standby
    from Tools.Notifications import AddNotification
    if Screens.Standby.inStandby is None:
        AddNotification(Screens.Standby.Standby)


def _deep_standby(session: Any) -> None:
    """Back to deep standby (Screens.Standby.TryQuitMainloop, as RecordTimer after a timer)."""
    import Screens.Standby
    from Tools.Notifications import AddNotification
    from .player_opener import can_open
    if Screens.Standby.inTryQuitMainloop:
        return
    if session is not None and can_open(session):
        session.open(Screens.Standby.TryQuitMainloop, QUIT_DEEP_STANDBY)
    else:
        AddNotification(Screens.Standby.TryQuitMainloop, QUIT_DEEP_STANDBY)


# --- the plugin's one timer list ------------------------------------------------------------------
_timer: Optional[StreamTimer] = None


def timers_file() -> str:
    """/etc/enigma2/streamrecorder/timers.json on a receiver."""
    from Tools.Directories import SCOPE_CONFIG, resolveFilename
    return resolveFilename(SCOPE_CONFIG, FILE_NAME)


def get_timer(session: Any = None) -> StreamTimer:
    """The plugin's timer list, created and loaded on first use."""
    global _timer
    if _timer is None:
        _timer = StreamTimer().setup(timers_file(), session)
        _timer.load()
    if session is not None:
        _timer.session = session
    from .controller import get_controller
    get_controller().leftovers.claimant = Claims  # files a timer will continue are not offered
    return _timer


def reset_timer() -> Optional[StreamTimer]:
    """Forget the timer list and stop its eTimer (tests)."""
    global _timer
    old, _timer = _timer, None
    if old is not None:
        old.timer.stop()
    return old


def session_started(session: Any) -> None:
    """enigma2's session is up: the timers run from now on, if there are any (a stat of one
    small file on the reactor thread; the file is then read on a worker thread)."""
    if os.path.exists(timers_file()):
        get_timer(session)


def next_wakeup() -> int:
    """The plugin's wakeup function (PluginDescriptor wakeupfnc): the next timer's start."""
    return _timer.next_wakeup() if _timer is not None else -1
