#!/usr/bin/env python3
"""Pictures of the plugin's screens without a receiver: one PNG per screen and OSD size.

    python scripts/render_screens.py [--out DIR] [--size 1280x720|1920x1080] [--screen NAME]
                                     [--lang de]

Runs with a Python 3.8-3.10 that has the project (src/) and Pillow. The screens are opened in
OpenPLi's real enigma2 Python tree (../shared/enigma2/openpli, loaded by tests/e2tree.py; the
only stand-in is the C++ `enigma` module, tests/e2/enigma.py), on a real Session with the
InfoBar, exactly as tests/test_plugin_layout.py opens them. What skin.py applied to each widget
(geometry, colours, fonts, alignment, list contents, slider values, the window title) is
painted with Pillow, in the fonts skin.py registered.

The tree keeps skin_default/skin.xml but none of its pictures, and skin.py gives up loading a
skin when a picture it names is missing: e2tree puts 1x1 placeholders into its temporary
/usr/share/enigma2 before skin.py loads the skin. Placeholders are drawn as outlined boxes.

tests/test_plugin_layout.py imports this file: RECIPES (how each screen is opened), `Layout`
(what skin.py applied) and the skin helpers are shared, so the pictures show what the tests
check.
"""

import argparse
import gettext
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "src", REPO / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import e2tree  # noqa: E402 - needs tests/ on sys.path

SIZES = ((1280, 720), (1920, 1080))
DOMAIN = "StreamRecorder"
SAMPLE_TITLE = "Evening news"
SAMPLE_STREAMS = [
    {"name": "Evening news", "url": "https://media.example.com/news/master.m3u8", "recorder": "auto"},
    {"name": "Nature documentary (2160p)", "url": "https://cdn.example.org/nature/index.m3u8",
     "recorder": "hls_basic"},
    {"name": "Concert", "url": "https://video.example.net/concert.mp4", "recorder": "mp4"},
]
LEFTOVER_DIR = "/media/hdd/streamrecorder"
LEFTOVER_STARTED = 1732647600  # 2024-11-26 19:00 UTC

# eWindowStyleSkinned colour ids (ewindowstyleskinned.h)
COL_BACKGROUND, COL_LABEL_FG, COL_LIST_BG, COL_LIST_FG, COL_LIST_SEL_BG, COL_LIST_SEL_FG = range(6)
COL_TITLE_FG, COL_TITLE_BG = 10, 11
COL_SLIDER_FG = 15
BS_WINDOW = 0
BP_TOP, BP_LEFT, BP_RIGHT, BP_BOTTOM = 2, 8, 16, 64
RT_HALIGN_LEFT, RT_HALIGN_RIGHT, RT_HALIGN_CENTER = 1, 2, 4
RT_VALIGN_CENTER, RT_VALIGN_BOTTOM, RT_WRAP = 16, 32, 64
SCROLLBAR_WIDTH, SCROLLBAR_GAP = 10, 5  # elistbox.cpp: m_scrollbar_width(10), content width - 10 - 5
CONFIG_PADDING = 15  # elistboxcontent.cpp: label at x + 15, value right-aligned at x - 15


# --- the tree and its default skin ---------------------------------------------------------------
def load_tree() -> Dict[str, Any]:
    return e2tree.load()


class SkinState:
    """skin.py's and the stand-in's global skin data and the desktop, to put back what a run
    at another OSD size changed (other test modules run on the tree as e2tree loaded it)."""

    def __init__(self) -> None:
        import enigma
        import skin
        names = ("domScreens", "colors", "fonts", "menus", "menuicons", "parameters", "screens", "setups",
                 "switchPixmap", "windowStyles")
        self._dicts = [getattr(skin, name) for name in names]
        self._dicts += [enigma.FONTS, enigma.eWindowStyleManager.getInstance().styles]
        self._saved = [dict(d) for d in self._dicts]
        self._desktop = enigma.getDesktop(0)
        self._desktop_size = self._desktop.size()

    def restore(self) -> None:
        import enigma
        for target, saved in zip(self._dicts, self._saved):
            target.clear()
            target.update(saved)
        enigma.DESKTOPS[0] = self._desktop
        self._desktop.resize(self._desktop_size)


def default_skin_loaded() -> bool:
    import enigma
    import skin
    return "ChoiceBox" in skin.domScreens and "Regular" in enigma.FONTS


def ensure_default_skin(state: Optional[SkinState] = None) -> bool:
    """skin_default must be loaded (e2tree loads it, its pictures standing in as 1x1): a
    layout without it would show nothing of enigma2's own screens."""
    if not default_skin_loaded():
        raise RuntimeError("skin_default/skin.xml did not load (see skin.py's output above)")
    return False


def is_placeholder(pixmap: Any) -> bool:
    path = getattr(pixmap, "path", "")
    try:
        return bool(path) and os.path.getsize(path) == len(e2tree.placeholder_png())
    except OSError:
        return True


# --- how each screen is opened -------------------------------------------------------------------
class Place:
    """What a recipe needs: the session, a recording folder, and a way to replace an attribute
    for the duration of the run (pytest's monkeypatch.setattr in the tests)."""

    def __init__(self, session: Any, rec_dir: Path, patch: Callable[[Any, str, Any], None]) -> None:
        self.session = session
        self.rec_dir = Path(rec_dir)
        self.patch = patch


def _defer() -> Any:
    from twisted.internet import defer
    return defer


