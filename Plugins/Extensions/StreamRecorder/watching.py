"""Record what I'm watching: the playing (or, from the channel list, the chosen) stream channel
is recorded and watched from the recording.

Many IPTV accounts allow one connection at a time, so a live stream is stopped when the
recording starts (not before: a question about a running recording may still say no), unless
"Keep the live channel playing" is set; a live DVB channel is left to the player. When that
recording has ended and its player is closed, the stream plays live again, if nothing else
plays by then.
"""

from typing import Any, Optional

from Screens.MessageBox import MessageBox

from . import _
from .config import settings
from .controller import get_controller
from .player_opener import in_standby
from .sources import host_of, stream_reference


def record_service(session: Any, service: Any = None) -> bool:
    """Record service (default: the one playing) and watch it; False when it is no stream."""
    nav = session.nav
    ref = service if service is not None else nav.getCurrentlyPlayingServiceReference()
    text = ref.toString() if ref is not None else ""
    parsed = stream_reference(text)
    if parsed is None:
        if service is None:
            message = _("The current channel is not an online stream: only channels that come "
                        "from the internet can be recorded this way.")
        else:
            message = _("This channel is not an online stream: only channels that come from the "
                        "internet can be recorded this way.")
        session.open(MessageBox, message, MessageBox.TYPE_INFO)
        return False
    title = ref.getName() or parsed.name or host_of(text)
    controller = get_controller()
    playing = nav.getCurrentlyPlayingServiceReference()
    # Only a live stream holds a connection of the account; a DVB channel is left to the
    # player, which gives it back when it closes.
    live_is_stream = playing is not None and stream_reference(playing.toString()) is not None
    if live_is_stream and not settings.keep_live.value:
        Handover(session, controller, text, playing)
    return controller.record_and_play(session, {"resolved_url": text, "original_url": text,
                                                "title": title})


class Handover:
    """Follows the controller until our recording has started (stops the live service) and,
    after it, ended with its player closed (plays the live service again)."""

    def __init__(self, session: Any, controller: Any, url: str, live: Any) -> None:
        self.session, self.controller, self.url, self.live = session, controller, url, live
        self.before = controller.preparing or controller.job
        self.job: Optional[Any] = None
        controller.add_listener(self.changed)

    def changed(self, message: Optional[list]) -> None:
        if self.job is None:
            self._maybe_started()
        else:
            self._maybe_ended()

    def _maybe_started(self) -> None:
        c = self.controller
        job = c.preparing
        if job is None or job is self.before:
            return
        if job.rr.get("resolved_url") != self.url:
            self.done()  # another recording was chosen meanwhile
            return
        self.job = job
        # The player is opened with nothing live, so it does not restart the stream on exit.
        self.session.nav.stopService()

    def _maybe_ended(self) -> None:
        c, job = self.controller, self.job
        if job is c.preparing or job.running or c.player_job is job:
            return
        self.done()
        if c.busy():
            return  # another recording has taken over (and the connection)
        nav = self.session.nav
        if nav.getCurrentlyPlayingServiceReference() is None and not in_standby():
            nav.playService(self.live)

    def done(self) -> None:
        self.controller.remove_listener(self.changed)
