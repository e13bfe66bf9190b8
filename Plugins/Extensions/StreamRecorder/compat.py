"""Everything that differs between receiver images, in one place (nothing else branches on it).

- eTimer: OpenPLi/OpenATV use `timer.callback.append(f)`; DreamOS-style images only offer
  `conn = timer.timeout.connect(f)`, and the connection object must be kept alive.
- MoviePlayer.__init__: the optional parameters differ (OpenPLi has `infobar`, others do not).
- The GUI language and its change notification; the OSD width used to choose the skin.
"""

import inspect
from typing import Any, Callable, Dict

from enigma import eTimer, getDesktop


class Timer:
    """A screen-bound timer calling one function, on any image."""

    def __init__(self, func: Callable[[], Any], factory: Callable[[], Any] = eTimer) -> None:
        self._timer = factory()
        self._conn = None
        if hasattr(self._timer, "callback"):
            self._timer.callback.append(func)
        else:
            self._conn = self._timer.timeout.connect(func)

    def start(self, msec: int, single_shot: bool = True) -> None:
        self._timer.start(int(msec), single_shot)

    def stop(self) -> None:
        self._timer.stop()

    def is_active(self) -> bool:
        return bool(self._timer.isActive())


def movie_player_init(cls: Any, screen: Any, session: Any, service: Any, lastservice: Any) -> None:
    """Run MoviePlayer.__init__ with the keyword arguments this image's version accepts."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs: Dict[str, Any] = {}
    if "lastservice" in params:
        kwargs["lastservice"] = lastservice
    cls.__init__(screen, session, service, **kwargs)


def track_open(screen: Any) -> None:
    """Remember that screen is open; see is_open()."""
    screen._sr_open = True

    def closed() -> None:
        screen._sr_open = False
    screen.onClose.append(closed)


def is_open(screen: Any) -> bool:
    """False once the screen has closed. enigma2's Screen.doClose() clears the screen's
    attributes, so a late callback (a worker thread's result) must check this first."""
    return bool(getattr(screen, "_sr_open", False))


def desktop_width() -> int:
    """Width of the OSD in pixels (1280 for HD skins, 1920 for FHD)."""
    try:
        width = getDesktop(0).size().width()
    except Exception:  # noqa: BLE001 - no desktop (e.g. during early start): assume HD
        width = 0
    return int(width) or 1280


def gui_language() -> str:
    """Two-letter code of the GUI language, e.g. "de"."""
    try:
        from Components.Language import language
        return (language.getLanguage() or "en")[:2]
    except Exception:  # noqa: BLE001 - images without Components.Language
        return "en"


def on_language_change(func: Callable[[], None]) -> None:
    try:
        from Components.Language import language
        language.addCallback(func)
    except Exception:  # noqa: BLE001
        pass
