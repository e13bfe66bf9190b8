"""The plugin-wide recording controller: one Manager, the recording ("job"), its player, its files.

Everything here runs on the reactor thread (enigma2's GUI thread) and never blocks: the recorder
runs on the reactor's thread pool inside the core Manager; folder checks and moving or deleting
files go through deferToThread; messages arrive here on the reactor thread and are passed on to
whichever screen is open. The controller outlives screens, so a background recording keeps
running and its messages keep arriving after the main screen is closed.
"""

import logging
import time
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlsplit

from Screens.MessageBox import MessageBox
from Tools.Notifications import AddNotification
from streamrecorder import streamurl
from streamrecorder.errors import RecorderError
from streamrecorder.manager import Manager
from twisted.internet import defer, reactor, threads
from twisted.python.failure import Failure

from . import _, ends, jobs, recordings, storage, texts
from . import config as cfg
from .control_link import ControlLink
from .end_question import EndQuestion
from .leftover_offer import LeftoverOffer
from .player_opener import PlayerOpener, can_open, in_standby, restore_after_failed_open
from .question import Question

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 10.0  # how long a shutdown waits for the recorder to close its files
SHOW_RETRY_S, SHOW_TRIES = 0.1, 50  # a message waits up to 5 s for a screen that may open

Listener = Callable[[Optional[list]], None]


def display_name(url: str) -> str:
    """A service reference's channel name, else the URL's host (never its tokens)."""
    try:
        parsed = streamurl.parse(url)
    except RecorderError:
        return urlsplit(url).netloc or url
    return parsed.name or urlsplit(parsed.url).netloc or parsed.url


class Job:
    """One recording as the GUI sees it: its input, sections, last progress and what to do with it."""

    def __init__(self, resolve_result: Dict[str, Any], title: str, watch: bool) -> None:
        self.rr = resolve_result
        self.title = title
        self.watch = watch
        self.started_at = time.time()
        self.rec_dir = ""
        self.sections: Dict[int, str] = {}
        self.progress: Optional[Dict[str, Any]] = None
        self.recorder: Optional[str] = None
        self.launched = False
        self.stop_requested = False
        self.stop: Optional[Dict[str, Any]] = None
        self.action: Optional[str] = None  # "keep" or "delete", once decided
        self.files_done = False
        self.kept: List[str] = []
        self.adopted = False  # started by someone else (e.g. the control socket)
        self.recording_id: Optional[str] = None  # the Manager's id, stamped on its messages
        self.preempted = False  # stopped for another recording: its files are kept first
        self.player_seen = False  # its player was opened at least once
        self.task_job: Optional[jobs.RecordingJob] = None  # its entry in enigma2's job list
        self.ask_end = False  # started from the GUI without a duration: ask how long
        self.end_at: Optional[float] = None  # the end the user chose (epoch seconds)
        self.by_timer = False  # started by a stream timer (never pre-empted by another timer)
        self.description = ""  # the .meta description when kept (else the redacted URL)
        self.eit = b""  # enigma2's .eit beside the kept file, when the EPG event is known

    @property
    def running(self) -> bool:
        return self.launched and self.stop is None