def _sample_ts(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    packet = b"\x47\x1f\xff\x10" + b"\xff" * 184  # null packets
    path.write_bytes(packet * 64)


def _open_main(place: Place) -> Any:
    """The main screen with three saved streams, once its list is read."""
    defer = _defer()
    from Plugins.Extensions.StreamRecorder import streams
    from Plugins.Extensions.StreamRecorder.config import streams_file
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain

    @defer.inlineCallbacks
    def run() -> Iterator[Any]:
        path = Path(streams_file())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(streams.encode([dict(s) for s in SAMPLE_STREAMS]))
        main = place.session.open(StreamRecorderMain)
        yield main.loading
        yield main.leftover_check
        return [main]
    return run()


def _open_edit(place: Place) -> Any:
    from Plugins.Extensions.StreamRecorder.screens import StreamEditScreen
    return _defer().succeed([place.session.open(StreamEditScreen, dict(SAMPLE_STREAMS[0]))])


def _open_settings(place: Place) -> Any:
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    return _defer().succeed([place.session.open(StreamRecorderSettings)])


def _open_player(place: Place, running: bool = True) -> Any:
    """The player as the controller opens it for a recording's first section
    (Controller.open_player); `running=False`: the recording has ended meanwhile."""
    from Plugins.Extensions.StreamRecorder.controller import Job, get_controller
    path = place.rec_dir / "stream_0.ts"
    _sample_ts(path)
    job = Job({"resolved_url": SAMPLE_STREAMS[0]["url"], "title": SAMPLE_TITLE}, SAMPLE_TITLE, True)
    job.rec_dir = str(place.rec_dir)
    job.sections[0] = str(path)
    job.launched = True
    controller = get_controller()
    controller.session = place.session
    if not controller.open_player(job):
        raise RuntimeError("the controller could not open the player (its log says why)")
    if not running:
        job.stop = {"reason": "complete"}
    return controller.player


def _open_player_screen(place: Place) -> Any:
    return _defer().succeed([_open_player(place)])


def _question_on_top(place: Place, what: str) -> Any:
    from Screens.ChoiceBox import ChoiceBox
    dialog = place.session.current_dialog
    if not isinstance(dialog, ChoiceBox):
        raise RuntimeError("%s did not open: %r is on top" % (what, dialog))
    return dialog


def _open_player_exit(place: Place, running: bool = True) -> Any:
    """EXIT in the player: the question (a real ChoiceBox) the player's ask_leave opens."""
    player = _open_player(place, running)
    player.ask_leave()
    return _defer().succeed([player, _question_on_top(place, "the player's EXIT question")])


def _open_leftover(place: Place) -> Any:
    """The question about a left-over recording, asked when the main screen opens; the folder
    search (leftovers.find_configured, a worker thread) answers with a fixed find so the
    question's size does not depend on where the test's files are."""
    from Plugins.Extensions.StreamRecorder import leftovers
    found = leftovers.Leftover(LEFTOVER_DIR, 3, 1_825_361_920, LEFTOVER_STARTED, SAMPLE_TITLE, "")
    place.patch(leftovers, "find_configured", lambda: found)
    defer = _defer()

    @defer.inlineCallbacks
    def run() -> Iterator[Any]:
        screens = yield _open_main(place)
        return screens + [_question_on_top(place, "the left-over question (leftover_offer logs why)")]
    return run()


SAMPLE_BOUQUET = """#NAME IPTV Deutschland
#SERVICE 1:64:0:0:0:0:0:0:0:0::--- Nachrichten ---
#DESCRIPTION --- Nachrichten ---
#SERVICE 4097:0:1:0:0:0:0:0:0:0:https%3a//live.example.de/daserste/master.m3u8#User-Agent=Enigma2:Das Erste HD
#DESCRIPTION Das Erste HD
#SERVICE 4097:0:1:0:0:0:0:0:0:0:https%3a//live.example.de/zdf/master.m3u8:ZDF HD
#DESCRIPTION ZDF HD
#SERVICE 5002:0:1:0:0:0:0:0:0:0:https%3a//tv.example.com/arte/index.m3u8:arte
#DESCRIPTION arte
#SERVICE 1:0:1:0:0:0:0:0:0:0:http%3a//iptv.example.net%3a8080/live/3sat.ts:3sat
#DESCRIPTION 3sat
#SERVICE 1:0:19:283D:3FB:1:C00000:0:0:0:
#DESCRIPTION ZDF HD (Satellit)
"""
SAMPLE_M3U = """#EXTM3U
#EXTINF:-1 tvg-name="Euronews" group-title="News",Euronews English
https://news.example.org/euronews/playlist.m3u8
#EXTINF:-1 group-title="News",DW English
#EXTVLCOPT:http-user-agent=VLC/3.0
https://dw.example.com/live/en/master.m3u8
#EXTINF:-1 group-title="Music",Radio Bremen Eins
https://radio.example.de/eins.m3u8|User-Agent=Kodi
"""


def _write_sample_sources() -> None:
    """A user bouquet with stream channels, an m3u list on a USB stick, the saved streams."""
    from Plugins.Extensions.StreamRecorder import streams
    from Plugins.Extensions.StreamRecorder.config import streams_file
    from Tools.Directories import SCOPE_CONFIG, resolveFilename
    config_dir = Path(resolveFilename(SCOPE_CONFIG))
    (config_dir / "bouquets.tv").write_text(
        '#NAME User - bouquets (TV)\n'
        '#SERVICE 1:7:1:0:0:0:0:0:0:0:FROM BOUQUET "userbouquet.iptv.tv" ORDER BY bouquet\n')
    (config_dir / "userbouquet.iptv.tv").write_text(SAMPLE_BOUQUET)
    path = Path(streams_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(streams.encode([dict(s) for s in SAMPLE_STREAMS]))


def _open_sources(place: Place, group: Optional[int] = None, lists: bool = True) -> Any:
    """Channels and lists (TV on the main screen) once read; `group`: that group opened."""
    defer = _defer()
    from Plugins.Extensions.StreamRecorder import sources
    from Plugins.Extensions.StreamRecorder.source_screens import StreamSourcesScreen
    media = place.rec_dir.parent.parent  # <root>/media, beside <root>/media/hdd
    place.patch(sources, "MEDIA_DIR", str(media))
    if lists:
        _write_sample_sources()
        (media / "usb" / "iptv").mkdir(parents=True, exist_ok=True)
        (media / "usb" / "iptv" / "world.m3u").write_text(SAMPLE_M3U)

    @defer.inlineCallbacks
    def run() -> Iterator[Any]:
        screen = place.session.open(StreamSourcesScreen)
        yield screen.loading
        if group is not None:
            screen["list"].setIndex(group)
            screen.keyOK()
        return [screen]
    return run()


SAMPLE_TIMERS = [  # (days from the sample day, start, end, title, channel, repeated)
    (0, (20, 10), (21, 25), "Tagesschau und Wetter", "Das Erste HD", 0x7F),
    (1, (21, 40), (23, 15), "Terra X: Die Alpen", "ZDF HD", 1 << 1),
    (3, (14, 55), (16, 40), "Formel 1: Großer Preis von Monaco", "Evening news", 0),
]
SAMPLE_TIMER_DAY = (2030, 6, 10)  # a Monday, far enough ahead that every sample timer waits


def _sample_timer(days: int, start: Tuple[int, int], end: Tuple[int, int], title: str,
                  channel: str, repeated: int) -> Any:
    import time as time_module
    from Plugins.Extensions.StreamRecorder.timers import StreamTimerEntry
    year, month, day = SAMPLE_TIMER_DAY

    def at(clock: Tuple[int, int]) -> int:
        return int(time_module.mktime((year, month, day + days, clock[0], clock[1], 0, 0, 0, -1)))
    url = "4097:0:1:0:0:0:0:0:0:0:https%%3a//live.example.de/%d/master.m3u8:%s" % (days, channel)
    return StreamTimerEntry(at(start) - 300, at(end) + 600, channel, url, title, "", 5, 10,
                            repeated=repeated)


def _open_timers(place: Place, samples: bool = True) -> Any:
    """The timer list (TIMER on the main screen) with three timers, or none."""
    defer = _defer()
    from Plugins.Extensions.StreamRecorder import timers
    from Plugins.Extensions.StreamRecorder.timer_screens import StreamTimerList
    timers.reset_timer()
    path = Path(timers.timers_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [_sample_timer(*sample) for sample in SAMPLE_TIMERS] if samples else []
    path.write_bytes(timers.encode(entries))

    @defer.inlineCallbacks
    def run() -> Iterator[Any]:
        yield timers.get_timer(place.session).loading
        return [place.session.open(StreamTimerList)]
    return run()


def _open_timer_edit(place: Place) -> Any:
    """The timer editor on the first sample timer (its channel list is read meanwhile)."""
    defer = _defer()
    from Plugins.Extensions.StreamRecorder.timer_screens import StreamTimerEdit

    @defer.inlineCallbacks
    def run() -> Iterator[Any]:
        _write_sample_sources()
        screen = place.session.open(StreamTimerEdit, _sample_timer(*SAMPLE_TIMERS[0]))
        yield screen.channels_loading
        return [screen]
    return run()


END_NOW = 1732647600 + 2 * 3600 + 44 * 60  # 21:44 UTC: the sample clock of the end question


def _open_end_question(place: Place, programme: bool = False, typed: Optional[str] = None) -> Any:
    """The question how long a recording from the GUI runs (end_question.EndQuestion), at a
    fixed clock; `programme`: the channel's EPG event is known; `typed`: that entry's number box."""
    from Plugins.Extensions.StreamRecorder import end_question
    from Screens.InputBox import InputBox
    ends_at = END_NOW + 41 * 60 if programme else None
    place.patch(end_question, "programme_end", lambda rr, now: ends_at)
    asker = end_question.EndQuestion(place.session, SAMPLE_TITLE, {"resolved_url": SAMPLE_STREAMS[0]["url"]},
                                     lambda: END_NOW, lambda end: None, lambda: None)
    asker.ask()
    box = _question_on_top(place, "the end question")
    if typed is None:
        return _defer().succeed([box])
    asker._answered(("", typed))
    dialog = place.session.current_dialog
    if not isinstance(dialog, InputBox):
        raise RuntimeError("the number box did not open: %r is on top" % (dialog,))
    return _defer().succeed([box, dialog])


# name -> opener(place) -> Deferred([screens, bottom first]); the last one is the screen checked.
RECIPES: Dict[str, Callable[[Place], Any]] = {
    "main": _open_main,
    "edit": _open_edit,
    "settings": _open_settings,
    "player": _open_player_screen,
    "player_exit": _open_player_exit,
    "player_exit_ended": lambda place: _open_player_exit(place, running=False),
    "leftover": _open_leftover,
    "end_question": _open_end_question,
    "end_question_epg": lambda place: _open_end_question(place, programme=True),
    "end_minutes": lambda place: _open_end_question(place, typed="enter_minutes"),
    "end_time": lambda place: _open_end_question(place, typed="until_time"),
    "sources": _open_sources,
    "sources_channels": lambda place: _open_sources(place, group=0),
    "sources_empty": lambda place: _open_sources(place, lists=False),
    "timers": _open_timers,
    "timers_empty": lambda place: _open_timers(place, samples=False),
    "timer_edit": _open_timer_edit,
}


# --- what skin.py applied ----------------------------------------------------------------------------
class Item:
    """One widget of a screen, as applied: geometry relative to the window's client area."""

    def __init__(self, name: str, widget: Any) -> None:
        import enigma
        self.name = name
        self.widget = widget
        self.kind = _kind(widget)
        pos, size = widget.position(), widget.size()
        self.x, self.y, self.w, self.h = pos.x(), pos.y(), size.width(), size.height()
        self.visible = bool(widget.isVisible())
        self.z = int(getattr(widget, "z", 0))
        self.attrs = dict(widget.attrs)
        self.text = getattr(widget, "text", None) if isinstance(widget, enigma.eLabel) else None
        self.font = getattr(widget, "font", None)
        self.nowrap = bool(getattr(widget, "nowrap", 0))

    @property
    def rect(self) -> Tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.w, self.y + self.h

    def __repr__(self) -> str:
        return "%s %r at %d,%d size %dx%d" % (self.kind, self.name, self.x, self.y, self.w, self.h)


def _kind(widget: Any) -> str:
    import enigma
    for name, kind in (("eListbox", "list"), ("eSlider", "slider"), ("ePositionGauge", "gauge"),
                       ("ePixmap", "pixmap"), ("eLabel", "label"), ("eVideoWidget", "video")):
        cls = getattr(enigma, name, None)
        if cls is not None and isinstance(widget, cls):
            return kind
    return "widget"


class Window:
    """A screen as skin.py laid it out: its window (client area in desktop coordinates), its
    decoration and its widgets."""

    def __init__(self, screen: Any) -> None:
        import enigma
        self.screen = screen
        self.screen_class = type(screen).__name__
        window = screen.instance
        self.title = window.getTitle()
        pos, size = window.position(), window.size()
        self.x, self.y, self.w, self.h = pos.x(), pos.y(), size.width(), size.height()
        self.attrs = dict(window.attrs)
        self.visible = bool(window.isVisible())
        self.style = _window_style()
        no_border = getattr(enigma.eWindow, "wfNoBorder", None)
        flags = int(getattr(window, "flags", 0) or 0)
        self.borderless = no_border is not None and bool(flags & no_border)
        self.decoration = (0, 0, 0, 0) if self.borderless else _decoration(self.style)
        names = _names(screen)
        self.items = [Item(names.get(id(w)) or _anonymous(w), w) for w in window.child().children]

    @property
    def rect(self) -> Tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.w, self.y + self.h

    @property
    def outer_rect(self) -> Tuple[int, int, int, int]:
        left, top, right, bottom = self.decoration
        return self.x - left, self.y - top, self.x + self.w + right, self.y + self.h + bottom

    def item(self, name: str) -> Item:
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError("%s has no widget %r (has %s)" % (self.screen_class, name,
                                                         [i.name for i in self.items]))


def _anonymous(widget: Any) -> str:
    """A skin element without a name (<eLabel>, <ePixmap>): its type and position."""
    return "%s@%d,%d" % (type(widget).__name__, widget.position().x(), widget.position().y())


def _names(screen: Any) -> Dict[int, str]:
    """id(widget) -> the name the skin knows it by (component, source or additional widget)."""
    names: Dict[int, str] = {}
    for key, component in screen.items():
        instance = getattr(component, "instance", None)
        if instance is not None:
            names[id(instance)] = key
    for renderer in getattr(screen, "renderer", []):
        source = getattr(renderer, "source", None)
        key = next((k for k, v in screen.items() if v is source), None)
        while key is None and source is not None and hasattr(source, "source"):
            source = source.source  # a converter: name it after the source it reads
            key = next((k for k, v in screen.items() if v is source), None)
        if renderer.instance is not None:
            converter = type(getattr(renderer, "source", None)).__name__
            names[id(renderer.instance)] = key or "%s(%s)" % (type(renderer).__name__, converter)
    return names


def _window_style() -> Any:
    import enigma
    return enigma.eWindowStyleManager.getInstance().styles.get(0)


def style_color(style: Any, color_id: int, default: int) -> Any:
    import enigma
    for args in (style.attrs.get("colors", []) if style is not None else []):
        if len(args) == 2 and args[0] == color_id:
            return args[1]
    return enigma.gRGB(default)


def _decoration(style: Any) -> Tuple[int, int, int, int]:
    """Window border (left, top, right, bottom) as eWindowStyleSkinned::handleNewSize adds it:
    the bsWindow border pictures' sizes; the top at least holds the title (title offset plus
    a line of the title font), which the border picture is drawn to hold."""
    import enigma
    if style is None:
        return 0, 0, 0, 0
    sizes = {}
    for args in style.attrs.get("pixmaps", []):
        if len(args) == 3 and args[0] == BS_WINDOW and args[2] is not None:
            size = args[2].size()
            sizes[args[1]] = (size.width(), size.height())
    left = sizes.get(BP_LEFT, (0, 0))[0]
    right = sizes.get(BP_RIGHT, (0, 0))[0]
    top = sizes.get(BP_TOP, (0, 0))[1]
    bottom = sizes.get(BP_BOTTOM, (0, 0))[1]
    font, offset = style.attrs.get("titleFont"), style.attrs.get("titleOffset")
    if font is not None and offset is not None:
        top = max(top, offset.height() + enigma.line_height(font))
    return left, top, right, bottom


class Layout:
    """The screens on the desktop, bottom first; `top` is the screen a recipe opened last."""

    def __init__(self, name: str, screens: Sequence[Any]) -> None:
        import enigma
        size = enigma.getDesktop(0).size()
        self.name = name
        self.desktop = (size.width(), size.height())
        self.windows = [Window(s) for s in screens]

    @property
    def top(self) -> Window:
        return self.windows[-1]


def open_layout(name: str, place: Place) -> Any:
    """Deferred: the Layout of recipe `name` (the screens stay open)."""
    d = _defer().maybeDeferred(RECIPES[name], place)
    d.addCallback(lambda screens: Layout(name, screens))
    return d.addErrback(_recover, place.session)


def _recover(failure: Any, session: Any) -> Any:
    """Session.open pushes the current dialog before it makes the new one: when making it
    raised, the pushed dialog is still current; pop it, so that it is closed only once."""
    if session.dialog_stack and session.dialog_stack[-1][0] is session.current_dialog and not session.in_exec:
        session.dialog_stack.pop()
        session.execBegin(first=False, do_show=False)
    return failure


# --- painting -----------------------------------------------------------------------------------------
RGBA = Tuple[int, int, int, int]
Box = Tuple[int, int, int, int]


def rgba(color: Any, default: RGBA = (255, 255, 255, 255)) -> RGBA:
    """enigma's gRGB (alpha 0 = opaque, 255 = invisible) as Pillow RGBA."""
    if color is None:
        return default
    if isinstance(color, int):
        a, r, g, b = (color >> 24) & 255, (color >> 16) & 255, (color >> 8) & 255, color & 255
    else:
        a, r, g, b = color.a, color.r, color.g, color.b
    return r, g, b, 255 - a


def _pil_font(font: Any) -> Any:
    import enigma
    return enigma.pil_font(font if font is not None else enigma.gFont("Regular", 20))


def _text_lines(font: Any, text: str, width: int, wrap: bool) -> List[str]:
    import enigma
    return enigma.wrap_lines(font, text, max(1, width)) if wrap else text.split("\n")


def draw_text(image: Any, box: Box, text: str, font: Any, color: Any,
              halign: str = "left", valign: str = "top", wrap: bool = True) -> None:
    """Text in a box like eLabel/renderText: wrapped at spaces (unless nowrap), aligned, clipped."""
    import enigma
    from PIL import Image, ImageDraw
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0 or not text:
        return
    font = font if font is not None else enigma.gFont("Regular", 20)
    layer = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    pil = _pil_font(font)
    height = enigma.line_height(font)
    lines = _text_lines(font, text, x1 - x0, wrap)
    total = height * len(lines)
    top = {"top": 0, "center": (y1 - y0 - total) // 2, "bottom": y1 - y0 - total}[valign]
    for index, line in enumerate(lines):
        width = enigma.text_width(font, line)
        left = {"left": 0, "center": (x1 - x0 - width) // 2, "right": x1 - x0 - width}[halign]
        draw.text((left, top + index * height), line, font=pil, fill=rgba(color))
    _composite(image, layer, x0, y0)


def _fill(image: Any, box: Box, color: RGBA) -> None:
    from PIL import Image
    x0, y0, x1, y1 = box
    if x1 > x0 and y1 > y0 and color[3]:
        _composite(image, Image.new("RGBA", (x1 - x0, y1 - y0), color), x0, y0)


def _outline(image: Any, box: Box, color: RGBA, width: int = 1) -> None:
    from PIL import ImageDraw
    x0, y0, x1, y1 = box
    if x1 > x0 and y1 > y0:
        ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, y1 - 1), outline=color, width=width)


LABEL_HALIGN = {0: "left", 1: "center", 2: "right", 3: "left", 4: "left"}  # eLabel align values
LABEL_VALIGN = {0: "top", 1: "center", 2: "bottom"}


def render(layout: Layout) -> Any:
    """The desktop with the layout's windows, as a Pillow RGBA image."""
    from PIL import Image
    image = Image.new("RGBA", layout.desktop, (16, 20, 26, 255))
    _video_hint(image)
    for window in layout.windows:
        _paint_window(image, window)
    return image


def _video_hint(image: Any) -> None:
    """A dim diagonal pattern where the TV picture would be."""
    from PIL import ImageDraw
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for x in range(-height, width, 48):
        draw.line((x, height, x + height, 0), fill=(24, 30, 38, 255), width=12)


def _composite(image: Any, layer: Any, x: int, y: int) -> None:
    """layer onto image at (x, y), clipped to the image (as a window clips its children)."""
    left, top = max(0, -x), max(0, -y)
    right, bottom = min(layer.width, image.width - x), min(layer.height, image.height - y)
    if right > left and bottom > top:
        image.alpha_composite(layer.crop((left, top, right, bottom)), (x + left, y + top))


def _paint_window(image: Any, window: Window) -> None:
    from PIL import Image
    if not window.visible:
        return  # e.g. the player's infobar: a screen opened on top hides it (Session.execEnd)
    style = window.style
    x0, y0, x1, y1 = window.outer_rect
    if not window.borderless:
        _fill(image, (x0, y0, x1, y1), rgba(style_color(style, COL_TITLE_BG, 0x25062748)))
        _outline(image, (x0, y0, x1, y1), (120, 140, 170, 255))
        font, offset = style.attrs.get("titleFont"), style.attrs.get("titleOffset")
        if font is not None and offset is not None:
            draw_text(image, (x0 + offset.width(), y0 + offset.height(), x1, window.y), window.title,
                      font, style_color(style, COL_TITLE_FG, 0xFFFFFF), wrap=False)
    background = window.attrs.get("backgroundColor", style_color(style, COL_BACKGROUND, 0x25062748))
    if window.w <= 0 or window.h <= 0:
        return
    layer = Image.new("RGBA", (window.w, window.h), rgba(background))
    ordered = sorted(enumerate(window.items), key=lambda pair: (pair[1].z, pair[0]))
    for _index, item in ordered:
        if not item.visible or item.w <= 0 or item.h <= 0:
            continue
        painter = {"label": _paint_label, "list": _paint_list, "slider": _paint_slider,
                   "gauge": _paint_gauge, "pixmap": _paint_pixmap}.get(item.kind, _paint_other)
        painter(layer, item.rect, item, style)
    _composite(image, layer, window.x, window.y)


def _paint_label(image: Any, box: Box, item: Item, style: Any) -> None:
    attrs = item.attrs
    if "backgroundColor" in attrs and not attrs.get("transparent"):
        _fill(image, box, rgba(attrs["backgroundColor"]))
    color = attrs.get("foregroundColor", style_color(style, COL_LABEL_FG, 0xFFFFFF))
    halign = LABEL_HALIGN.get(attrs.get("halign", 0), "left")
    valign = LABEL_VALIGN.get(attrs.get("valign", 0), "top")
    draw_text(image, box, item.text or "", item.font, color, halign, valign, wrap=not item.nowrap)


def _paint_slider(image: Any, box: Box, item: Item, style: Any) -> None:
    widget = item.widget
    attrs = item.attrs
    border = int(attrs.get("borderWidth", 0))
    fg = rgba(attrs.get("foregroundColor", style_color(style, COL_SLIDER_FG, 0xFFFFFF)))
    start, end = getattr(widget, "range", (0, 100))
    value = getattr(widget, "value", 0)
    x0, y0, x1, y1 = box
    if "backgroundColor" in attrs:
        _fill(image, box, rgba(attrs["backgroundColor"]))
    if border:
        _outline(image, box, rgba(attrs.get("borderColor"), fg), border)
    inner = (x0 + border, y0 + border, x1 - border, y1 - border)
    span = max(1, end - start)
    share = min(1.0, max(0.0, (value - start) / span))
    _fill(image, (inner[0], inner[1], inner[0] + int((inner[2] - inner[0]) * share), inner[3]), fg)


def _paint_gauge(image: Any, box: Box, item: Item, style: Any) -> None:
    """ePositionGauge: the played part of the recording's length."""
    widget = item.widget
    length, position = getattr(widget, "gauge_length", 0), getattr(widget, "gauge_position", 0)
    fg = rgba(item.attrs.get("foregroundColor", style_color(style, COL_SLIDER_FG, 0xFFFFFF)))
    x0, y0, x1, y1 = box
    _outline(image, box, fg)
    if length > 0:
        played = (x1 - x0 - 2) * min(position, length) // length
        _fill(image, (x0 + 1, y0 + 1, x0 + 1 + played, y1 - 1), fg)


def _paint_pixmap(image: Any, box: Box, item: Item, style: Any) -> None:
    """The picture when there is one; a placeholder (the tree keeps no skin pictures) is an
    outlined box with the file's name."""
    import enigma
    from PIL import Image
    pixmap = item.attrs.get("pixmap")
    path = getattr(pixmap, "path", "") or ""
    x0, y0, x1, y1 = box
    if path and not is_placeholder(pixmap):
        with Image.open(path) as picture:
            picture = picture.convert("RGBA")
            if item.attrs.get("scale"):
                picture = picture.resize((x1 - x0, y1 - y0))
            _composite(image, picture.crop((0, 0, min(picture.width, x1 - x0), min(picture.height, y1 - y0))),
                       x0, y0)
        return
    _fill(image, box, (90, 100, 120, 70))
    _outline(image, box, (150, 160, 180, 160))
    if path and x1 - x0 > 60 and y1 - y0 > 14:
        draw_text(image, (x0 + 2, y0 + 1, x1 - 2, y1), os.path.basename(path), enigma.gFont("Regular", 12),
                  enigma.gRGB(0x40C0C8D8), wrap=False)


def _paint_other(image: Any, box: Box, item: Item, style: Any) -> None:
    _outline(image, box, (200, 120, 120, 200))


# --- list boxes --------------------------------------------------------------------------------------
def list_geometry(item: Item) -> Tuple[int, int, int, bool]:
    """(item height, item width, rows, scrollbar shown) of a list box as elistbox.cpp lays it
    out: with a scroll bar the items are 10 + 5 pixels narrower."""
    widget = item.widget
    content = widget.content
    height = int(content.attrs.get("itemHeight", 0) if content is not None else 0)
    height = height or int(widget.item_height)
    rows = len(content.list) if content is not None else 0
    mode = item.attrs.get("scrollbarMode", widget.showNever)
    per_page = max(1, item.h // max(1, height))
    shown = mode == widget.showAlways or (mode in (widget.showOnDemand, widget.showLeft) and rows > per_page)
    width = item.w - (SCROLLBAR_WIDTH + SCROLLBAR_GAP if shown else 0)
    return height, width, rows, shown


def content_fonts(content: Any) -> Dict[int, Any]:
    return {args[0]: args[1] for args in content.attrs.get("fonts", []) if len(args) == 2}


def multicontent_texts(content: Any) -> Iterator[Tuple[int, Tuple[Any, ...], str]]:
    """(row, TYPE_TEXT tuple, text) of a MultiContent list (template or per-entry tuples)."""
    template = content.attrs.get("template")
    for row, entry in enumerate(content.list):
        parts = template if template is not None else list(entry[1:])
        for part in parts:
            if not isinstance(part, tuple) or not part or part[0] != 0 or len(part) < 8:
                continue
            text = part[7]
            if isinstance(text, int) and template is not None:
                text = entry[text] if text < len(entry) else ""
            if text is None:
                continue
            yield row, part, str(text)


def config_value_text(element: Any, selected: bool = False) -> Optional[str]:
    try:
        multi = element.getMulti(selected)
    except Exception:  # noqa: BLE001 - an element without a value part
        return None
    if isinstance(multi, tuple) and len(multi) > 1 and multi[0] in ("text", "mtext"):
        return str(multi[1])
    if isinstance(multi, tuple) and multi and multi[0] == "pixmap":
        return element.getText()  # a switch picture on the receiver (yes/no)
    return None


def second_font(font: Any) -> Any:
    """The config list's value font: elistboxcontent.cpp uses pointSize - pointSize / 5."""
    import enigma
    return enigma.gFont(font.family, font.pointSize - font.pointSize // 5)


def _paint_list(image: Any, box: Box, item: Item, style: Any) -> None:
    import enigma
    widget = item.widget
    content = widget.content
    if content is None:
        return
    x0, y0, x1, y1 = box
    height, width, rows, scrollbar = list_geometry(item)
    per_page = max(1, item.h // max(1, height))
    cursor = content.cursor
    first = (cursor // per_page) * per_page
    fg = item.attrs.get("foregroundColor", style_color(style, COL_LIST_FG, 0xFFFFFF))
    sel_bg = item.attrs.get("backgroundColorSelected", style_color(style, COL_LIST_SEL_BG, 0x254F7497))
    sel_fg = item.attrs.get("foregroundColorSelected", style_color(style, COL_LIST_SEL_FG, 0xFFFFFF))
    font = item.attrs.get("font") or enigma.gFont("Regular", 20)
    fonts = content_fonts(content)
    for row in range(first, min(rows, first + per_page)):
        top = y0 + (row - first) * height
        cell = (x0, top, x0 + width, min(y1, top + height))
        selected = row == cursor and widget.selection_enabled
        if selected:
            _fill(image, cell, rgba(sel_bg))
        color = sel_fg if selected else fg
        entry = content.list[row]
        if isinstance(content, enigma.eListboxPythonConfigContent):
            label = str(entry[0]) if isinstance(entry, tuple) else str(entry)
            draw_text(image, (cell[0] + CONFIG_PADDING, cell[1], cell[2], cell[3]), label, font, color,
                      valign="center", wrap=False)
            has_value = isinstance(entry, tuple) and len(entry) > 1
            value = config_value_text(entry[1], selected) if has_value else None
            if value:
                draw_text(image, (cell[0], cell[1], cell[2] - CONFIG_PADDING, cell[3]), value,
                          second_font(font), color, halign="right", valign="center", wrap=False)
        elif isinstance(content, enigma.eListboxPythonMultiContent):
            continue  # painted below, per text part
        else:
            text = entry[0] if isinstance(entry, tuple) else entry
            text = "" if text is None else str(text)
            draw_text(image, cell, text, font, color, valign="center", wrap=False)
    if isinstance(content, enigma.eListboxPythonMultiContent):
        for row, part, text in multicontent_texts(content):
            if not first <= row < first + per_page:
                continue
            top = y0 + (row - first) * height
            px, py, pw, ph, font_index, flags = part[1:7]
            part_box = (x0 + px, top + py, min(x0 + width, x0 + px + pw),
                        min(y1, top + py + ph, top + height))
            selected = row == cursor and widget.selection_enabled
            own = part[9 if selected else 8] if len(part) > 9 else None  # color / color_sel
            color = own if own is not None else (sel_fg if selected else fg)
            halign = "right" if flags & RT_HALIGN_RIGHT else "center" if flags & RT_HALIGN_CENTER else "left"
            valign = "center" if flags & RT_VALIGN_CENTER else "bottom" if flags & RT_VALIGN_BOTTOM else "top"
            draw_text(image, part_box, text, fonts.get(font_index, font), color, halign, valign,
                      wrap=bool(flags & RT_WRAP))
    if scrollbar:
        bar = (x1 - SCROLLBAR_WIDTH, y0, x1, y1)
        _outline(image, bar, rgba(fg))
        span = max(1, rows)
        thumb_top = y0 + (y1 - y0) * first // span
        thumb_bottom = y0 + (y1 - y0) * min(rows, first + per_page) // span
        _fill(image, (bar[0] + 2, thumb_top + 2, bar[2] - 2, max(thumb_top + 4, thumb_bottom - 2)), rgba(fg))


# --- the command ------------------------------------------------------------------------------------
class _ScriptPlace(Place):
    """A receiver's folders in a temporary root, as tests/plugin_harness.py's `receiver` sets
    them up; patches are undone by undo()."""

    def __init__(self, session: Any, root: Path) -> None:
        self._undo: List[Tuple[Any, str, Any]] = []
        super().__init__(session, root / "media" / "hdd" / "streamrecorder", self._patch)

    def _patch(self, target: Any, name: str, value: Any) -> None:
        self._undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._undo:
            target, name, value = self._undo.pop()
            setattr(target, name, value)


def compile_catalogue(lang: str, out_dir: Path) -> None:
    """Compile the plugin's .po for lang with GNU msgfmt into out_dir/<lang>/LC_MESSAGES."""
    locale = REPO / "Plugins" / "Extensions" / "StreamRecorder" / "locale"
    po = locale / lang / "LC_MESSAGES" / (DOMAIN + ".po")
    if not po.is_file():
        raise SystemExit("no translation %s" % po)
    target = out_dir / lang / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["msgfmt", "-o", str(target / (DOMAIN + ".mo")), str(po)], check=True)


_BINDINGS: Dict[str, Any] = {}


def _reset_tree() -> None:
    """Forget the previous screen's GUI (as tests/plugin_harness.py does between tests)."""
    import enigma
    import NavigationInstance
    import Screens.InfoBar
    import Screens.Standby
    import Tools.Notifications
    actions = enigma.eActionMap.getInstance()
    if not _BINDINGS:
        _BINDINGS.update(bindings=list(actions.bindings), unbound=list(actions.unbound_handlers))
    actions.bindings[:] = _BINDINGS["bindings"]
    actions.unbound_handlers[:] = _BINDINGS["unbound"]
    NavigationInstance.instance = None
    Screens.InfoBar.InfoBar.instance = None
    Screens.InfoBar.MoviePlayer.movie_instance = None
    Screens.Standby.inStandby = None
    del Tools.Notifications.notifications[:]
    del Tools.Notifications.notificationAdded[:]


def _receiver(root: Path, width: int, height: int) -> Tuple[Any, _ScriptPlace]:
    """A fresh Navigation, Session and InfoBar, the plugin's settings at their defaults."""
    import enigma
    from Components.config import config
    from Screens.ChannelSelection import ChannelSelection
    from Screens.InfoBar import InfoBar
    from Tools import Directories
    from Plugins.Extensions.StreamRecorder import controller, storage
    from Plugins.Extensions.StreamRecorder.config import settings
    enigma.set_desktop_size(width, height)
    config_dir, hdd = root / "etc" / "enigma2", root / "media" / "hdd"
    for folder in (config_dir, hdd / "movie"):
        folder.mkdir(parents=True, exist_ok=True)
    mounts = root / "mounts"
    mounts.write_text("/dev/root / ext4 rw 0 0\n/dev/sda1 %s ext4 rw 0 0\n" % hdd)
    session_place = _ScriptPlace(None, root)
    patch = session_place.patch
    patch(Directories, "defaultPaths", dict(Directories.defaultPaths))
    Directories.defaultPaths[Directories.SCOPE_CONFIG] = (str(config_dir) + "/", Directories.PATH_CREATE)
    patch(storage, "MOUNTS_FILE", str(mounts))
    patch(storage, "MEDIA_ROOTS", (str(hdd),))
    patch(storage, "RAM_PATHS", ())
    for element in settings.content.items.values():
        element.value = element.default
    config.usage.default_path.value = str(hdd / "movie") + "/"
    controller.reset_controller()
    _reset_tree()
    session = e2tree.new_session()
    session.open(InfoBar)
    if isinstance(session.current_dialog, ChannelSelection):
        session.current_dialog.close()  # as EXIT would: the InfoBar opens it when nothing plays
        session.delay_timer.stop()
        session.processDelay()
    session_place.session = session
    return session, session_place


def _run(args: argparse.Namespace) -> int:
    from twisted.internet import defer, reactor
    from Plugins.Extensions.StreamRecorder import controller
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    written: List[Path] = []
    failures: List[str] = []

    @defer.inlineCallbacks
    def work() -> Iterator[Any]:
        for width, height in args.sizes:
            for name in args.screens:
                root = Path(tempfile.mkdtemp(prefix="render-"))
                session, place = _receiver(root, width, height)
                try:
                    layout = yield open_layout(name, place)
                    path = out / ("%s_%dx%d.png" % (name, width, height))
                    render(layout).convert("RGB").save(path)
                    written.append(path)
                except Exception as exc:  # noqa: BLE001 - report and go on with the next screen
                    failures.append("%s at %dx%d: %s: %s" % (name, width, height, type(exc).__name__, exc))
                finally:
                    e2tree.close_screens(session)
                    ctrl = controller.reset_controller()
                    if ctrl is not None:
                        yield ctrl.close()
                    place.undo()

    def done(result: Any) -> None:
        if isinstance(result, Exception) or hasattr(result, "getTraceback"):
            failures.append(result.getTraceback() if hasattr(result, "getTraceback") else str(result))
        reactor.stop()

    reactor.callWhenRunning(lambda: work().addBoth(done))
    reactor.run(installSignalHandlers=False)
    for path in written:
        print(path)
    for failure in failures:
        print("FAILED: %s" % failure, file=sys.stderr)
    return 1 if failures or not written else 0


def _size(text: str) -> Tuple[int, int]:
    width, _x, height = text.partition("x")
    size = (int(width), int(height))
    if size not in SIZES:
        raise argparse.ArgumentTypeError("size must be one of %s" % ", ".join("%dx%d" % s for s in SIZES))
    return size


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "build" / "screens"), help="folder for the PNGs")
    parser.add_argument("--size", type=_size, action="append", dest="sizes",
                        help="OSD size, 1280x720 or 1920x1080 (default: both)")
    parser.add_argument("--screen", action="append", dest="screens", choices=sorted(RECIPES),
                        help="only this screen (repeatable; default: all)")
    parser.add_argument("--lang", default="en", help="GUI language, e.g. de (compiled with msgfmt)")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or list(SIZES)
    args.screens = args.screens or list(RECIPES)
    load_tree()
    import Plugins.Extensions.StreamRecorder  # noqa: F401 - its import binds the domain to its own folder
    state = SkinState()
    ensure_default_skin(state)
    catalogues = Path(tempfile.mkdtemp(prefix="render-mo-"))
    if args.lang != "en":
        compile_catalogue(args.lang, catalogues)
    gettext.bindtextdomain(DOMAIN, str(catalogues))
    os.environ["LANGUAGE"] = args.lang
    try:
        return _run(args)
    finally:
        state.restore()


if __name__ == "__main__":
    sys.exit(main())
