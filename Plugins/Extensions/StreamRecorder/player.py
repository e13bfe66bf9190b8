"""The player for a file that is still being recorded (a MoviePlayer subclass).

- EOF while the recording runs means the buffer ran dry: stay open and resume once the
  recorder reports more data (no "end of file" question, no exit).
- A new section (stream_<n+1>.ts after a resolution change) is switched to once the current
  file is exhausted.
- Once the recording has ended, EOF of the last section closes the player normally.
- EXIT asks: stop and keep, stop and delete, or keep recording in the background.
"""

import time
from typing import Any, Dict, Optional

from enigma import eServiceReference
from Screens.InfoBar import MoviePlayer

from . import _, compat
from .config import settings
from .player_opener import in_standby
from .question import Question

SERVICE_DVB = 1  # servicedvb: copes with a growing .ts file
SERVICE_GST = 4097  # servicemp3 (gstreamer): used for .mp4
SEEK_DELAY_MS = 500  # gstreamer needs the new pipeline running before it can seek
# servicedvb's push thread reads the end of a file 10 times, a second apart, then stops
# (lib/dvb/filepush.cpp): after that only a restart of the service reads what was added.
DVB_READER_GIVES_UP_S = 9.0


def service_for(path: str) -> Any:
    """eServiceReference(1, 0, path) for .ts, eServiceReference(4097, 0, path) for .mp4.

    The reference carries no name: a named one ends in ":<name>" instead of the path, and
    Standby (Screens/Standby.py) then takes it for a channel, stops it instead of pausing and
    restarts it from the beginning at wake-up. The player shows the title of the .meta the
    recorder writes (servicedvb reads it)."""
    kind = SERVICE_GST if path.lower().endswith(".mp4") else SERVICE_DVB
    return eServiceReference(kind, 0, path)