class Controller:
    """Starts recordings, opens the player on the first `start`, applies keep/delete."""

    def __init__(self, manager_factory: Callable[..., Manager] = Manager) -> None:
        self._manager_factory = manager_factory
        self._manager: Optional[Manager] = None
        self.session: Any = None
        self.job: Optional[Job] = None
        self.preparing: Optional[Job] = None
        self.player: Any = None
        self.player_job: Optional[Job] = None  # whose player is open (the player itself may be gone)
        self.last_result = ""
        self._listeners: List[Listener] = []
        self._file_work: List[defer.Deferred] = []
        self._settle_waiters: List[defer.Deferred] = []
        self.control = ControlLink(lambda: self.manager, self.record_for_client)
        self.shutting_down = False
        self.leftovers = LeftoverOffer(self)
        self.opener = PlayerOpener(self)
        self.clock: Callable[[], float] = time.time  # wall clock of the recording ends (tests)
        # Runs together with the Manager's own trigger, before any stop message is handled.
        self._trigger: Any = reactor.addSystemEventTrigger("before", "shutdown",
                                                           self._before_shutdown)

    # --- the core --------------------------------------------------------------------------
    @property
    def manager(self) -> Manager:
        """The one Manager of the plugin, created on first use."""
        if self._manager is None:
            self._manager = self._manager_factory(recorder_options=cfg.recorder_options())
            self._manager.subscribe(self._on_message)
        return self._manager

    def close(self) -> defer.Deferred:
        """Detach from the Manager and close the control socket (tests; enigma2 keeps the
        controller for its lifetime); fires when the socket is closed."""
        if self._trigger is not None:
            reactor.removeSystemEventTrigger(self._trigger)
            self._trigger = None
        for job in (self.job, self.preparing):
            if job is not None and job.task_job is not None:
                job.task_job.recording_ended()
        if self._manager is not None:
            self._manager.unsubscribe(self._on_message)
            self._manager.close()
            self._manager = None
        return self.control.close()

    # --- settings, control socket, shutdown -------------------------------------------------
    def apply_settings(self) -> defer.Deferred:
        """After the settings were saved: new recorder options, control socket (re)started or
        stopped; fires with an error text ("" when fine)."""
        if self._manager is not None:
            self._manager.recorder_options.update(cfg.recorder_options())
        return self.control.apply()

    def _before_shutdown(self) -> None:
        """Reactor shutdown (GUI restart, deep standby): the Manager stops the recorder; files
        are left for the left-over question at the next start instead of being moved now."""
        self.shutting_down = True
        self.control.close()

    def shutdown(self, timeout: float = SHUTDOWN_WAIT_S) -> bool:
        """enigma2 quits (WHERE_AUTOSTART, reason 1; the reactor has stopped by then): stop the
        recorder and wait for it to close its files, at most timeout seconds; True when idle."""
        self._before_shutdown()
        if self._manager is None:
            return True
        self._manager.stop()
        # The reactor no longer runs, so no stop message arrives: watch the recorder itself.
        deadline = time.monotonic() + timeout
        while self._manager.status()["state"] != "idle":
            if time.monotonic() >= deadline:
                log.error("StreamRecorder: the recorder did not stop within %.0f s", timeout)
                return False
            time.sleep(0.05)
        return True

    # --- enigma2's job list -----------------------------------------------------------------
    def _register(self, job: Job) -> None:
        """A running recording is a pending job: enigma2 asks before shutting down."""
        job.task_job = jobs.register(job.title, lambda: self._abort(job))

    def _abort(self, job: Job) -> None:
        """Aborted in enigma2's task list: stop; a watched recording is decided by its player,
        any other is kept (never lost silently)."""
        if not job.running:
            return
        if job.adopted or self.player_job is job:
            job.stop_requested = True
            self.manager.stop()
            self._notify()
        else:
            self.stop_and(job, "keep")

    # --- screens that show the status -------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, message: Optional[list] = None) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a broken screen must not stop the recording logic
                log.exception("status listener failed")

    def running_job(self) -> Optional[Job]:
        return self.job if self.job is not None and self.job.running else None

    def busy(self) -> bool:
        return self.running_job() is not None or self.preparing is not None

    def status(self) -> Dict[str, Any]:
        """What the status area shows."""
        job = self.running_job()
        if job is not None:
            if job.stop_requested:
                state = "stopping"
            else:
                state = "recording" if (job.sections or job.progress) else "starting"
        elif self.preparing is not None:
            job, state = self.preparing, "preparing"
        else:
            return {"state": "idle", "last_result": self.last_result}
        return {"state": state, "title": job.title, "progress": job.progress,
                "recorder": job.recorder, "last_result": self.last_result,
                "end": ends.until_text(job.end_at, self.clock()) if job.end_at else ""}

    # --- starting ---------------------------------------------------------------------------
    def record_and_play(self, session: Any, resolve_result: Dict[str, Any],
                        watch: bool = True, ask_end: bool = True) -> bool:
        """Record resolve_result; with watch, open the player on its first `start` message.
        With ask_end (every GUI source) and no `duration` given, the user chooses the end."""
        if not resolve_result.get("resolved_url"):
            return False
        self.session = session
        job = self._make_job(resolve_result, watch)
        job.ask_end = ask_end and resolve_result.get("duration") is None
        current = self.running_job() or self.preparing
        if current is not None:
            session.openWithCallback(
                lambda answer: answer and self._ask_end(job), MessageBox,
                _("A recording is running: %s\nStop it (it is kept in the movie folder) and "
                  "record the new stream?") % current.title, MessageBox.TYPE_YESNO)
            return True
        self._ask_end(job)
        return True

    def _ask_end(self, job: Job) -> None:
        """The one place where a GUI recording gets its end; then it starts (EXIT: it does not)."""
        if not job.ask_end:
            self._start(job)
            return

        def chosen(end: Optional[float]) -> None:
            job.end_at = end
            self._start(job)
        EndQuestion(self.session, job.title, job.rr, self.clock, chosen, lambda: None).ask()

    def record_for_timer(self, session: Any, resolve_result: Dict[str, Any],
                         description: str = "", eit: bytes = b"") -> Optional[Job]:
        """A due stream timer: record in the background (no player, no question; its
        `duration` ends it), pre-empting a recording started without a timer, which is kept
        first. None while another timer's recording runs (a timer never pre-empts a timer)."""
        current = self.running_job() or self.preparing
        if current is not None and current.by_timer:
            return None
        self.session = self.session or session
        job = self._make_job(resolve_result, watch=False)
        job.by_timer, job.description, job.eit = True, description, eit
        self._start(job)
        return job

    def record_for_client(self, resolve_result: Dict[str, Any]) -> bool:
        """A recording another program asked for over the control socket. Like ours, it
        starts only after the recording it pre-empts was kept and undecided left-over files
        were kept (its cleanup would remove them)."""
        self._release_previous()
        d = self._settled()
        d.addCallback(lambda _: self.leftovers.secure(
            str(resolve_result.get("rec_dir") or ""),
            bool(resolve_result.get("continue_recording"))))  # its own files: left as they are
        d.addCallback(lambda _: self.manager.record_stream(resolve_result))
        d.addErrback(self._file_error_for_client)
        return True

    def _file_error_for_client(self, failure: Failure) -> None:
        # Not started: the files could not be kept. The client sees no recording start.
        self._log_failure(failure)
        self.last_result = _("A recording asked for over the control socket did not start: "
                             "the unfinished recording could not be kept.")
        self._notify()

    def _make_job(self, resolve_result: Dict[str, Any], watch: bool) -> Job:
        rr = cfg.resolve_defaults()
        rr.update({k: v for k, v in resolve_result.items() if v is not None})
        title = str(rr.get("title") or display_name(str(rr["resolved_url"])))
        rr["title"] = title
        return Job(rr, title, watch)

    def _start(self, job: Job) -> None:
        self._release_previous()
        self.preparing = job
        self._notify()
        configured = job.rr.get("rec_dir") or cfg.settings.rec_dir.value
        d = self._settled()
        d.addCallback(lambda _: threads.deferToThread(storage.prepare_folder, configured))
        d.addCallback(self.leftovers.secure, bool(job.rr.get("continue_recording")))
        d.addCallbacks(self._launch, self._prepare_failed, callbackArgs=(job,), errbackArgs=(job,))
        d.addErrback(self._log_failure)

    def _release_previous(self) -> None:
        """Before a new recording: the old one (ours or another program's) is stopped and
        kept, so its files are in the movie folder before the new one's cleanup runs."""
        if self.preparing is not None:
            self.preparing = None
        old = self.job
        if old is None:
            return
        if old.adopted:
            if old.running:
                old.preempted = True
                old.action = "keep"
                old.stop_requested = True
                self.manager.stop()
            return
        old.preempted = True
        self.opener.cancel()
        if self.player is not None:
            player, self.player, self.player_job = self.player, None, None
            old.watch = False
            # Screen.close() on a screen that is not on top closes it once it is again.
            player.close_with("replaced")
        if old.running:
            old.action = old.action or "keep"
            old.watch = False
            old.stop_requested = True
            self.manager.stop()
        elif not old.files_done and old.action is None:
            self._apply(old, "keep")

    def _launch(self, folder: str, job: Job) -> None:
        if self.preparing is not job:
            return  # replaced by a newer request meanwhile
        self.preparing = None
        job.rec_dir = folder
        job.rr["rec_dir"] = folder
        if job.end_at is not None:  # fixed when chosen: the time spent preparing counts
            job.rr["duration"] = ends.duration_at(job.end_at, self.clock())
        manager = self.manager
        manager.recorder_options.update(cfg.recorder_options())
        self.job = job
        job.launched = True
        recording_id = manager.record_stream(job.rr)
        job.recording_id = recording_id if isinstance(recording_id, str) else None
        if not recording_id:
            job.launched = False
            job.files_done = True
            self.last_result = texts.error_text("failure")
            self._show(texts.error_text("failure", _("the recorder could not be started")),
                       MessageBox.TYPE_ERROR)
        elif job.running:  # a scripted stop may already have arrived
            self._register(job)
        self._notify()

    def _prepare_failed(self, failure: Failure, job: Job) -> None:
        if self.preparing is not job:
            return
        self.preparing = None
        self._notify()
        if failure.check(storage.StorageError):
            text = texts.storage_text(failure.value.kind, failure.value.path)
        else:
            log.error("preparing the recording failed: %s", failure.getErrorMessage())
            text = texts.error_text("failure", failure.getErrorMessage())
        self.last_result = text
        if self.session is not None:
            self.session.openWithCallback(self._open_settings, MessageBox, text,
                                          MessageBox.TYPE_ERROR)

    def _open_settings(self, *_answer: Any) -> None:
        self.open_settings(self.session)

    def open_settings(self, session: Any) -> None:
        """The settings screen; what it saved is applied when it closes."""
        from .settings import StreamRecorderSettings
        self.session = session
        session.openWithCallback(self._settings_closed, StreamRecorderSettings)

    def _settings_closed(self, saved: Any = False) -> None:
        if saved:
            self.apply_settings().addCallback(self._settings_applied)

    def _settings_applied(self, error: str) -> None:
        # The settings screen has closed: shown when a screen may open again, never raised.
        if error:
            self.report(error, MessageBox.TYPE_ERROR)

    # --- stopping ---------------------------------------------------------------------------
    def stop_recording(self, session: Any) -> bool:
        """Blue key: stop the running recording; keep or delete as configured (or ask)."""
        job = self.running_job()
        if job is None:
            return False
        self.session = session
        policy = cfg.settings.on_exit.value
        if policy in ("keep", "delete"):
            self.stop_and(job, policy)
            return True

        def answered(answer: Any) -> None:
            if answer and answer[1] in ("keep", "delete"):
                self.stop_and(job, answer[1])
        session.openWithCallback(answered, Question, title=_("Stop recording %s?") % job.title,
                                 list=[(_("Stop and keep the recording"), "keep"),
                                       (_("Stop and delete the recording"), "delete"),
                                       (_("Continue recording"), "continue")])
        return True

    def stop_and(self, job: Job, action: str) -> None:
        """Stop job (non-blocking) and keep or delete its files once its stop message arrived."""
        job.action = action
        if job.running:
            job.stop_requested = True
            self.manager.stop()
            self._notify()
        else:
            self._apply(job, action)

    # --- messages (reactor thread) ----------------------------------------------------------
    def _on_message(self, message: list) -> None:
        kind, data = message[0], message[1]
        job = self._job_of(data)
        if job is None:
            if kind != "start":
                self._notify(message)
                return
            job = self._adopt(data)
        if kind == "start":
            self._on_start(job, data)
        elif kind == "progress":
            job.progress = data
            if job.task_job is not None:
                job.task_job.set_percent(data.get("percent"))
            job.recorder = (data.get("recorder") or {}).get("type") or job.recorder
            if self.player_job is job:
                self.player.on_progress(data)
        elif kind == "stop":
            self._on_stop(job, data)
        self._notify(message)

    def _job_of(self, data: Dict[str, Any]) -> Optional[Job]:
        """The running job a message belongs to, by the Manager's recording_id."""
        job = self.job
        if job is None or not job.running:
            return None
        recording_id = data.get("recording_id")
        if recording_id is not None and job.recording_id is not None and recording_id != job.recording_id:
            return None
        if job.recording_id is None:
            job.recording_id = recording_id
        return job

    def _adopt(self, data: Dict[str, Any]) -> Job:
        """A recording someone else started through the shared Manager: show it, touch nothing."""
        url = str(data.get("url") or "")
        job = Job({"resolved_url": url}, display_name(url), watch=False)
        job.launched = job.adopted = True
        job.recording_id = data.get("recording_id")
        self.job = job
        self._register(job)
        return job

    def _on_start(self, job: Job, data: Dict[str, Any]) -> None:
        section = int(data.get("section_index") or 0)
        first = not job.sections
        job.sections[section] = str(data["rec_file"])
        job.recorder = (data.get("recorder") or {}).get("type") or job.recorder
        if self.player_job is job and self.player is not None:
            self.player.on_section_started(section, job.sections[section])
        elif first and job.watch and self.player is None and self.session is not None:
            self.opener.open_player(job)

    def open_player(self, job: Job) -> bool:
        """Open the player on job's first section now; False when enigma2 refused it."""
        from .player import StreamRecorderPlayer, service_for
        section = min(job.sections)
        live = self.session.nav.getCurrentlyPlayingServiceReference()
        service = service_for(job.sections[section])
        try:
            player = self.session.openWithCallback(
                lambda reason=None, *_rest: self.player_closed(job, reason),
                StreamRecorderPlayer, service, self, job, section, live)
        except Exception:  # noqa: BLE001 - RuntimeError (no modal screen) or OpenATV's singleton
            log.exception("StreamRecorder: the player could not be opened")
            restore_after_failed_open(self.session)
            return False
        self.player, self.player_job = player, job
        job.player_seen = True
        return True

    def play_failed(self, job: Job) -> None:
        """The player cannot be opened: the recording goes on in the background and is kept."""
        job.watch = False
        if not job.running and not job.files_done and job.action is None:
            self._apply(job, "keep")
        self.report(_("%s is recorded in the background: the player could not be opened "
                      "(for example while another player is open). The recording is kept in "
                      "the movie folder.") % job.title, MessageBox.TYPE_INFO, timeout=10)

    def _on_stop(self, job: Job, data: Dict[str, Any]) -> None:
        job.stop = data
        self.opener.cancel()
        if job.task_job is not None:
            job.task_job.recording_ended()
        reason = data.get("reason")
        if reason == "error":
            text = texts.error_text(data.get("error_id"), str(data.get("msg") or ""))
            self.last_result = text
            self._show(text, MessageBox.TYPE_ERROR)
        elif reason == "complete":
            self.last_result = _("Recording finished: %s") % job.title
        elif data.get("error_id"):  # stopped before anything playable arrived: say why
            self.last_result = texts.error_text(data.get("error_id"), str(data.get("msg") or ""))
        else:
            self.last_result = _("Recording stopped: %s") % job.title
        if self.player_job is job and self.player is not None:
            self.player.on_recording_stopped(data)
        job.rec_dir = job.rec_dir or str(data.get("rec_dir") or "")
        if job.adopted and not job.preempted:
            job.files_done = True
        elif self.shutting_down:
            job.files_done = True  # left in the folder: offered at the next start
        elif job.action is not None:
            self._apply(job, job.action)
        elif not job.sections:
            job.files_done = True  # nothing playable was recorded: nothing to keep
        elif not job.watch or not job.player_seen:
            # Sent to the background, or never watched (standby, no screen could be opened):
            # nobody decided, so it is kept, never lost.
            self._apply(job, "keep")
        elif self.player is None:
            self.ask_keep(job)
        # else: the player is open; keep/delete is decided when it closes
        self._check_settled()

    # --- the player's end -------------------------------------------------------------------
    def player_closed(self, job: Job, reason: Optional[str]) -> None:
        """The player of job has closed (session callback, so it is off the screen stack).

        reason: keep/delete (user's choice), background, finished, replaced, or None (closed by
        something else, e.g. standby: a running recording then continues in the background)."""
        if self.player_job is job:
            self.player, self.player_job = None, None
        if reason in ("keep", "delete"):
            self.stop_and(job, reason)
        elif reason == "replaced":
            pass
        elif reason == "background" or job.running:
            job.watch = False
            if not job.running and not job.files_done and job.action is None:
                self._apply(job, "keep")
        elif not job.files_done and job.action is None:
            self.ask_keep(job)
        self._notify()

    def ask_keep(self, job: Job) -> None:
        """A recording that has ended and was watched: keep or delete as configured, or ask."""
        policy = cfg.settings.on_exit.value
        if policy in ("keep", "delete"):
            self._apply(job, policy)
            return
        if not can_open(self.session) or in_standby():
            self._apply(job, "keep")  # nobody can be asked now: never lose it
            return

        def answered(answer: Any) -> None:
            # Closing the question without an answer keeps the recording: never lose it silently.
            self._apply(job, answer[1] if answer and answer[1] == "delete" else "keep")
        self.session.openWithCallback(answered, Question,
                                      title=_("Keep the recording of %s?") % job.title,
                                      list=[(_("Keep it in the movie folder"), "keep"),
                                            (_("Delete it"), "delete")])

    # --- files (worker threads) -------------------------------------------------------------
    def _apply(self, job: Job, action: str) -> None:
        job.action = action
        foreign = job.adopted and not job.preempted
        if job.stop is None or job.files_done or foreign or self.shutting_down or not job.rec_dir:
            return  # runs once the stop message is in (the recorder has closed its files)
        job.files_done = True
        if action == "keep":
            movie_dir = self.movie_dir()
            description = job.description or streamurl.loggable(
                str(job.rr.get("original_url") or job.rr["resolved_url"]))
            d = threads.deferToThread(recordings.keep, job.rec_dir, movie_dir, job.title,
                                      job.started_at, description, job.eit)
            d.addCallbacks(self._kept, self._file_failed, callbackArgs=(job,),
                           errbackArgs=(job, movie_dir))
        else:
            d = threads.deferToThread(recordings.delete, job.rec_dir)
            d.addCallbacks(self._deleted, self._file_failed, callbackArgs=(job,),
                           errbackArgs=(job, job.rec_dir))
        self.track_file_work(d)

    def track_file_work(self, d: defer.Deferred) -> None:
        """Keep/delete running on a worker thread: the controller is not settled until it ends."""
        self._file_work.append(d)
        d.addErrback(self._log_failure)
        d.addBoth(self._file_work_done, d)

    def _kept(self, paths: List[str], job: Job) -> None:
        job.kept = paths
        if paths:
            self.report(texts.keep_result_text(paths), timeout=8)

    def _deleted(self, count: int, job: Job) -> None:
        self.last_result = _("The recording of %s was deleted.") % job.title

    def _file_failed(self, failure: Failure, job: Job, folder: str) -> None:
        self.file_error(failure, job.action or "keep", folder)

    def file_error(self, failure: Failure, action: str, folder: str) -> None:
        """Tell the user that keeping ("keep") or deleting files failed, and why."""
        reason = getattr(failure.value, "strerror", None) or failure.getErrorMessage()
        if action == "keep":
            text = _("The recording could not be moved to the movie folder %(folder)s: %(reason)s\n"
                     "It stays in the recording folder until the next recording starts.") % {
                         "folder": folder, "reason": reason}
        else:
            text = _("The recording could not be deleted: %s") % reason
        self.report(text, MessageBox.TYPE_ERROR)

    def _file_work_done(self, result: Any, d: defer.Deferred) -> None:
        if d in self._file_work:
            self._file_work.remove(d)
        self._notify()
        self._check_settled()

    def offer_leftovers(self, session: Any, screen: Any = None) -> defer.Deferred:
        """The main screen opened: ask about a left-over recording, if there is one."""
        return self.leftovers.offer(session, screen)

    def quiet(self) -> bool:
        """Nothing records, prepares or moves files, and no adopted recording is around."""
        adopted = self.job is not None and self.job.adopted
        return not (self.busy() or adopted or not self._is_settled())

    def report(self, text: str, kind: int = MessageBox.TYPE_INFO, timeout: int = -1) -> None:
        """Remember text as the last result and show it."""
        self.last_result = text
        self._show(text, kind, timeout)

    @staticmethod
    def movie_dir() -> str:
        return cfg.movie_dir()

    # --- waiting without blocking -------------------------------------------------------------
    def _is_settled(self) -> bool:
        if self._file_work:
            return False
        job = self.job
        return job is None or (not job.running and (job.files_done or job.adopted))

    def _settled(self) -> defer.Deferred:
        """Fires once no recording runs and the last one's files are kept or deleted."""
        d: defer.Deferred = defer.Deferred()
        self._settle_waiters.append(d)
        self._check_settled()
        return d

    def _check_settled(self) -> None:
        if self._settle_waiters and self._is_settled():
            waiters, self._settle_waiters = self._settle_waiters, []
            for d in waiters:
                d.callback(None)

    def idle(self) -> defer.Deferred:
        """For tests and shutdown: fires when nothing is recording, preparing or moving files."""
        return self._settled()

    # --- helpers ----------------------------------------------------------------------------
    def _show(self, text: str, kind: int, timeout: int = -1, tries: int = 0) -> None:
        """Show a message as soon as a screen may open (Session.open raises between a close
        and the next exec); in standby, or when none could be opened for a while, through
        enigma2's notification queue (shown when the InfoBar is back). Never an exception."""
        if self.session is None:
            return
        if in_standby() or (not can_open(self.session) and tries >= SHOW_TRIES):
            AddNotification(MessageBox, text, kind, timeout=timeout)
        elif can_open(self.session):
            self.session.open(MessageBox, text, kind, timeout=timeout)
        else:
            reactor.callLater(SHOW_RETRY_S, self._show, text, kind, timeout, tries + 1)

    @staticmethod
    def _log_failure(failure: Failure) -> None:
        log.error("StreamRecorder: %s", failure.getTraceback())


_controller: Optional[Controller] = None


def get_controller() -> Controller:
    """The plugin-wide controller (created lazily, kept across screen openings)."""
    global _controller
    if _controller is None:
        _controller = Controller()
    return _controller


def reset_controller() -> Optional[Controller]:
    """Forget the plugin-wide controller and return it (tests)."""
    global _controller
    old, _controller = _controller, None
    return old


def session_started(session: Any) -> None:
    """enigma2's session is up (WHERE_SESSIONSTART): open the control socket if enabled, so
    other programs can record without the plugin's screen having been opened."""
    if cfg.control_address() is not None:
        controller = get_controller()
        controller.session = session
        controller.apply_settings()


def shutdown() -> None:
    """enigma2 quits (WHERE_AUTOSTART, reason 1): stop a running recording cleanly."""
    if _controller is not None:
        _controller.shutdown()
