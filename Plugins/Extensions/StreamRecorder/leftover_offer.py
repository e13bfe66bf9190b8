"""The question about a left-over recording, and keeping it before a new recording starts.

Files of a recording whose end the GUI never saw (restart, crash, power cut) are offered when
the main screen opens: keep into the movie folder, delete, or decide later. A new recording's
cleanup would remove them, so until the user has decided they are kept first. Nothing here
deletes anything without the user's answer; the file work runs on worker threads.

Files whose stream_state.json is of a timer whose window is open are that timer's: it continues
them after a restart (or keeps them first when it records anew), so they are not offered, and a
continued recording does not keep them away before it starts.
"""

import logging
import time
from typing import Any, List, Optional

from twisted.internet import defer, threads
from twisted.python.failure import Failure

from . import _, leftovers, recordings, texts
from .question import Question

log = logging.getLogger(__name__)


class LeftoverOffer:
    """Asks at most once at a time; remembers whether the folder's files are still undecided."""

    def __init__(self, controller: Any) -> None:
        """controller: the plugin's Controller (busy, report, track_file_work, ...)."""
        self.controller = controller
        self.asking = False
        # After a (re)start nothing in the recording folder has been decided yet.
        self.undecided = True
        # The timers, once they run (timers.get_timer sets it): claims(state) names the timer
        # that continues a folder's files, loaded() fires once the timer list has been read.
        self.claimant: Any = None

    def offer(self, session: Any, screen: Any = None) -> defer.Deferred:
        """When nothing records and no decision is pending, look for stream files in the
        recording folder and ask what to do with them; fires when the question is up (or not)."""
        if self.asking or not self.controller.quiet():
            return defer.succeed(None)
        self.asking = True
        # whether a timer owns the files is known once the timer list is read
        d = self.claimant.loaded() if self.claimant is not None else defer.succeed(None)
        d.addCallback(lambda _: threads.deferToThread(leftovers.find_configured))
        d.addCallback(self._ask, session, screen)
        d.addErrback(self._search_failed)
        return d

    def secure(self, folder: str, continuing: bool = False) -> Any:
        """Before the first recording after a start, or after "decide later": the new
        recording's cleanup would remove undecided files, so they are kept first. A recording
        that continues them (continue_recording) leaves them: they are kept with it."""
        if not self.undecided or continuing:
            return folder
        self.undecided = False
        d = threads.deferToThread(leftovers.keep, folder, self.controller.movie_dir(),
                                  _("Stream recording"))
        d.addCallback(self._kept)
        d.addCallback(lambda _result: folder)
        return d

    def _search_failed(self, failure: Failure) -> None:
        self.asking = False
        log.error("StreamRecorder: looking for left-over files failed: %s", failure.getTraceback())

    def _ask(self, found: Optional[leftovers.Leftover], session: Any, screen: Any) -> None:
        if found is not None and self.claimant is not None \
                and self.claimant.claims(found.state) is not None:
            self.asking = False  # still undecided: the timer continues or keeps them
            return
        still_open = screen is None or getattr(screen, "_sr_open", False)
        if found is None or not still_open or self.controller.busy():
            self.asking = False
            if found is None:
                self.undecided = False
            return
        self.controller.session = session
        session.openWithCallback(lambda answer: self._answered(found, answer), Question,
                                 title=_question(found),
                                 list=[(_("Keep it in the movie folder"), "keep"),
                                       (_("Delete it"), "delete"),
                                       (_("Decide later"), "later")])

    def _answered(self, found: leftovers.Leftover, answer: Any) -> None:
        self.asking = False
        choice = answer[1] if answer else "later"  # EXIT: ask again next time
        if self.controller.busy():
            return  # a recording started meanwhile has secured the files already
        if choice not in ("keep", "delete"):
            self.undecided = True  # the next recording keeps them before it starts
            return
        self.undecided = False
        if choice == "keep":
            movie_dir = self.controller.movie_dir()
            d = threads.deferToThread(leftovers.keep, found, movie_dir, _("Stream recording"))
            d.addCallbacks(self._kept, self.controller.file_error,
                           errbackArgs=(choice, movie_dir))
        else:
            d = threads.deferToThread(recordings.delete, found.rec_dir)
            d.addCallbacks(self._deleted, self.controller.file_error,
                           errbackArgs=(choice, found.rec_dir))
        self.controller.track_file_work(d)

    def _kept(self, paths: List[str]) -> None:
        if paths:
            self.controller.report(texts.keep_result_text(paths), timeout=8)

    def _deleted(self, _count: int) -> None:
        self.controller.last_result = _("The unfinished recording was deleted.")


def _question(found: leftovers.Leftover) -> str:
    text = _("An unfinished recording was found in %s.") % found.rec_dir
    if found.title:
        text += "\n" + found.title
    text += "\n" + _("%(count)d file(s), %(size)s, recorded %(date)s") % {
        "count": found.count, "size": texts.human_bytes(found.size),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(found.started_at))}
    return text + "\n" + _("It was neither kept nor deleted, e.g. because the receiver "
                           "restarted during the recording.")