class StreamRecorderPlayer(MoviePlayer):
    """Plays the recording's sections in order while they are written."""

    ENABLE_RESUME_SUPPORT = False

    def __init__(self, session: Any, service: Any, controller: Any, job: Any, section: int,
                 lastservice: Any) -> None:
        self.controller = controller
        self.job = job
        self.section = section
        self.live_service = lastservice
        self.waiting = False  # at the end of the file while the recording goes on
        self._waiting_since = 0.0
        self._eof_pending = False
        self._bytes_at_eof: Optional[int] = None
        self._seek_to: Optional[int] = None
        from Components.config import config
        self._last_movie_played = config.usage.last_movie_played.value
        compat.movie_player_init(MoviePlayer, self, session, service, lastservice)
        self.skinName = ["StreamRecorderPlayer", "MoviePlayer"]
        self._seek_timer = compat.Timer(self._seek_after_restart)
        # A pending EOF is handled just after the player is active again, not inside execBegin.
        self._eof_timer = compat.Timer(self._pending_eof)
        self._hold_timer = compat.Timer(self._hold_in_standby)
        self.onExecBegin.append(self._exec_begin)
        self.onExecEnd.append(self._exec_end)
        self.onClose.append(self._closed)

    # --- end of file --------------------------------------------------------------------------
    def doEofInternal(self, playing: bool) -> None:
        if not self.execing:
            # Something is on top (e.g. an error message): decide when it has closed.
            self._eof_pending = True
            return
        self._eof_pending = False
        self._at_end()

    def _exec_begin(self) -> None:
        if self._eof_pending:
            self._eof_timer.start(0, True)
        elif self.waiting:
            self._continue()  # news may have arrived while something (e.g. standby) was on top

    def _exec_end(self) -> None:
        if self.waiting:
            # Standby opens over the player (inStandby is set once its screen exists).
            self._hold_timer.start(0, True)

    def _hold_in_standby(self) -> None:
        """At the end of the data when standby starts: Standby pauses only a playing service
        (Screens/Standby.py), and servicedvb reads on by itself when the file grows, so the
        player would play on behind standby. Hold it until the user is back."""
        if self.waiting and not self.execing and in_standby():
            self.setSeekState(self.SEEK_STATE_PAUSE)

    def _pending_eof(self) -> None:
        if self._eof_pending and self.execing:
            self._eof_pending = False
            self._at_end()

    def _at_end(self) -> None:
        if self.section + 1 in self.job.sections:
            self._switch(self.section + 1)
        elif self.job.running:
            if not self.waiting:
                self.waiting = True
                self._waiting_since = time.monotonic()
                self._bytes_at_eof = self._recorded_bytes()
                self._seek_to = self._position()
        else:
            self.close_with("finished")

    def _recorded_bytes(self) -> int:
        progress = self.job.progress or {}
        return int(progress.get("bytes") or 0)

    def _position(self) -> Optional[int]:
        seek = self.getSeek()
        position = seek.getPlayPosition() if seek is not None else None
        if position and not position[0]:
            return int(position[1])
        return None

    # --- news from the controller (reactor thread) -------------------------------------------
    # While something is on top of the player (standby, a message) it stays where it is; the
    # waiting ends when it is the active screen again (_exec_begin).
    def on_progress(self, progress: Dict[str, Any]) -> None:
        if self.waiting and self.execing:
            self._continue()

    def on_section_started(self, section: int, path: str) -> None:
        if self.waiting and self.execing:
            self._continue()

    def on_recording_stopped(self, stop: Dict[str, Any]) -> None:
        if self.waiting and self.execing:
            self._continue()

    def _continue(self) -> None:
        """At the end of what was on disk: the next section, or what arrived since the EOF."""
        if self.section + 1 in self.job.sections:
            self._switch(self.section + 1)
        elif not self.job.running or self._recorded_bytes() > (self._bytes_at_eof or 0):
            self._resume()  # after the recording's end the next EOF ends playback

    # --- playback -----------------------------------------------------------------------------
    def _resume(self) -> None:
        self.waiting = False
        gave_up = time.monotonic() - self._waiting_since >= DVB_READER_GIVES_UP_S
        if self.cur_service.type == SERVICE_GST or gave_up:
            # The reader has finished at the old end of the file (gstreamer at once, servicedvb
            # after its retries): reopen it and seek back there. Navigation ignores a request
            # for the reference already playing unless forceRestart is given.
            self.session.nav.playService(self.cur_service, forceRestart=True)
            self.seekstate = self.SEEK_STATE_PLAY
            if self._seek_to:
                self._seek_timer.start(SEEK_DELAY_MS if self.cur_service.type == SERVICE_GST else 0, True)
        else:
            self.setSeekState(self.SEEK_STATE_PLAY)

    def _seek_after_restart(self) -> None:
        seek = self.getSeek()
        if seek is not None and self._seek_to:
            seek.seekTo(self._seek_to)
        self._seek_to = None

    def _switch(self, section: int) -> None:
        self.waiting = False
        self.section = section
        self.cur_service = service_for(self.job.sections[section])
        self.session.nav.playService(self.cur_service)
        self.seekstate = self.SEEK_STATE_PLAY

    # --- keys that would replace the recording -------------------------------------------------
    def showMovies(self, *args: Any) -> None:
        """Up/down and the movie-list key open MoviePlayer's movie list, whose choice replaces
        what plays: here they only show the infobar."""
        self.show()

    # --- leaving ------------------------------------------------------------------------------
    def leavePlayer(self) -> None:
        self.ask_leave()

    def leavePlayerOnExit(self) -> None:
        if self.shown:
            self.hide()  # the first EXIT hides the infobar, as in every MoviePlayer
        else:
            self.ask_leave()

    def leavePlayerConfirmed(self, answer: Any) -> None:
        self.ask_leave()

    def ask_leave(self) -> None:
        """EXIT: stop and keep, stop and delete, keep recording in the background, or go on."""
        policy = settings.on_exit.value
        if policy in ("keep", "delete"):
            self.close_with(policy)
            return
        if self.job.running:
            title = _("Stop watching %s?") % self.job.title
            choices = [(_("Stop recording and keep it"), "keep"),
                       (_("Stop recording and delete it"), "delete"),
                       (_("Keep recording in the background"), "background"),
                       (_("Continue watching"), "continue")]
        else:
            title = _("The recording of %s has ended.") % self.job.title
            choices = [(_("Keep the recording"), "keep"), (_("Delete the recording"), "delete"),
                       (_("Continue watching"), "continue")]
        self.session.openWithCallback(self._leave_answered, Question, title=title, list=choices)

    def _leave_answered(self, answer: Any) -> None:
        choice = answer and answer[1]
        if choice in ("keep", "delete", "background"):
            self.close_with(choice)

    def close_with(self, reason: str) -> None:
        """Close; the controller gets `reason` through the session callback (after the pop)."""
        self.close(reason)

    def _closed(self) -> None:
        self._seek_timer.stop()
        self._eof_timer.stop()
        self._hold_timer.stop()
        # MoviePlayer points the movie list's "last played" at our file, which is moved or
        # deleted: give the user's own last movie back.
        from Components.config import config
        config.usage.last_movie_played.value = self._last_movie_played
        config.usage.last_movie_played.save()
        nav = self.session.nav
        # MoviePlayer plays `lastservice` on close; make sure the live service is back.
        if self.live_service is not None and nav.getCurrentlyPlayingServiceReference() != self.live_service:
            nav.playService(self.live_service)
