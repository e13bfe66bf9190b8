"""When the player may open: only while a screen executes, never over standby.

enigma2's Session.open raises when no screen is executing (between a close and the next
exec); a `start` can arrive exactly then, or while the box is in standby, where a player
would run inside standby and break waking up. The opener waits for a moment when a screen can
be opened; in standby the recording goes on and the user is asked at wake-up.
"""

import logging
from typing import Any, Optional

from Screens.MessageBox import MessageBox
from twisted.internet import reactor

from . import _

log = logging.getLogger(__name__)

RETRY_S = 0.2  # how often an open that enigma2 cannot take now is tried again
RETRY_LIMIT = 150  # about 30 s; then the recording stays in the background and is kept


def in_standby() -> bool:
    import Screens.Standby
    return Screens.Standby.inStandby is not None


def can_open(session: Any) -> bool:
    """Session.open raises (RuntimeError, or an assertion in execEnd) unless the current
    screen executes or nothing is open at all."""
    return bool(session.in_exec or session.current_dialog is None)


def restore_after_failed_open(session: Any) -> None:
    """A screen's __init__ raised inside Session.open after the screen below was taken off
    (pushCurrent): put that one back, as if nothing had been opened."""
    stack = session.dialog_stack
    if not session.in_exec and stack and stack[-1][0] is session.current_dialog:
        session.popCurrent()


class PlayerOpener:
    """Opens the controller's player for a job at the first moment enigma2 allows it."""

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self._pending: Optional[Any] = None
        self._tries = 0
        self._call: Any = None
        self._standby: Any = None

    def open_player(self, job: Any) -> None:
        self._pending, self._tries = job, 0
        self._try()

    def cancel(self) -> None:
        self._pending = None
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _try(self) -> None:
        self._call = None
        job = self._pending
        if job is None or not job.watch or not job.running or self.controller.player is not None:
            self._pending = None
            return
        session = self.controller.session
        if in_standby():
            self._pending = None
            self._ask_at_wakeup(job)
        elif can_open(session):
            self._pending = None
            if not self.controller.open_player(job):
                self.controller.play_failed(job)
        elif self._tries < RETRY_LIMIT:
            self._tries += 1
            self._call = reactor.callLater(RETRY_S, self._try)
        else:
            self._pending = None
            self.controller.play_failed(job)

    # --- standby ---------------------------------------------------------------------------
    def _ask_at_wakeup(self, job: Any) -> None:
        """Recording goes on in standby; when the box wakes up, offer to watch it."""
        import Screens.Standby
        standby = Screens.Standby.inStandby
        if standby is None or self._standby is standby:
            return
        self._standby = standby
        standby.onClose.append(lambda: self._woke(job))

    def _woke(self, job: Any) -> None:
        self._standby = None
        # Standby is closing: nothing can be opened until the screen below executes again.
        reactor.callLater(RETRY_S, self._offer, job, 0)

    def _offer(self, job: Any, tries: int) -> None:
        session = self.controller.session
        if not job.running or self.controller.player is not None or in_standby():
            return
        if not can_open(session):
            if tries < RETRY_LIMIT:
                reactor.callLater(RETRY_S, self._offer, job, tries + 1)
            return
        session.openWithCallback(lambda yes: self._answered(job, yes), MessageBox,
                                 _("%s was recorded while the receiver was in standby and is "
                                   "still recording. Watch it now?") % job.title,
                                 MessageBox.TYPE_YESNO)

    def _answered(self, job: Any, yes: Any) -> None:
        if yes and job.running:
            self.open_player(job)
        elif job.running:
            job.watch = False  # the user chose the background: kept when it ends
