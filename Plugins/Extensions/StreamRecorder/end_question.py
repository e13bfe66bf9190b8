"""The question "how long?" before a recording started from the GUI: the plugin's Question,
the number boxes for minutes and a time, and the EPG event of a channel."""

from typing import Any, Callable, Dict, Optional

from Components.Input import Input
from Screens.InputBox import InputBox
from Screens.MessageBox import MessageBox
from enigma import eEPGCache, eServiceReference
from streamrecorder import streamurl

from . import _, ends, skins
from .question import Question

Done = Callable[[Optional[float]], None]  # called with the end (epoch seconds) or None (open)


def programme_end(resolve_result: Dict[str, Any], now: float) -> Optional[float]:
    """The end of the EPG event running now on the channel, when the source is a service
    reference with a known event (an address alone has no EPG)."""
    for key in ("original_url", "resolved_url"):
        text = str(resolve_result.get(key) or "")
        if streamurl.is_service_reference(text):
            event = eEPGCache.getInstance().lookupEventTime(eServiceReference(text), int(now))
            return ends.event_end(event, now)
    return None


class NumberBox(InputBox):
    """enigma2's InputBox for digits in the plugin's skin (skin_default's is 550 pixels wide on
    any OSD and its labels reach past its window)."""

    def __init__(self, session: Any, **kwargs: Any) -> None:
        InputBox.__init__(self, session, **kwargs)
        self.skinName = ["StreamRecorderNumberBox"]
        self.skin = skins.get("StreamRecorderNumberBox")


class EndQuestion:
    """Asks once; done(end) when answered, cancelled() when the user backs out."""

    def __init__(self, session: Any, title: str, resolve_result: Dict[str, Any],
                 clock: Callable[[], float], done: Done, cancelled: Callable[[], None]) -> None:
        self.session = session
        self.title = title
        self.rr = resolve_result
        self.clock = clock
        self.done = done
        self.cancelled = cancelled
        self.programme_end: Optional[float] = None

    def ask(self) -> None:
        now = self.clock()
        self.programme_end = programme_end(self.rr, now)
        entries, default = ends.choices(now, self.programme_end)
        self.session.openWithCallback(self._answered, Question, layout="StreamRecorderEndQuestion",
                                      title=_("Record %s until when?") % self.title,
                                      list=entries, selection=default)

    def _answered(self, answer: Any) -> None:
        value = answer[1] if answer else None
        if value is None:
            self.cancelled()  # EXIT: nothing is recorded
        elif value == ends.OPEN:
            self.done(None)
        elif value == ends.EVENT:
            if ends.event_end_ahead(self.programme_end, self.clock()):
                self.done(self.programme_end)
            else:
                self.ask()  # it ended while the question was open: ask again with fresh ends
        elif value == ends.ENTER_MINUTES:
            self._type(_("Minutes to record:"), str(ends.DEFAULT_MINUTES), self._minutes_typed)
        elif value == ends.UNTIL_TIME:
            suggestion = ends.clock_digits(self.clock() + ends.DEFAULT_MINUTES * 60)
            self._type(_("Until (HHMM, e.g. 2145):"), suggestion, self._time_typed)
        else:
            self.done(ends.for_minutes(value[1], self.clock()))

    def _type(self, text: str, suggestion: str, typed: Callable[[Any], None]) -> None:
        """enigma2's number box: digits from the remote (the first replaces the suggestion),
        OK, or EXIT back to the list."""
        self.session.openWithCallback(typed, NumberBox, title=text, windowTitle=_("Stream Recorder"),
                                      text=suggestion, type=Input.NUMBER)

    def _minutes_typed(self, text: Optional[str]) -> None:
        if text is None:
            self.ask()  # back to the list of ends
            return
        try:
            self.done(ends.for_minutes(ends.parse_minutes(text), self.clock()))
        except ends.EndError as exc:
            self._refused(str(exc), ends.ENTER_MINUTES)

    def _time_typed(self, text: Optional[str]) -> None:
        if text is None:
            self.ask()
            return
        try:
            hour, minute = ends.parse_clock(text)
            self.done(ends.until_clock(hour, minute, self.clock()))
        except ends.EndError as exc:
            self._refused(str(exc), ends.UNTIL_TIME)

    def _refused(self, text: str, again: str) -> None:
        """Say why the number gives no end, then offer the same box again."""
        self.session.openWithCallback(lambda *_args: self._answered((text, again)), MessageBox,
                                      text, MessageBox.TYPE_ERROR)
