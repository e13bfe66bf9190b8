"""Layout of the plugin's screens at 1280x720 and 1920x1080, as skin.py applied it.

Every screen is opened on the `receiver` (OpenPLi's real tree; the C++ `enigma` module is the
only stand-in) the way scripts/render_screens.py opens it for its pictures (RECIPES there):
the main screen, the stream editor, the settings, the player, the player's EXIT question (while
recording and after the recording ended) and the left-over question. The questions are real
ChoiceBoxes laid out by the tree's skin_default with the plugin's texts. The checks, for
the screen on top:

- skin.py applied the whole skin (no converter, renderer, attribute or flag it could not apply);
- every visible widget lies inside the window's client area;
- the window with its decoration (border and title bar) lies inside the desktop;
- no two visible widgets overlap (pictures are left out: skins draw them under text on purpose);
- every static text fits its widget in the font skin.py gave it, in English and every shipped
  language: label and StaticText sources (renderer geometry), the colour buttons, the window
  title, config list labels with the texts of their choices, choice list entries, the
  settings' descriptions.
  A line fits when its width (Pillow, enigma.text_width) fits the widget; wrapped text also
  when lines x line height fit its height; nowrap text is not wrapped. Dynamic texts (titles,
  URLs, status lines, paths) are left out: the widget cuts them. A question with both is
  measured with the recipes' sample values.

Failures name screen, resolution, language, widget and sizes. Known defects are xfail(strict)
with LayoutDefect, so any other failure (e.g. a stand-in gap) still fails.
"""

import contextlib
import gettext
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from itertools import combinations
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest
import pytest_twisted
from twisted.internet import defer

from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver
from plugin_harness import PLUGIN_DIR, REPO, load_tree


def _load_render_screens() -> Any:
    path = REPO / "scripts" / "render_screens.py"
    spec = importlib.util.spec_from_file_location("render_screens", str(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_screens"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


rs = _load_render_screens()

DOMAIN = rs.DOMAIN
SIZES = [(1280, 720), (1920, 1080)]
SCREENS = list(rs.RECIPES)
SHIPPED = sorted(p.parent.parent.name for p in (PLUGIN_DIR / "locale").glob("*/LC_MESSAGES/%s.po" % DOMAIN))
LANGUAGES = ["en"] + SHIPPED
# Widgets whose text comes from data, not from the code: the widget cuts it.
DYNAMIC = {
    "main": {"status"},  # status lines (title, sizes, speed)
    "settings": {"description"},  # checked entry by entry in _settings_texts
    "player": "*",  # service name, position, length: all from the recording
    "sources_channels": {"heading"},  # the bouquet's or list's name
    "sources_empty": {"status"},  # names the settings folder
    "timer_edit": {"config"},  # the sample timer's title and channel
}
QUESTION = "text"  # a ChoiceBox's question: static sentences with the recipes' sample values


class LayoutDefect(AssertionError):
    """A layout check failed (the only failure the xfail markers below accept)."""


# --- known defects (xfail strict): (check, screen, size or None, language or None) -> reason ----
KNOWN: Dict[Tuple[str, str, Optional[Tuple[int, int]], Optional[str]], str] = {}


def _known(check: str, screens: Tuple[str, ...], reason: str, sizes: Any = (None,),
           langs: Any = (None,)) -> None:
    for screen in screens:
        for size in sizes:
            for lang in langs:
                KNOWN[(check, screen, size, lang)] = reason


HD, FHD = (1280, 720), (1920, 1080)
_known("overlap", ("player",), "skin_default's MoviePlayer (the tree's skin; the plugin ships no "
       "StreamRecorderPlayer screen): the service name label (230,73 360x40) runs 10 px into the length "
       "label (580,73 90x24) and the elapsed time label (205,129 100x20) 5 px into the position gauge "
       "(300,133 270x10)")


def _xfail(check: str, screen: str, size: Tuple[int, int], lang: Optional[str] = None) -> List[Any]:
    for key in ((check, screen, size, lang), (check, screen, None, lang), (check, screen, size, None),
                (check, screen, None, None)):
        if key in KNOWN:
            return [pytest.mark.xfail(strict=True, raises=LayoutDefect, reason=KNOWN[key])]
    return []


def _params(check: str) -> List[Any]:
    """(screen, size, language) for the `layout` fixture, with the known defects' markers."""
    return [pytest.param((screen, size, lang), id="%s-%dx%d-%s" % (screen, size[0], size[1], lang),
                         marks=_xfail(check, screen, size, lang))
            for screen in SCREENS for size in SIZES for lang in LANGUAGES]


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def catalogues(tmp_path_factory):
    """The shipped .po files compiled with GNU msgfmt (a missing msgfmt fails, never skips)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("GNU msgfmt is missing (apt-get install gettext): the layout tests measure the "
                    "shipped translations", pytrace=False)
    root = tmp_path_factory.mktemp("locale")
    for lang in SHIPPED:
        po = PLUGIN_DIR / "locale" / lang / "LC_MESSAGES" / (DOMAIN + ".po")
        target = root / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        mo = target / (DOMAIN + ".mo")
        subprocess.run([msgfmt, "--check", "-o", str(mo), str(po)], check=True, timeout=60)
    return root


@pytest.fixture(scope="module")
def layout_tree(catalogues):
    """The tree with skin_default loaded through skin.py and the plugin's domain bound to the
    compiled catalogues; both put back afterwards for the other test modules."""
    load_tree()
    import Plugins.Extensions.StreamRecorder  # noqa: F401 - its import binds the domain to its own folder
    state = rs.SkinState()
    rs.ensure_default_skin(state)
    bound = gettext.bindtextdomain(DOMAIN)
    language = os.environ.get("LANGUAGE")
    yield catalogues
    gettext.bindtextdomain(DOMAIN, bound)
    if language is None:
        os.environ.pop("LANGUAGE", None)
    else:
        os.environ["LANGUAGE"] = language
    state.restore()
    _MEASURED.clear()


# --- measuring -----------------------------------------------------------------------------------------
class Box(NamedTuple):
    widget: str
    kind: str
    rect: Tuple[int, int, int, int]  # x0, y0, x1, y1 in the window's client area


class Text(NamedTuple):
    widget: str  # what the user would call it, e.g. "key_red" or "config entry 'On exit'"
    text: str  # "" for a list field that shows data: one line of its font must fit
    font: Any
    width: int  # room for the text
    height: int
    wrap: bool
    value: Optional[str] = None  # a config entry's value, right of the label on the same line
    value_font: Any = None


class Measured(NamedTuple):
    screen: str  # recipe name
    size: Tuple[int, int]
    lang: str
    desktop: Tuple[int, int]
    window: str  # screen class of the top window
    client: Tuple[int, int, int, int]  # client area in desktop coordinates
    outer: Tuple[int, int, int, int]  # with border and title bar
    boxes: List[Box]
    texts: List[Text]
    not_applied: List[str]  # skin.py output: what it could not apply


_MEASURED: Dict[Tuple[str, Tuple[int, int], str], Any] = {}  # Measured, or what opening raised
_NOT_APPLIED = re.compile(r"\[Skin\] (Error in screen .*(Converter|Renderer) '[^']+' not found"
                          r"|Attribute .* is not implemented|Attribute .* with wrong \(or unknown\) value"
                          r"|Error: Invalid flag)")


class _Tee(io.TextIOBase):
    def __init__(self, target: Any) -> None:
        self.target, self.lines = target, []  # type: Any, List[str]

    def write(self, text: str) -> int:
        self.lines.extend(text.splitlines())
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


@pytest.fixture
def layout(request) -> Measured:
    """The top screen of a recipe at a size in a language (request.param), measured once per
    module: the first test that needs it opens it on its own `receiver`."""
    key = request.param
    if key not in _MEASURED:
        try:
            _MEASURED[key] = _measure(request, *key)
        except Exception as exc:
            _MEASURED[key] = exc
            raise
    result = _MEASURED[key]
    if isinstance(result, Exception):
        raise RuntimeError("opening %s at %dx%d in %s failed in an earlier test: %s: %s" % (
            key[0], key[1][0], key[1][1], key[2], type(result).__name__, result)) from result
    return result


def _applied(m: Measured) -> None:
    assert not m.not_applied, "%s at %dx%d (%s): skin.py could not apply all of the skin (on a receiver " \
        "it does: the stand-in tests/e2/enigma.py lacks what these need):\n  %s" % (
            m.screen, m.size[0], m.size[1], m.lang, "\n  ".join(m.not_applied))


def _measure(request: Any, screen: str, size: Tuple[int, int], lang: str) -> Measured:
    catalogues = request.getfixturevalue("layout_tree")  # loads the tree: `enigma` is importable
    import enigma
    rx = request.getfixturevalue("receiver")
    monkeypatch = request.getfixturevalue("monkeypatch")
    # as enigma2 selects the GUI language (the plugin's locale_init may have run again since)
    gettext.bindtextdomain(DOMAIN, str(catalogues))
    monkeypatch.setenv("LANGUAGE", lang)
    enigma.set_desktop_size(*size)
    rx.session.desktop = enigma.getDesktop(0)  # the session's dialogs go on the new desktop
    place = rs.Place(rx.session, rx.rec_dir, monkeypatch.setattr)
    # a screen opens from one that executes: wait for the start-up's closes (Session.close is
    # finished one reactor turn later, by its delay timer)
    pytest_twisted.blockon(defer.ensureDeferred(rx.until(lambda: rx.session.in_exec, 10)))
    assert rx.session.in_exec, "the InfoBar never became the executing screen: %r" % rx.stack()
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        layout = pytest_twisted.blockon(rs.open_layout(screen, place))
    top = layout.top
    boxes = [Box(item.name, item.kind, item.rect) for item in top.items
             if item.visible and item.w > 0 and item.h > 0]
    texts = _texts(screen, top, rx)
    not_applied = sorted({line.strip() for line in tee.lines if _NOT_APPLIED.search(line)})
    return Measured(screen, size, lang, layout.desktop, top.screen_class, top.rect, top.outer_rect, boxes,
                    texts, not_applied)


def _texts(screen: str, window: Any, rx: Any) -> List[Text]:
    dynamic = DYNAMIC.get(screen, set())
    texts: List[Text] = []
    for item in window.items:
        if not item.visible or dynamic == "*" or item.name in dynamic:
            continue
        if item.kind == "label" and item.text:
            name = item.name
            if window.screen_class == "ChoiceBox" and name == QUESTION:
                name = "%s (the question, with the recipe's sample values)" % name
            texts.append(Text(name, item.text, item.font, item.w, item.h, not item.nowrap))
        elif item.kind == "list":
            texts.extend(_list_texts(item))
    font, offset = (window.style.attrs.get(k) for k in ("titleFont", "titleOffset"))
    if window.title and not window.borderless and font is not None and offset is not None:
        x0, y0, x1, _y1 = window.outer_rect
        texts.append(Text("window title", window.title, font, x1 - x0 - offset.width(),
                          window.y - y0 - offset.height(), False))
    if screen == "settings":
        texts.extend(_settings_texts(window, rx))
    unique: Dict[Tuple[str, str, Optional[str]], Text] = {}
    for text in texts:
        unique.setdefault((text.widget, text.text, text.value), text)
    return list(unique.values())


def _choices(element: Any) -> List[str]:
    """The values a config element can show that come from the code, translated as enigma2
    shows them (the plugin's choices are translated at import, i.e. in the boot language)."""
    from Components.config import ConfigBoolean, ConfigSelection
    from Plugins.Extensions.StreamRecorder import _
    if isinstance(element, ConfigBoolean):
        return [str(v) for v in element.descriptions.values()]
    if isinstance(element, ConfigSelection):
        raw = element.choices.choices
        pairs = raw.items() if isinstance(raw, dict) else raw
        return [_(str(p[1] if isinstance(p, tuple) else p)) for p in pairs]
    return []  # text, folder, number: the user's data


def _list_texts(item: Any) -> List[Text]:
    import enigma
    content = item.widget.content
    if content is None:
        return []
    height, width, _rows, _scrollbar = rs.list_geometry(item)
    default = enigma.gFont("Regular", 20)
    texts = []
    if isinstance(content, enigma.eListboxPythonConfigContent):
        font = item.attrs.get("font") or default
        room = width - 2 * rs.CONFIG_PADDING  # label at x + 15, value right-aligned 15 from the end
        for entry in content.list:
            label = str(entry[0])
            texts.append(Text("config entry %r" % label, label, font, room, height, False))
            for choice in _choices(entry[1]):
                texts.append(Text("config entry %r with the value %r" % (label, choice), label, font, room,
                                  height, False, choice, rs.second_font(font)))
    elif isinstance(content, enigma.eListboxPythonMultiContent) and content.attrs.get("template") is None:
        fonts = rs.content_fonts(content)
        for row, part, text in rs.multicontent_texts(content):
            x, y, w, h, font_index, flags = part[1:7]
            texts.append(Text("%s entry %d" % (item.name, row + 1), text, fonts.get(font_index, default),
                              min(w, width - x), min(h, height - y), bool(flags & rs.RT_WRAP)))
    elif isinstance(content, enigma.eListboxPythonMultiContent):
        # a template list shows data (names, URLs): each field must hold a line of its font
        fonts = rs.content_fonts(content)
        for part in content.attrs["template"]:
            if isinstance(part, tuple) and part and part[0] == 0:
                x, y, w, h, font_index = part[1:6]
                texts.append(Text("%s field at %d,%d" % (item.name, x, y), "", fonts.get(font_index, default),
                                  min(w, width - x), min(h, height - y), False))
    return texts


def _settings_texts(window: Any, rx: Any) -> List[Text]:
    """Every entry (the control socket's too: switched on with the remote, then TCP and unix)
    with its description in the description label, and the no-storage notice there."""
    from Plugins.Extensions.StreamRecorder import texts as plugin_texts
    from Plugins.Extensions.StreamRecorder.config import settings
    screen = window.screen
    config = screen["config"]
    description = window.item("description")
    list_item = window.item("config")
    texts: List[Text] = []
    shown: Dict[str, str] = {}

    def walk() -> None:
        for index in range(len(config.list)):
            config.instance.moveSelectionTo(index)
            shown[str(config.list[index][0])] = screen["description"].getText()
        texts.extend(_list_texts(list_item))

    def right_on(element: Any) -> None:
        config.instance.moveSelectionTo([entry[1] for entry in config.list].index(element))
        rx.press("KEY_RIGHT")

    walk()
    right_on(settings.control_enabled)  # on: the socket's type, port and token appear
    walk()
    right_on(settings.control_kind)  # unix: the socket file instead of the port
    walk()
    notices = [("description of %r" % label, text) for label, text in shown.items() if text]
    notices.append(("description (no storage found)", plugin_texts.storage_text("none")))
    for name, text in notices:
        texts.append(Text(name, text, description.font, description.w, description.h, not description.nowrap))
    return texts


# --- the checks -------------------------------------------------------------------------------------
def _where(m: Measured) -> str:
    return "%s (%s) at %dx%d in %s" % (m.screen, m.window, m.size[0], m.size[1], m.lang)


def _fail(problems: List[str], where: str) -> None:
    if problems:
        raise LayoutDefect("%s:\n  %s" % (where, "\n  ".join(problems)))


@pytest.mark.parametrize("layout", _params("inside"), indirect=True)
def test_widgets_inside_screen(layout):
    m = layout
    _applied(m)
    x0, y0, x1, y1 = m.client
    width, height = x1 - x0, y1 - y0
    problems = ["widget %r (%s) at %d,%d size %dx%d reaches %d,%d, outside the client area %dx%d"
                % (b.widget, b.kind, b.rect[0], b.rect[1], b.rect[2] - b.rect[0], b.rect[3] - b.rect[1],
                   b.rect[2], b.rect[3], width, height)
                for b in m.boxes if b.rect[0] < 0 or b.rect[1] < 0 or b.rect[2] > width or b.rect[3] > height]
    _fail(problems, _where(m))


@pytest.mark.parametrize("layout", _params("desktop"), indirect=True)
def test_screen_inside_desktop(layout):
    m = layout
    _applied(m)
    x0, y0, x1, y1 = m.outer
    dw, dh = m.desktop
    problems = []
    if (dw, dh) != m.size:
        problems.append("the desktop is %dx%d, not %dx%d" % (dw, dh, m.size[0], m.size[1]))
    if x0 < 0 or y0 < 0 or x1 > dw or y1 > dh:
        problems.append("the window with its border and title bar spans %d,%d to %d,%d (client area %d,%d "
                        "size %dx%d), outside the desktop %dx%d" % (
                            x0, y0, x1, y1, m.client[0], m.client[1], m.client[2] - m.client[0],
                            m.client[3] - m.client[1], dw, dh))
    _fail(problems, _where(m))


@pytest.mark.parametrize("layout", _params("overlap"), indirect=True)
def test_no_overlapping_widgets(layout):
    m = layout
    _applied(m)
    problems = []
    for a, b in combinations([box for box in m.boxes if box.kind != "pixmap"], 2):
        w = min(a.rect[2], b.rect[2]) - max(a.rect[0], b.rect[0])
        h = min(a.rect[3], b.rect[3]) - max(a.rect[1], b.rect[1])
        if w > 0 and h > 0:
            problems.append("%r (%s, %s) and %r (%s, %s) overlap by %dx%d" % (
                a.widget, a.kind, _rect(a.rect), b.widget, b.kind, _rect(b.rect), w, h))
    _fail(problems, _where(m))


def _rect(rect: Tuple[int, int, int, int]) -> str:
    return "%d,%d size %dx%d" % (rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1])


@pytest.mark.parametrize("layout", _params("texts"), indirect=True)
def test_static_texts_fit(layout):
    import enigma
    m = layout
    _applied(m)
    problems = []
    for t in m.texts:
        problem = _misfit(t, enigma)
        if problem:
            problems.append("%s: %s" % (t.widget, problem))
    _fail(problems, _where(m))


def _misfit(t: Text, enigma: Any) -> Optional[str]:
    """Why text t does not fit its room, or None."""
    font = "%s %d" % (t.font.family, t.font.pointSize)
    line = enigma.line_height(t.font)
    if t.value is not None:
        width = enigma.text_width(t.font, t.text) + enigma.text_width(t.value_font, t.value)
        height = max(line, enigma.line_height(t.value_font))
        if width > t.width or height > t.height:
            return "label %r (%s) and value %r (%s %d) need %dx%d side by side, the entry has %dx%d" % (
                t.text, font, t.value, t.value_font.family, t.value_font.pointSize, width, height,
                t.width, t.height)
        return None
    if not t.text:
        return None if line <= t.height else "a line of %s is %d high, the field is %dx%d" % (
            font, line, t.width, t.height)
    lines = enigma.wrap_lines(t.font, t.text, max(1, t.width)) if t.wrap else t.text.split("\n")
    widest = max(enigma.text_width(t.font, text) for text in lines)
    height = line * len(lines)
    if widest > t.width or height > t.height:
        how = "wrapped to %d line(s)" % len(lines) if t.wrap else "%d line(s), no wrap" % len(lines)
        return "%r in %s, %s, needs %dx%d, the widget is %dx%d" % (
            t.text, font, how, widest, height, t.width, t.height)
    return None
