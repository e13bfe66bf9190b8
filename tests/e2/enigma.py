"""Stand-in for enigma2's C++ `enigma` module, written from the C++ sources kept beside the tree
(../shared/enigma2/openpli/lib: iservice.h, servicedvb.cpp, filepush.cpp, ebase.h, gui/*.h,
grc.h, enigma_python.i). It is the only stand-in of the plugin tests: everything else is the
real OpenPLi Python tree.

What behaves as on a receiver (the parts the plugin's flow depends on):
- eServiceReference: the string format of service.cpp (hex data fields, url-encoded path and
  name), equality on type, data and path only, an invalid reference equals nothing.
- pNavigation plays a file as servicedvb (type 1) or servicemp3 (4097) do: evStart, the cue
  sheet loaded from `<file>.cuts` (evCuesheetChanged), evSeekableStatusChanged; playback moves
  at PLAY_SPEED media seconds per second; at the end of a type-1 file the push thread sends
  evEOF, waits a second and reads again, at most 10 times (filepush.cpp), then stops reading;
  servicemp3 sends evEOF once. stop() of a type-1 file writes `<file>.cuts` with the last play
  position (servicedvb.cpp eDVBServicePlay::stop / saveCuesheet).
- eTimer runs on the Twisted reactor (as eBaseImpl.eTimer does once StartEnigma installs it).
- eActionMap binds keymap.xml keys and python actions and dispatches a key press by priority,
  stopping at the first action that returns 1 (actionmap.cpp).
- Widgets keep the geometry and every attribute skin.py applies to them; eLabel measures its
  text with the font file skin.py registered (Pillow), as the C++ font renderer does.
"""

import bisect
import os
import struct
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote, unquote

from twisted.internet import reactor

# --- paths (eEnv) ------------------------------------------------------------------------------
ENV: Dict[str, str] = {"datadir": "/usr/share", "libdir": "/usr/lib", "sysconfdir": "/etc",
                       "bindir": "/usr/bin", "localstatedir": "/var", "prefix": "/usr"}


class eEnv:
    @staticmethod
    def resolve(path: str) -> str:
        for key, value in ENV.items():
            path = path.replace("${%s}" % key, value)
        return path


# --- constants (grc.h, iservice.h) ---------------------------------------------------------------
RT_HALIGN_BIDI, RT_HALIGN_LEFT, RT_HALIGN_RIGHT, RT_HALIGN_CENTER, RT_HALIGN_BLOCK = 0, 1, 2, 4, 8
RT_VALIGN_TOP, RT_VALIGN_CENTER, RT_VALIGN_BOTTOM = 0, 16, 32
RT_WRAP, RT_ELLIPSIS, RT_BLEND = 64, 128, 256
BT_ALPHATEST, BT_ALPHABLEND, BT_SCALE, BT_KEEP_ASPECT_RATIO, BT_FIXRATIO = 1, 2, 4, 8, 8
BT_HALIGN_CENTER, BT_HALIGN_RIGHT, BT_VALIGN_CENTER, BT_VALIGN_BOTTOM = 16, 32, 64, 128
BT_ALIGN_CENTER = BT_HALIGN_CENTER | BT_VALIGN_CENTER  # elistboxcontent.h

PTS_PER_S = 90000
PLAY_SPEED = 1.0  # media seconds played per wall second (tests raise it)
EOF_RETRY_S = 1.0  # filepush.cpp: sleep(1) between reads at the end of a file
EOF_RETRIES = 10  # filepush.cpp: ++eofcount < 10
MP4_BYTES_PER_S = 250000  # servicemp3 has no .ap: a growing mp4 plays at this byte rate
TICK_S = 0.05


class Signal:
    """A SWIG PSignal: `signal.get()` is the list of callables."""

    def __init__(self) -> None:
        self._list: List[Callable[..., Any]] = []

    def get(self) -> List[Callable[..., Any]]:
        return self._list

    def __call__(self, *args: Any) -> None:
        for func in list(self._list):
            func(*args)


# --- geometry -----------------------------------------------------------------------------------
class ePoint:
    def __init__(self, x: int = 0, y: int = 0) -> None:
        self._x, self._y = int(x), int(y)

    def x(self) -> int:
        return self._x

    def y(self) -> int:
        return self._y

    def __add__(self, other: "ePoint") -> "ePoint":
        return ePoint(self._x + other.x(), self._y + other.y())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ePoint) and (self._x, self._y) == (other.x(), other.y())

    def __repr__(self) -> str:
        return "ePoint(%d, %d)" % (self._x, self._y)


class eSize:
    def __init__(self, width: int = 0, height: int = 0) -> None:
        self._w, self._h = int(width), int(height)

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def isEmpty(self) -> bool:
        return self._w <= 0 or self._h <= 0

    def isValid(self) -> bool:
        return self._w >= 0 and self._h >= 0

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, eSize) and (self._w, self._h) == (other.width(), other.height())

    def __repr__(self) -> str:
        return "eSize(%d, %d)" % (self._w, self._h)


class eRect:
    def __init__(self, *args: Any) -> None:
        if len(args) == 4:
            self._x, self._y, self._w, self._h = (int(a) for a in args)
        elif len(args) == 2:
            self._x, self._y = args[0].x(), args[0].y()
            self._w, self._h = args[1].width(), args[1].height()
        else:
            self._x = self._y = self._w = self._h = 0

    def x(self) -> int:
        return self._x

    def y(self) -> int:
        return self._y

    def left(self) -> int:
        return self._x

    def top(self) -> int:
        return self._y

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def size(self) -> eSize:
        return eSize(self._w, self._h)

    def topLeft(self) -> ePoint:
        return ePoint(self._x, self._y)

    def isEmpty(self) -> bool:
        return self._w <= 0 or self._h <= 0


class gRGB:
    def __init__(self, *args: Any) -> None:
        if len(args) == 1 and isinstance(args[0], (int, str)):
            value = args[0] if isinstance(args[0], int) else int(args[0].lstrip("#"), 16)
            self.a, self.r, self.g, self.b = ((value >> shift) & 255 for shift in (24, 16, 8, 0))
        elif len(args) >= 3:
            self.r, self.g, self.b = (int(a) for a in args[:3])
            self.a = int(args[3]) if len(args) > 3 else 0
        else:
            self.a = self.r = self.g = self.b = 0

    def argb(self) -> int:
        return (self.a << 24) | (self.r << 16) | (self.g << 8) | self.b

    def __repr__(self) -> str:
        return "gRGB(#%08x)" % self.argb()


# --- fonts ----------------------------------------------------------------------------------------
FONTS: Dict[str, Tuple[str, int]] = {}  # face name -> (file, scale percent)


def addFont(filename: str, name: str, scale: int = 100, isReplacement: int = 0, renderflags: int = 0) -> None:
    FONTS[name] = (filename, int(scale or 100))


def getFontFaces() -> List[str]:
    return list(FONTS)


class gFont:
    def __init__(self, family: str = "Regular", pointSize: int = 20) -> None:
        self.family = family
        self.pointSize = int(pointSize)


def pil_font(font: gFont) -> Any:
    """The Pillow font for an enigma2 font: the registered file at size * scale / 100."""
    from PIL import ImageFont
    if font.family not in FONTS:
        raise KeyError("font %r was never registered with addFont" % font.family)
    filename, scale = FONTS[font.family]
    return ImageFont.truetype(filename, max(1, font.pointSize * scale // 100))


def line_height(font: gFont) -> int:
    ascent, descent = pil_font(font).getmetrics()
    return ascent + descent


def text_width(font: gFont, text: str) -> int:
    return int(round(pil_font(font).getlength(text)))


def wrap_lines(font: gFont, text: str, width: int) -> List[str]:
    """Lines as the renderer breaks them at spaces within width (a too long word stays whole)."""
    lines: List[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = word if not current else current + " " + word
            if current and text_width(font, candidate) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return lines


class fontRenderClass:
    _instance: Optional["fontRenderClass"] = None

    @classmethod
    def getInstance(cls) -> "fontRenderClass":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def getLineHeight(self, font: gFont) -> int:
        return line_height(font)


# --- widgets (gui/ewidget.h, elabel.h, ...) --------------------------------------------------------
class eWidget:
    """Geometry, visibility and the attributes applied to it (kept in `attrs` for layout tests)."""

    def __init__(self, parent: Optional["eWidget"] = None) -> None:
        self.parent = parent
        self.children: List[eWidget] = []
        if parent is not None:
            parent.child().children.append(self)
        self._pos = ePoint()
        self._size = eSize()
        self._visible = True
        self.attrs: Dict[str, Any] = {}
        self.z = 0

    def child(self) -> "eWidget":
        return self

    def move(self, pos: ePoint) -> None:
        self._pos = pos

    def resize(self, size: eSize) -> None:
        self._size = size

    def position(self) -> ePoint:
        return self._pos

    def size(self) -> eSize:
        return self._size

    def csize(self) -> eSize:
        return self._size

    def show(self) -> None:
        self._visible = True

    def hide(self) -> None:
        self._visible = False

    def isVisible(self) -> int:
        return int(self._visible and (self.parent is None or bool(self.parent.isVisible())))

    def getAbsolutePosition(self) -> ePoint:
        if self.parent is None:
            return self._pos
        return self.parent.getAbsolutePosition() + self._pos

    def raise_(self) -> None:
        pass

    def lower(self) -> None:
        pass

    def destruct(self) -> None:
        if self.parent is not None and self in self.parent.child().children:
            self.parent.child().children.remove(self)

    def setZPosition(self, z: int) -> None:
        self.z = int(z)

    def setTransparent(self, transparent: int) -> None:
        self.attrs["transparent"] = int(transparent)

    def setBackgroundColor(self, color: gRGB) -> None:
        self.attrs["backgroundColor"] = color

    def clearBackgroundColor(self) -> None:
        self.attrs.pop("backgroundColor", None)

    def setBorderWidth(self, pixel: int) -> None:
        self.attrs["borderWidth"] = int(pixel)

    def setBorderColor(self, color: gRGB) -> None:
        self.attrs["borderColor"] = color

    def setWidgetBorderWidth(self, pixel: int) -> None:
        self.setBorderWidth(pixel)

    def setWidgetBorderColor(self, color: gRGB) -> None:
        self.setBorderColor(color)

    def setCornerRadius(self, radius: int, edges: int) -> None:
        self.attrs["cornerRadius"] = (radius, edges)

    def setFocus(self, focus: Any) -> None:
        self.attrs["focus"] = focus

    def setPositionNotifyChild(self, n: int) -> None:
        pass

    def setStyle(self, style: Any) -> None:
        self.attrs["style"] = style

    def invalidate(self, *args: Any) -> None:
        pass

    def setAnimationMode(self, mode: int) -> None:
        self.attrs["animationMode"] = mode


class eWindow(eWidget):
    wfNoBorder = 1  # ewindow.h: no title bar and border (skin flags="wfNoBorder")

    def __init__(self, desktop: Any, z: int = 0) -> None:
        super().__init__(None)
        self.desktop = desktop
        self.z = z
        self.flags = 0
        self._child = eWidget(None)
        self._child.parent = self
        self.title = ""
        if desktop is not None:
            desktop.windows.append(self)

    def child(self) -> eWidget:
        return self._child

    def resize(self, size: eSize) -> None:
        super().resize(size)
        self._child.resize(size)

    def setTitle(self, title: str) -> None:
        self.title = title

    def setFlag(self, flag: int) -> None:
        self.flags |= int(flag)

    def clearFlag(self, flag: int) -> None:
        self.flags &= ~int(flag)

    def getTitle(self) -> str:
        return self.title

    def destruct(self) -> None:
        if self.desktop is not None and self in self.desktop.windows:
            self.desktop.windows.remove(self)


class eLabel(eWidget):
    alignLeft, alignTop, alignCenter, alignRight, alignBottom, alignBlock, alignBidi = 0, 0, 1, 2, 2, 3, 4

    def __init__(self, parent: Optional[eWidget] = None, markedPos: int = -1) -> None:
        super().__init__(parent)
        self.text = ""
        self.font = gFont("Regular", 20)  # eLabel's default font (elabel.cpp)
        self.attrs["valign"] = self.alignTop
        self.attrs["halign"] = self.alignBidi
        self.nowrap = 0

    def setText(self, text: str) -> None:
        self.text = text or ""

    def getText(self) -> str:
        return self.text

    def setMarkedPos(self, pos: int) -> None:
        self.attrs["markedPos"] = pos

    def setFont(self, font: gFont) -> None:
        self.font = font

    def getFont(self) -> gFont:
        return self.font

    def setVAlign(self, align: int) -> None:
        self.attrs["valign"] = align

    def setHAlign(self, align: int) -> None:
        self.attrs["halign"] = align

    def setForegroundColor(self, color: gRGB) -> None:
        self.attrs["foregroundColor"] = color

    def clearForegroundColor(self) -> None:
        self.attrs.pop("foregroundColor", None)

    def setShadowColor(self, color: gRGB) -> None:
        self.attrs["shadowColor"] = color

    def setShadowOffset(self, offset: ePoint) -> None:
        self.attrs["shadowOffset"] = offset

    def setNoWrap(self, nowrap: int) -> None:
        self.nowrap = int(nowrap)

    def getNoWrap(self) -> int:
        return self.nowrap

    def setAlphatest(self, alphatest: int) -> None:
        self.attrs["alphatest"] = alphatest

    def calculateSize(self) -> eSize:
        return eLabel.calculateTextSize(self.font, self.text, self.size(), bool(self.nowrap))

    @staticmethod
    def calculateTextSize(font: gFont, text: str, target: eSize, nowrap: bool = False) -> eSize:
        if not text:
            return eSize(0, 0)
        lines = text.split("\n") if nowrap else wrap_lines(font, text, max(1, target.width()))
        width = max(text_width(font, line) for line in lines)
        return eSize(width, line_height(font) * len(lines))


class ePixmap(eWidget):
    def setPixmap(self, pixmap: Any) -> None:
        self.attrs["pixmap"] = pixmap

    def setPixmapFromFile(self, path: str) -> None:
        self.attrs["pixmap"] = path

    def setAlphatest(self, alphatest: int) -> None:
        self.attrs["alphatest"] = alphatest

    def setScale(self, scale: int) -> None:
        self.attrs["scale"] = scale


class eButton(eLabel):
    def __init__(self, parent: Optional[eWidget] = None) -> None:
        super().__init__(parent)
        self.selected = Signal()

    def push(self) -> None:
        self.selected()


class eSlider(eWidget):
    orHorizontal, orVertical = 0, 1

    def __init__(self, parent: Optional[eWidget] = None) -> None:
        super().__init__(parent)
        self.value = 0
        self.range = (0, 100)

    def setValue(self, value: int) -> None:
        self.value = int(value)

    def setRange(self, start: int, end: int) -> None:
        self.range = (int(start), int(end))

    def setStartEnd(self, start: int, end: int) -> None:
        self.setValue(end)

    def setOrientation(self, orientation: int, swapped: int = 0) -> None:
        self.attrs["orientation"] = orientation

    def setPixmap(self, pixmap: Any) -> None:
        self.attrs["pixmap"] = pixmap

    def setBackgroundPixmap(self, pixmap: Any) -> None:
        self.attrs["backgroundPixmap"] = pixmap

    def setForegroundColor(self, color: gRGB) -> None:
        self.attrs["foregroundColor"] = color


class ePositionGauge(eWidget):
    """epositiongauge.h: the play position within the length (pts), with the cut list."""

    def __init__(self, parent: Optional[eWidget] = None) -> None:
        super().__init__(parent)
        self.gauge_length = 0
        self.gauge_position = 0
        self.seek_position = 0
        self.cutlist: List[Any] = []

    def setLength(self, length: int) -> None:
        self.gauge_length = int(length)

    def setPosition(self, position: int) -> None:
        self.gauge_position = int(position)

    def setSeekPosition(self, position: int) -> None:
        self.seek_position = int(position)

    def enableSeekPointer(self, enable: int) -> None:
        self.attrs["seekPointer"] = bool(enable)

    def setInColor(self, color: gRGB) -> None:
        self.attrs["inColor"] = color

    def setForegroundColor(self, color: gRGB) -> None:
        self.attrs["foregroundColor"] = color

    def setPointer(self, which: int, pixmap: Any, center: ePoint) -> None:
        self.attrs["pointer%d" % which] = (pixmap, center)

    def setInOutList(self, cutlist: Any) -> None:
        self.cutlist = list(cutlist or [])


class eVideoWidget(eWidget):
    def setDecoder(self, decoder: int) -> None:
        self.attrs["decoder"] = decoder

    def setFBSize(self, size: eSize) -> None:
        self.attrs["fbsize"] = size

    def setFullScreenPosition(self, rect: eRect) -> None:
        self.attrs["fullScreen"] = rect

    def setOverScan(self, overscan: int) -> None:
        self.attrs["overscan"] = overscan


class eSubtitleWidget(eWidget):
    Subtitle_TTX, Subtitle_Regular, Subtitle_Bold, Subtitle_Italic, Subtitle_MAX = range(5)  # esubtitle.h
    styles: Dict[int, Tuple[Any, ...]] = {}

    @staticmethod
    def setFontStyle(face: int, font: gFont, have_color: int, color: gRGB, border_color: gRGB,
                     border_width: int) -> None:
        eSubtitleWidget.styles[face] = (font, have_color, color, border_color, border_width)


class eCanvas(ePixmap):
    pass


# --- list boxes (elistbox.h, elistboxcontent.h) ----------------------------------------------------
class eListboxPythonStringContent:
    def __init__(self) -> None:
        self.list: List[Any] = []
        self.cursor = 0
        self.listbox: Optional[eListbox] = None
        self.attrs: Dict[str, Any] = {}

    def setList(self, items: List[Any]) -> None:
        # elistboxcontent.cpp setList: anything but a Python list (PyList_Check) is no list;
        # Components/FileList.py passes the builtin `list` type itself to MenuList.
        self.list = list(items) if isinstance(items, list) else []
        self.cursor = min(self.cursor, max(0, len(self.list) - 1))

    def getCurrentSelection(self) -> Any:
        if 0 <= self.cursor < len(self.list):
            return self.list[self.cursor]
        return None

    def getCurrentSelectionIndex(self) -> int:
        return self.cursor

    def invalidateEntry(self, index: int) -> None:
        pass

    def invalidate(self) -> None:
        pass

    def setItemHeight(self, height: int) -> None:
        self.attrs["itemHeight"] = int(height)

    def setFont(self, *args: Any) -> None:
        self.attrs.setdefault("fonts", []).append(args)

    def setItemWidth(self, width: int) -> None:
        self.attrs["itemWidth"] = int(width)

    def setOrientation(self, orientation: int) -> None:
        self.attrs["orientation"] = orientation

    def setSeparatorLineColor(self, color: gRGB) -> None:
        self.attrs["sepLineColor"] = color

    def getItemSize(self) -> eSize:
        """The item size: the list box's width and the item height (elistbox.cpp gives the
        content its width less 10 + 5 pixels while a scroll bar is shown)."""
        listbox = self.listbox
        height = int(self.attrs.get("itemHeight", listbox.item_height if listbox is not None else 25))
        return eSize(listbox.size().width() if listbox is not None else 0, height)

    def setSepLineThickness(self, value: int) -> None:
        self.attrs["sepLineThickness"] = value

    def setTextOffset(self, offset: ePoint) -> None:
        self.attrs["textOffset"] = offset

    def size(self) -> int:
        return len(self.list)


class eListboxPythonConfigContent(eListboxPythonStringContent):
    def setSeperation(self, sep: int) -> None:
        self.attrs["seperation"] = sep

    def setSlider(self, height: int, space: int) -> None:
        self.attrs["slider"] = (height, space)

    def setValueFont(self, font: gFont) -> None:
        self.attrs["valueFont"] = font

    def setDescriptionFont(self, font: gFont) -> None:
        self.attrs["descriptionFont"] = font


class eListboxPythonMultiContent(eListboxPythonStringContent):
    (TYPE_TEXT, TYPE_PROGRESS, TYPE_PIXMAP, TYPE_PIXMAP_ALPHATEST, TYPE_PIXMAP_ALPHABLEND,
     TYPE_PROGRESS_PIXMAP) = range(6)

    def setBuildFunc(self, func: Any) -> None:
        self.attrs["buildFunc"] = func

    def setSelectableFunc(self, func: Any) -> None:
        self.attrs["selectableFunc"] = func

    def setTemplate(self, template: Any) -> None:
        self.attrs["template"] = template

    def setSelectionClip(self, rect: eRect, update: bool = False) -> None:
        self.attrs["selectionClip"] = rect

    def updateEntry(self, index: int, entry: Any) -> None:
        if 0 <= index < len(self.list):
            self.list[index] = entry

    def entryRemoved(self, index: int) -> None:
        pass


class eListboxServiceContent(eListboxPythonStringContent):
    """The channel list's content (listboxservice.h): the services of a root, read through
    eServiceCenter.list(root), with a cursor."""

    (visModeSimple, visModeComplex, visSkinDefined) = range(3)
    (celServiceNumber, celMarkerPixmap, celFolderPixmap, celServiceEventProgressbar, celServiceName,
     celServiceInfo, celServiceInfoRemainingTime, celServiceNextInfo, celServiceTypePixmap) = range(9)
    (picDVB_S, picDVB_T, picDVB_C, picStream, picServiceGroup, picFolder, picMarker,
     picServiceEventProgressbar, picCrypto, picRecord, picBackup, picCatchup, picHD, picSD,
     picDVB, pic) = range(16)
    (markedForeground, markedForegroundSelected, markedBackground, markedBackgroundSelected,
     serviceNotAvail, eventForeground, eventForegroundSelected, eventborderForeground,
     eventborderForegroundSelected, eventForegroundFallback, eventForegroundSelectedFallback,
     serviceItemFallback, serviceSelectedFallback, serviceEventProgressbarColor,
     serviceEventProgressbarColorSelected, serviceEventProgressbarBorderColor,
     serviceEventProgressbarBorderColorSelected, serviceRecorded, eventNextForeground,
     eventNextForegroundSelected, eventNextForegroundFallback, eventNextForegroundSelectedFallback,
     eventRemainingForeground, eventRemainingForegroundSelected, eventRemainingForegroundFallback,
     eventRemainingForegroundSelectedFallback) = range(26)

    def __init__(self) -> None:
        super().__init__()
        self.root: Optional[eServiceReference] = None
        self.marked: List[eServiceReference] = []

    def setRoot(self, root: "eServiceReference", justSet: bool = False) -> None:
        self.root = root
        listing = eServiceCenter.getInstance().list(root)
        self.list = listing.getContent("R") if listing is not None else []
        self.cursor = 0

    def getList(self) -> List["eServiceReference"]:
        return list(self.list)

    def getCurrent(self, ref: "eServiceReference") -> int:
        """Fills ref in place, as the C++ `getCurrent(eServiceReference &)` does."""
        current = self.getCurrentSelection()
        _assign(ref, current if current is not None else eServiceReference())
        return 0 if current is not None else -1

    def setCurrent(self, ref: "eServiceReference", adjust: Any = True) -> int:
        for index, item in enumerate(self.list):
            if item == ref:
                self.cursor = index
                return 0
        return -1

    def getNext(self, ref: "eServiceReference") -> int:
        nxt = self.list[self.cursor + 1] if self.cursor + 1 < len(self.list) else eServiceReference()
        _assign(ref, nxt)
        return 0

    def getPrev(self, ref: "eServiceReference") -> int:
        prev = self.list[self.cursor - 1] if self.cursor > 0 else eServiceReference()
        _assign(ref, prev)
        return 0

    def addService(self, ref: "eServiceReference", beforeCurrent: bool = False) -> None:
        self.list.insert(self.cursor if beforeCurrent else len(self.list), ref)

    def removeCurrent(self) -> None:
        if 0 <= self.cursor < len(self.list):
            del self.list[self.cursor]

    def initMarked(self) -> None:
        self.marked = []

    def addMarked(self, ref: "eServiceReference") -> None:
        self.marked.append(ref)

    def removeMarked(self, ref: "eServiceReference") -> None:
        self.marked = [m for m in self.marked if m != ref]

    def isMarked(self, ref: "eServiceReference") -> bool:
        return any(m == ref for m in self.marked)

    def setCurrentMarked(self, marked: bool) -> None:
        self.attrs["currentMarked"] = marked

    def getNextBeginningWithChar(self, char: str) -> int:
        return 0

    def getNextMarkerPos(self) -> int:
        return self.cursor

    def getPrevMarkerPos(self) -> int:
        return self.cursor

    def sort(self) -> None:
        pass

    def FillFinished(self) -> None:
        pass


def _assign(target: "eServiceReference", source: "eServiceReference") -> None:
    target.__init__(source)


def _recording_setter(name: str) -> Callable[..., None]:
    def setter(self: Any, *args: Any) -> None:
        self.attrs[name] = args
    setter.__name__ = name
    return setter


# The service list's appearance setters (listboxservice.h): each keeps what it was given.
for _name in ("setAlternativeRecordMatching", "setAlternativeNumberingMode", "setChannelNumbersVisible",
              "setColor", "setColumnWidth", "setCryptoIconMode", "setElementFont", "setElementPosition",
              "setGetPiconNameFunc", "setHasNextEvent", "setHideNumberMarker", "setIgnoreService",
              "setItemsDistances", "setMarkerAsLine", "setMarkerLineColor", "setMarkerTextAlignment",
              "setNextTitle", "setNonplayableMargins", "setPixmap", "setProgressBarMode",
              "setProgressbarBorderWidth", "setProgressbarHeight", "setRecordIndicatorMode",
              "setServiceTypeIconMode", "setTextSeparator", "setTextTime", "setVisualMode"):
    setattr(eListboxServiceContent, _name, _recording_setter(_name))


class eListbox(eWidget):
    moveUp, moveDown, moveTop, moveEnd, pageUp, pageDown, justCheck, refresh, moveLeft, moveRight = range(10)
    showOnDemand, showAlways, showNever, showLeft = range(4)
    orVertical, orHorizontal, orGrid = 1, 2, 3

    def __init__(self, parent: Optional[eWidget] = None) -> None:
        super().__init__(parent)
        self.content: Optional[eListboxPythonStringContent] = None
        self.selectionChanged = Signal()
        self.item_height = 20
        self.enabled = True
        self.selection_enabled = True
        self._native_keys = False
        self.allowNativeKeys(True)  # elistbox.cpp: the constructor binds ListboxActions natively

    def setContent(self, content: Optional[eListboxPythonStringContent]) -> None:
        self.content = content
        if content is not None:
            content.listbox = self

    def _count(self) -> int:
        return len(self.content.list) if self.content is not None else 0

    def getCurrentIndex(self) -> int:
        return self.content.cursor if self.content is not None else 0

    def moveSelectionTo(self, index: int) -> None:
        if self.content is None:
            return
        old = self.content.cursor
        self.content.cursor = max(0, min(int(index), max(0, self._count() - 1)))
        if self.content.cursor != old:
            self.selectionChanged()

    def moveSelection(self, how: int) -> None:
        if self.content is None:
            return
        count, cursor = self._count(), self.content.cursor
        page = max(1, self.size().height() // max(1, self.item_height))
        target = {self.moveUp: cursor - 1, self.moveDown: cursor + 1, self.moveTop: 0,
                  self.moveEnd: count - 1, self.pageUp: cursor - page,
                  self.pageDown: cursor + page}.get(how, cursor)
        self.moveSelectionTo(target)

    def goLeft(self) -> None:
        self.moveSelection(self.moveUp)

    def goRight(self) -> None:
        self.moveSelection(self.moveDown)

    def setItemHeight(self, height: int) -> None:
        self.item_height = int(height)

    _NATIVE = {"moveUp": 0, "moveDown": 1, "moveTop": 2, "moveEnd": 3, "pageUp": 4, "pageDown": 5}

    def allowNativeKeys(self, allow: bool) -> None:
        """The list's own arrow and page keys (keymap.xml's ListboxActions, bound at prio 0)."""
        self.attrs["nativeKeys"] = bool(allow)
        if bool(allow) != self._native_keys:
            actions = eActionMap.getInstance()
            if allow:
                actions.bindAction("ListboxActions", 0, self._native_action)
            else:
                actions.unbindAction("ListboxActions", self._native_action)
            self._native_keys = bool(allow)

    def _native_action(self, context: str, action: str) -> int:
        how = self._NATIVE.get(action)
        if how is None or not self.isVisible() or not self.enabled:
            return 0  # a hidden screen's list ignores keys
        self.moveSelection(how)
        return 1

    def destruct(self) -> None:
        self.allowNativeKeys(False)
        super().destruct()

    def getScrollbarWidth(self) -> int:
        return int(self.attrs.get("scrollbarWidth", 10))  # elistbox.cpp: m_scrollbar_width(10)

    def getMaxItemTextWidth(self) -> int:
        """elistboxcontent.cpp getMaxItemTextWidth: the widest entry text in its font (for a
        MultiContent entry plus its x), plus twice the text offset (1)."""
        content = self.content
        if content is None:
            return 1
        fonts = {args[0]: args[1] for args in content.attrs.get("fonts", []) if len(args) == 2}
        default = self.attrs.get("font") or gFont("Regular", 20)
        template = content.attrs.get("template")
        widest = 0
        for entry in content.list:
            if isinstance(content, eListboxPythonMultiContent):
                parts = template if template is not None else list(entry[1:])
                for part in parts:
                    if not (isinstance(part, tuple) and len(part) > 7 and part[0] == content.TYPE_TEXT):
                        continue
                    text = entry[part[7]] if isinstance(part[7], int) and template is not None else part[7]
                    if text is not None:
                        widest = max(widest, text_width(fonts.get(part[5], default), str(text)) + part[1])
            else:
                text = entry[0] if isinstance(entry, tuple) else entry
                if text is not None:
                    widest = max(widest, text_width(default, str(text)))
        return widest + 2

    def setSelectionEnable(self, enabled: int) -> None:
        self.selection_enabled = bool(enabled)

    def setScrollbarMode(self, mode: int) -> None:
        self.attrs["scrollbarMode"] = mode

    def setWrapAround(self, wrap: bool) -> None:
        self.attrs["wrapAround"] = bool(wrap)

    def setBackgroundColorSelected(self, color: gRGB) -> None:
        self.attrs["backgroundColorSelected"] = color

    def setForegroundColor(self, color: gRGB) -> None:
        self.attrs["foregroundColor"] = color

    def setForegroundColorSelected(self, color: gRGB) -> None:
        self.attrs["foregroundColorSelected"] = color

    def setFont(self, font: gFont) -> None:
        self.attrs["font"] = font

    def setEntryFont(self, font: gFont) -> None:
        self.attrs["entryFont"] = font

    def setValueFont(self, font: gFont) -> None:
        self.attrs["valueFont"] = font

    def setItemWidth(self, width: int) -> None:
        self.attrs["itemWidth"] = width

    def setOrientation(self, orientation: int) -> None:
        self.attrs["orientation"] = orientation

    def setSelectionPixmap(self, pixmap: Any) -> None:
        self.attrs["selectionPixmap"] = pixmap

    def setScrollbarWidth(self, width: int) -> None:
        self.attrs["scrollbarWidth"] = width

    def setScrollbarBorderWidth(self, width: int) -> None:
        self.attrs["scrollbarBorderWidth"] = width

    def setScrollbarForegroundColor(self, color: gRGB) -> None:
        self.attrs["scrollbarForegroundColor"] = color

    def setScrollbarBorderColor(self, color: gRGB) -> None:
        self.attrs["scrollbarBorderColor"] = color

    def setScrollbarBackgroundColor(self, color: gRGB) -> None:
        self.attrs["scrollbarBackgroundColor"] = color

    def setTextPadding(self, point: ePoint) -> None:
        self.attrs["textPadding"] = point


class eWindowStyleSkinned:
    def __init__(self) -> None:
        self.attrs: Dict[str, Any] = {}

    def setStyle(self, *args: Any) -> None:
        self.attrs.setdefault("style", []).append(args)

    def setPixmap(self, *args: Any) -> None:
        self.attrs.setdefault("pixmaps", []).append(args)

    def setColor(self, *args: Any) -> None:
        self.attrs.setdefault("colors", []).append(args)

    def setTitleFont(self, font: gFont) -> None:
        self.attrs["titleFont"] = font

    def setTitleOffset(self, offset: eSize) -> None:
        self.attrs["titleOffset"] = offset

    def setLabelFont(self, font: gFont) -> None:
        self.attrs["labelFont"] = font

    def setListboxFont(self, font: gFont) -> None:
        self.attrs["listboxFont"] = font

    def setValueFont(self, font: gFont) -> None:
        self.attrs["valueFont"] = font

    colBackground, colLabelForeground, colListboxBackground, colListboxForeground, \
        colListboxSelectedBackground, colListboxSelectedForeground, colListboxMarkedBackground, \
        colListboxMarkedForeground, colListboxMarkedAndSelectedBackground, \
        colListboxMarkedAndSelectedForeground, colWindowTitleForeground, colWindowTitleBackground, \
        colScrollbarForeground, colScrollbarBackground, colScrollbarBorder, colSliderForeground, \
        colSliderBackground, colSliderBorder = range(18)
    bsWindow, bsButton, bsListboxEntry = range(3)
    bpTopLeft, bpTop, bpTopRight, bpLeft, bpRight, bpBottomLeft, bpBottom, bpBottomRight = (
        1, 2, 4, 8, 16, 32, 64, 128)
    bpAll = 255


class eWindowStyleManager:
    _instance: Optional["eWindowStyleManager"] = None

    def __init__(self) -> None:
        self.styles: Dict[int, Any] = {}

    @classmethod
    def getInstance(cls) -> "eWindowStyleManager":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def setStyle(self, style_id: int, style: Any) -> None:
        self.styles[style_id] = style


class _Desktop:
    def __init__(self, width: int, height: int) -> None:
        self._size = eSize(width, height)
        self.windows: List[eWindow] = []
        self.attrs: Dict[str, Any] = {}

    def size(self) -> eSize:
        return self._size

    def resize(self, size: eSize) -> None:
        self._size = size

    def bounds(self) -> eRect:
        return eRect(0, 0, self._size.width(), self._size.height())

    def makeCompatiblePixmap(self, *args: Any) -> Any:
        return None

    def setPalette(self, *args: Any) -> None:
        pass

    def setBackgroundColor(self, color: gRGB) -> None:
        self.attrs["backgroundColor"] = color

    def setMargins(self, *args: Any) -> None:
        pass

    def margins(self) -> eRect:
        return eRect(0, 0, 0, 0)

    def sendShow(self, *args: Any) -> None:
        pass

    def sendHide(self, *args: Any) -> None:
        pass

    def getStyleID(self) -> int:
        return 0

    def setStyleID(self, style_id: int) -> None:
        pass


DESKTOPS = {0: _Desktop(1280, 720), 1: _Desktop(132, 64)}


def getDesktop(index: int) -> _Desktop:
    return DESKTOPS[index]


def set_desktop_size(width: int, height: int) -> None:
    """Test control: the OSD resolution (the skin is chosen for it)."""
    DESKTOPS[0] = _Desktop(width, height)


class gMainDC:
    """The frame buffer; setResolution sizes the OSD (the desktop) as the skin asks."""

    _instance: Optional["gMainDC"] = None

    @classmethod
    def getInstance(cls) -> "gMainDC":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def setResolution(self, width: int, height: int) -> None:
        DESKTOPS[0].resize(eSize(width, height))


class gPixmap:
    def __init__(self, path: str = "") -> None:
        self.path = path

    def size(self) -> eSize:
        try:
            from PIL import Image
            with Image.open(self.path) as image:
                return eSize(*image.size)
        except Exception:  # noqa: BLE001 - a missing or unreadable picture has no size
            return eSize(0, 0)


def loadPNG(path: str, *args: Any) -> Optional[gPixmap]:
    return gPixmap(path) if os.path.isfile(path) else None


loadJPG = loadSVG = loadPNG


class ePicLoad:
    def __init__(self) -> None:
        self.PictureData = Signal()

    def setPara(self, *args: Any) -> None:
        pass

    def startDecode(self, *args: Any) -> int:
        return 1

    def getData(self) -> None:
        return None


# --- timers (base/ebase.h; eBaseImpl.eTimer on Twisted) ---------------------------------------
class eTimer:
    """OpenPLi's eTimer: `callback` list, `start(msec, singleshot)`, on the reactor."""

    def __init__(self) -> None:
        self.callback: List[Callable[[], Any]] = []
        self.timeout = _Connectable(self.callback)
        self._call: Any = None
        self._interval = 0.0
        self._single = False

    def start(self, msec: int, singleshot: bool = False) -> None:
        self.stop()
        self._interval = max(0, int(msec)) / 1000.0
        self._single = bool(singleshot)
        self._call = reactor.callLater(self._interval, _fire_timer, weakref.ref(self))

    def startLongTimer(self, seconds: int) -> None:
        self.start(int(seconds) * 1000, True)

    def changeInterval(self, msec: int) -> None:
        self.start(msec, self._single)

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def isActive(self) -> bool:
        return self._call is not None and self._call.active()

    def _fire(self) -> None:
        self._call = None
        if not self._single:
            self._call = reactor.callLater(self._interval, _fire_timer, weakref.ref(self))
        for func in list(self.callback):
            func()


def _fire_timer(ref: Any) -> None:
    """ebase.cpp: ~eTimer stops the timer. A timer nothing refers to any more (that of a
    screen that has closed: Screen.doClose empties the screen) never fires."""
    timer = ref()
    if timer is not None:
        timer._fire()


class _Connectable:
    def __init__(self, target: List[Callable[[], Any]]) -> None:
        self._target = target

    def connect(self, func: Callable[[], Any]) -> Any:
        self._target.append(func)
        return (self._target, func)


class eSocketNotifier:
    Read, Write, Priority, Error, Hungup = 1, 4, 2, 8, 16


# --- key handling (actionmap.cpp) ---------------------------------------------------------------
class eActionMap:
    _instance: Optional["eActionMap"] = None
    FLAG_MAKE, FLAG_BREAK, FLAG_REPEAT, FLAG_LONG = 0, 1, 2, 3

    def __init__(self) -> None:
        # domain, device, key, flags, context, action
        self.keys: List[Tuple[str, str, int, int, str, str]] = []
        self.bindings: List[Tuple[int, int, str, Callable[[str, str], Any]]] = []
        self._serial = 0
        self.unbound_handlers: List[Tuple[int, Callable[..., Any]]] = []

    @classmethod
    def getInstance(cls) -> "eActionMap":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def bindKey(self, domain: str, device: str, key: int, flags: int, context: str, action: str) -> None:
        self.keys.append((domain, device, key, flags, context, action))

    def unbindKeyDomain(self, domain: str) -> None:
        self.keys = [k for k in self.keys if k[0] != domain]

    def bindToggle(self, *args: Any) -> None:
        pass

    def bindTranslation(self, *args: Any) -> None:
        pass

    def bindAction(self, context: str, prio: int, function: Callable[..., Any]) -> None:
        self._serial += 1
        if context == "":
            self.unbound_handlers.append((prio, function))
            return
        self.bindings.append((int(prio), self._serial, context, function))

    def unbindAction(self, context: str, function: Callable[..., Any]) -> None:
        if context == "":
            self.unbound_handlers = [h for h in self.unbound_handlers if h[1] != function]
            return
        for binding in self.bindings:
            if binding[2] == context and binding[3] == function:
                self.bindings.remove(binding)
                return

    def keyPressed(self, device: str, key: int, flags: int) -> int:
        """Call the bound actions for key in priority order until one returns 1."""
        calls = []
        for _prio, _serial, context, function in sorted(self.bindings, key=lambda b: (b[0], b[1])):
            for _domain, kdevice, kkey, kflags, kcontext, action in self.keys:
                if kcontext == context and kkey == key and kflags & (1 << flags) \
                        and kdevice in ("generic", device):
                    calls.append((function, context, action))
        for function, context, action in calls:
            if function(context, action) == 1:
                return 1
        return 0


def getPrevAsciiCode() -> int:
    return 0


class eRCInput:
    kmNone, kmAscii, kmAll = 0, 1, 2
    _instance: Optional["eRCInput"] = None

    def __init__(self) -> None:
        self.mode = self.kmNone

    @classmethod
    def getInstance(cls) -> "eRCInput":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def setKeyboardMode(self, mode: int) -> None:
        self.mode = mode

    def getKeyboardMode(self) -> int:
        return self.mode

    def lock(self) -> None:
        pass

    def unlock(self) -> None:
        pass


# --- services (service/iservice.h, service.cpp) ---------------------------------------------------
def _encode(text: str) -> str:
    return quote(text, safe=" !\"#$&'()*+,-./;<=>?@[\\]^_`{|}~").replace("%3A", "%3a")


class eServiceReference:
    idInvalid, idStructure, idDVB, idFile, idUser, idServiceMP3 = -1, 0, 1, 2, 0x1000, 0x1001
    isDirectory, mustDescent, canDescent, flagDirectory = 1, 2, 4, 7
    shouldSort, hasSortKey, sort1, isMarker, isGroup, isNumberedMarker, isInvisible = (
        8, 16, 32, 64, 128, 256, 512)

    def __init__(self, *args: Any) -> None:
        self.type, self.flags = self.idInvalid, 0
        self.data = [0] * 8
        self.path = self.name = self.prov = ""
        self.number = 0
        if len(args) == 1 and isinstance(args[0], eServiceReference):
            other = args[0]
            self.type, self.flags, self.data = other.type, other.flags, list(other.data)
            self.path, self.name, self.prov = other.path, other.name, other.prov
        elif len(args) == 1:
            self._parse(str(args[0]))
        elif len(args) == 3 and isinstance(args[2], str):
            self.type, self.flags, self.path = int(args[0]), int(args[1]), args[2]
        elif len(args) >= 2:
            self.type, self.flags = int(args[0]), int(args[1])
            for i, value in enumerate(args[2:10]):
                self.data[i] = int(value)

    def _parse(self, text: str) -> None:
        if not text:
            return
        fields = text.split(":")
        try:
            numbers = [int(fields[0]), int(fields[1])] + [int(f, 16) for f in fields[2:10]]
        except (ValueError, IndexError):
            return
        if len(numbers) < 10:
            return
        self.type, self.flags, self.data = numbers[0], numbers[1], numbers[2:10]
        rest = text.split(":", 10)[10] if len(fields) > 10 else ""
        path, sep, name = rest.partition(":")
        self.path, self.name = unquote(path), unquote(name) if sep else ""

    def toString(self) -> str:
        out = "%d:%d:" % (self.type, self.flags) + ":".join("%X" % (d & 0xFFFFFFFF) for d in self.data)
        out += ":" + _encode(self.path)
        if self.name:
            out += ":" + _encode(self.name)
        return out

    def toCompareString(self) -> str:
        data = ":".join("%X" % (d & 0xFFFFFFFF) for d in self.data)
        return "%d:%d:%s:%s" % (self.type, 0, data, self.path)

    def getPath(self) -> str:
        return self.path

    def setPath(self, path: str) -> None:
        self.path = path

    def getName(self) -> str:
        return self.name

    def setName(self, name: str) -> None:
        self.name = name

    def getProvider(self) -> str:
        return self.prov

    def setProvider(self, prov: str) -> None:
        self.prov = prov

    def getChannelNum(self) -> int:
        return self.number

    def setChannelNum(self, number: int) -> None:
        self.number = number

    def getUnsignedData(self, num: int) -> int:
        return self.data[num] & 0xFFFFFFFF if 0 <= num < 8 else 0

    def getData(self, num: int) -> int:
        return self.data[num] if 0 <= num < 8 else 0

    def setData(self, num: int, value: int) -> None:
        if 0 <= num < 8:
            self.data[num] = int(value)

    setUnsignedData = setData

    def getSortKey(self) -> int:
        if self.flags & self.hasSortKey:
            return self.data[3]
        return 1 if self.flags & self.sort1 else 0

    def valid(self) -> int:
        return int(self.type != self.idInvalid)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, eServiceReference) or not other.valid() or self.type != other.type:
            return False
        return self.data == other.data and self.path == other.path

    def __ne__(self, other: Any) -> bool:
        return not self == other

    def __lt__(self, other: "eServiceReference") -> bool:
        return (self.type, self.data, self.path) < (other.type, other.data, other.path)

    __hash__ = None  # type: ignore[assignment]  # SWIG objects compare by value but are not hashable by it

    def __repr__(self) -> str:
        return "eServiceReference(%r)" % self.toString()


class iServiceInformation:
    (sIsCrypted, sAspect, sFrameRate, sProgressive, sGamma, sVideoHeight, sVideoWidth, sVideoPID,
     sVideoType, sAudioPID, sPCRPID, sPMTPID, sTXTPID, sSID, sONID, sTSID, sNamespace, sProvider,
     sDescription, sServiceref, sTimeCreate, sFileSize, sCAIDs, sCAIDPIDs, sVideoType2,
     sTags, sDVBState, sVideoInfo, sHBBTVUrl, sLiveStreamDemuxId, sBuffer, sIsScrambled,
     sIsIPTV, sIsDedicated3D, sCenterDVBSubs, sUser) = range(36)
    resNA, resIsString, resIsPyObject = -1, -2, -3


class iPlayableService:
    (evStart, evEnd, evTunedIn, evTuneFailed, evUpdatedEventInfo, evUpdatedInfo, evNewProgramInfo,
     evSeekableStatusChanged, evEOF, evSOF, evCuesheetChanged, evUpdatedRadioText,
     evUpdatedRtpText, evUpdatedRassSlidePic, evUpdatedRassInteractivePicMask, evVideoSizeChanged,
     evVideoFramerateChanged, evVideoProgressiveChanged, evBuffering, evGstreamerPlayStarted,
     evStopped, evHBBTVInfo, evVideoGammaChanged, evFccFailed) = range(24)
    evUser = 0x100


class iRecordableService:
    (evStart, evEnd, evTunedIn, evTuneFailed, evRecordRunning, evRecordStopped, evNewProgramInfo,
     evRecordFailed, evRecordWriteError, evNewEventInfo, evTuneStart, evPvrTuneStart,
     evRecordAborted, evGstRecordEnded) = range(14)
    NoError, errOpenRecordFile, errNoDemuxAvailable, errNoTsRecorderAvailable, errDiskFull, \
        errTuneFailed, errMisconfiguration, errNoResources = 0, -1, -2, -3, -4, -255, -256, -258


iRecordableServicePtr = iRecordableService


class iRdsDecoder:
    RadioText, RtpText = 0, 1


class eServiceEvent:
    """An EPG event as eEPGCache hands it out (lib/service/event.h; the C++ fills it from the
    EIT data with parseFrom, here from eEPGCache.submitEventData's fields)."""

    def __init__(self, begin: int = 0, duration: int = 0, name: str = "", short: str = "",
                 extended: str = "", event_id: int = 0) -> None:
        self._begin, self._duration, self._event_id = int(begin), int(duration), int(event_id)
        self._name, self._short, self._extended = name, short, extended

    def getBeginTime(self) -> int:
        return self._begin

    def getDuration(self) -> int:
        return self._duration

    def getEventId(self) -> int:
        return self._event_id

    def getEventName(self) -> str:
        return self._name

    def getShortDescription(self) -> str:
        return self._short

    def getExtendedDescription(self) -> str:
        return self._extended

    @staticmethod
    def setEPGLanguage(*args: Any) -> None:
        pass

    @staticmethod
    def setEPGLanguageAlternative(*args: Any) -> None:
        pass

    @staticmethod
    def setUTF(*args: Any) -> None:
        pass

    @staticmethod
    def setUTF8CorrectMode(*args: Any) -> None:
        pass


def scan_pts(path: str) -> Tuple[Optional[int], Optional[int]]:
    """First and last PES PTS of the video of a TS file (what the decoder shows)."""
    try:
        with open(path, "rb") as f:
            head = f.read(188 * 2000)
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, (size // 188) * 188 - 188 * 4000))
            tail = f.read()
    except OSError:
        return None, None
    first = _pts_values(head)
    last = _pts_values(tail)
    return (min(first) if first else None), (max(last) if last else None)


def _pts_values(data: bytes) -> List[int]:
    values = []
    for offset in range(0, len(data) - 187, 188):
        packet = data[offset:offset + 188]
        if packet[0] != 0x47 or not packet[1] & 0x40:
            continue
        start = 4
        if packet[3] & 0x20:
            start += 1 + packet[4]
        pes = packet[start:start + 14]
        if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not 0xE0 <= pes[3] <= 0xEF or not pes[7] & 0x80:
            continue
        p = pes[9:14]
        values.append(((p[0] >> 1) & 7) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1)
    return values


def meta_name(path: str) -> str:
    """servicedvb's name of a recording: line 2 of its .meta (eDVBMetaParser), else the
    file's name."""
    try:
        with open(path + ".meta", encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
    except OSError:
        lines = []
    return (lines[1].strip() if len(lines) > 1 else "") or os.path.basename(path)


class _Seek:
    def __init__(self, service: "PlayedFile") -> None:
        self.s = service

    def getLength(self) -> Tuple[int, int]:
        length = self.s.length_pts()
        return (0, length) if length else (1, 0)

    def getPlayPosition(self) -> Tuple[int, int]:
        return (0, int(self.s.position))

    def seekTo(self, pts: int) -> int:
        self.s.seek_to(int(pts))
        return 0

    def seekRelative(self, direction: int, pts: int) -> int:
        self.s.seek_to(int(self.s.position + direction * pts))
        return 0

    def isCurrentlySeekable(self) -> int:
        return 3

    def setTrickmode(self, trick: int) -> int:
        return 0

    def seekChapter(self, chapter: int) -> int:
        return -1


class _Pause:
    def __init__(self, service: "PlayedFile") -> None:
        self.s = service

    def pause(self) -> int:
        self.s.set_rate(0)
        return 0

    def unpause(self) -> int:
        self.s.set_rate(1)
        return 0

    def setSlowMotion(self, ratio: int) -> int:
        self.s.set_rate(1.0 / ratio if ratio else 1)
        return 0

    def setFastForward(self, ratio: int) -> int:
        self.s.set_rate(ratio or 1)
        return 0


class _CueSheet:
    def __init__(self, service: "PlayedFile") -> None:
        self.s = service

    def getCutList(self) -> List[Tuple[int, int]]:
        return list(self.s.cues)

    def setCutList(self, cues: List[Tuple[int, int]]) -> None:
        self.s.cues = sorted((int(w), int(t)) for w, t in cues)
        self.s.cues_changed = True

    def setCutListEnable(self, enable: int) -> None:
        self.s.cutlist_enabled = int(enable)


class _Info:
    def __init__(self, service: "PlayedFile") -> None:
        self.s = service

    def getName(self) -> str:
        return self.s.ref.getName() or meta_name(self.s.ref.getPath())

    def getInfo(self, what: int) -> int:
        if what == iServiceInformation.sFileSize:
            return self.s.file_size()
        return iServiceInformation.resNA

    def getInfoString(self, what: int) -> str:
        if what == iServiceInformation.sServiceref:
            return self.s.ref.toString()
        return ""

    def getInfoObject(self, what: int) -> Any:
        return None

    def getEvent(self, now: int) -> None:
        return None


class PlayedFile:
    """A file played by servicedvb (type 1) or servicemp3 (4097), growing or not."""

    def __init__(self, ref: eServiceReference, emit: Callable[[int], None]) -> None:
        self.ref = ref
        self.path = ref.getPath()
        self.emit = emit
        self.dvb = ref.type == eServiceReference.idDVB
        self.position = 0  # pts relative to the file's first pts
        self.rate = 1.0
        self.cues: List[Tuple[int, int]] = []
        self.cues_changed = False
        self.cutlist_enabled = 1
        self.eof_count = 0
        self.reading = True
        self.at_end = False
        self.stopped = False
        self._last_tick = time.monotonic()
        self._loop: Any = None
        self._eof_call: Any = None

    # --- iPlayableService -----------------------------------------------------------------------
    def start(self) -> int:
        if not os.path.isfile(self.path):
            return -1
        if self.dvb:
            self._load_cuesheet()
        reactor.callLater(0, self._started)
        return 0

    def _started(self) -> None:
        if self.stopped:
            return
        self.emit(iPlayableService.evStart)
        if self.dvb:
            self.emit(iPlayableService.evCuesheetChanged)
        self.emit(iPlayableService.evSeekableStatusChanged)
        self.emit(iPlayableService.evUpdatedInfo)
        self._last_tick = time.monotonic()
        self._loop = reactor.callLater(TICK_S, self._tick)

    def stop(self) -> int:
        if self.stopped:
            return 0
        self._advance()
        self.stopped = True
        for call in (self._loop, self._eof_call):
            if call is not None and call.active():
                call.cancel()
        if self.dvb and self.cutlist_enabled & 2 == 0 and self.length_pts():
            self.cues = [c for c in self.cues if c[1] != 3] + [(int(self.position), 3)]
            self.cues.sort()
            self.cues_changed = True
        if self.dvb and self.cues_changed and os.access(self.path, os.R_OK):
            with open(self.path + ".cuts", "wb") as f:
                for where, what in self.cues:
                    f.write(struct.pack(">QI", where, what))
        return 0

    def seek(self) -> _Seek:
        return _Seek(self)

    def pause(self) -> _Pause:
        return _Pause(self)

    def cueSheet(self) -> Optional[_CueSheet]:
        return _CueSheet(self) if self.dvb else None

    def info(self) -> _Info:
        return _Info(self)

    def getPtrString(self) -> str:
        """SWIG's ePtr identity string: one per service object."""
        return "%#x" % id(self)

    def setQpipMode(self, value: bool, audio: bool) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        # Interfaces a file service does not offer are null pointers (None in Python).
        if name in ("audioTracks", "subtitle", "audioChannel", "timeshift", "frontendInfo",
                    "subServices", "rdsDecoder", "stream", "streamed", "keys",
                    "audioDelay", "tap"):
            return lambda *args: None
        raise AttributeError(name)

    # --- playback -------------------------------------------------------------------------------
    def file_size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def length_pts(self) -> int:
        if self.dvb:
            first, last = scan_pts(self.path)
            return max(0, last - first) if first is not None and last is not None else 0
        return self.file_size() * PTS_PER_S // MP4_BYTES_PER_S

    def set_rate(self, rate: float) -> None:
        self._advance()
        self.rate = float(rate)

    def seek_to(self, pts: int) -> None:
        self._advance()
        self.position = max(0, min(pts, self.length_pts()))
        if self.position < self.length_pts():
            self.at_end = False

    def _advance(self) -> None:
        now = time.monotonic()
        if self.reading and not self.at_end:
            self.position += int((now - self._last_tick) * self.rate * PLAY_SPEED * PTS_PER_S)
        self._last_tick = now

    def _tick(self) -> None:
        self._loop = None
        if self.stopped:
            return
        self._advance()
        length = self.length_pts()
        if self.reading and not self.at_end and self.position >= length:
            self.position = length
            self.at_end = True
            self._end_of_file()
        if not self.stopped:
            self._loop = reactor.callLater(TICK_S, self._tick)

    def _end_of_file(self) -> None:
        self.emit(iPlayableService.evEOF)
        if not self.dvb:
            self.reading = False  # gstreamer: end of stream, once
            return
        self.eof_count += 1
        if self.eof_count < EOF_RETRIES:
            self._eof_call = reactor.callLater(EOF_RETRY_S, self._retry_read)
        else:
            self.reading = False  # the push thread has given up

    def _retry_read(self) -> None:
        self._eof_call = None
        if self.stopped:
            return
        if self.length_pts() > self.position:
            self.at_end = False  # the file grew: reading goes on
            self._last_tick = time.monotonic()
        else:
            self._end_of_file()

    def _load_cuesheet(self) -> None:
        self.cues = []
        try:
            with open(self.path + ".cuts", "rb") as f:
                data = f.read()
        except OSError:
            return
        for offset in range(0, len(data) - 11, 12):
            where, what = struct.unpack(">QI", data[offset:offset + 12])
            if what > 3:
                break
            self.cues.append((where, what))


iPlayableServicePtr = PlayedFile  # what getCurrentService() returns (converters test isinstance)


class pNavigation:
    def __init__(self) -> None:
        self.m_event = Signal()
        self.m_record_event = Signal()
        self.service: Optional[PlayedFile] = None
        self.played: List[eServiceReference] = []

    def playService(self, ref: eServiceReference) -> int:
        self.stopService()
        self.played.append(ref)
        if ref.type not in (eServiceReference.idDVB, eServiceReference.idServiceMP3) or not ref.getPath():
            return 0  # a live channel: nothing to simulate
        if "://" in ref.getPath():
            # A stream channel (servicedvb's eHttpStream, servicemp3's souphttpsrc): start()
            # returns 0 and connects later; its connection is not simulated.
            return 0
        service = PlayedFile(ref, self._event)
        if service.start():
            return -1
        self.service = service
        return 0

    def _event(self, event: int) -> None:
        self.m_event(event)

    def stopService(self) -> int:
        if self.service is not None:
            service, self.service = self.service, None
            service.stop()
            self.m_event(iPlayableService.evEnd)
        return 0

    def getCurrentService(self) -> Optional[PlayedFile]:
        return self.service

    def pause(self, pause: int) -> int:
        if self.service is not None:
            self.service.set_rate(0 if pause else 1)
        return 0

    def recordService(self, ref: Any, simulate: bool = False, type: int = 0) -> None:
        return None

    def stopRecordService(self, service: Any) -> int:
        return 0

    def getRecordings(self, simulate: bool = False, type: int = 0) -> List[Any]:
        return []

    def getRecordingsServicesOnly(self, *args: Any) -> List[Any]:
        return []

    def getRecordingsTypesOnly(self, *args: Any) -> List[Any]:
        return []

    def getRecordingsSlotID(self, *args: Any) -> List[Any]:
        return []


class _StaticInfo:
    def getName(self, ref: eServiceReference) -> str:
        return ref.getName() or meta_name(ref.getPath())

    def getLength(self, ref: eServiceReference) -> int:
        return -1

    def getInfo(self, ref: eServiceReference, what: int) -> int:
        return iServiceInformation.resNA

    def getInfoString(self, ref: eServiceReference, what: int) -> str:
        return ""

    def getEvent(self, ref: eServiceReference, start_time: int = -1) -> None:
        return None

    def isPlayable(self, ref: eServiceReference, ignore: Any, simulate: bool = False) -> int:
        return 1


class eServiceCenter:
    _instance: Optional["eServiceCenter"] = None

    @classmethod
    def getInstance(cls) -> "eServiceCenter":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def info(self, ref: eServiceReference) -> _StaticInfo:
        return _StaticInfo()

    def list(self, ref: eServiceReference) -> None:
        return None

    def offlineOperations(self, ref: eServiceReference) -> None:
        return None


def getBestPlayableServiceReference(ref: eServiceReference, ignore: Any,
                                    simulate: bool = False) -> Optional[eServiceReference]:
    return None


# --- process-level calls ----------------------------------------------------------------------------
QUIT_REQUESTS: List[int] = []


def quitMainloop(code: int) -> None:
    """enigma2 leaves its main loop with this exit code (the test records it)."""
    QUIT_REQUESTS.append(code)


def runMainloop() -> None:
    raise RuntimeError("the test harness never runs enigma2's main loop")


def eGetEnigmaDebugLvl() -> int:
    return 0


def setPreferredTuner(*args: Any) -> None:
    pass


def setTunerTypePriorityOrder(*args: Any) -> None:
    pass


def setSpinnerOnOff(*args: Any) -> None:
    pass


def setEnableTtCachingOnOff(*args: Any) -> None:
    pass


def getPeerStreamingBoxes() -> List[str]:
    return []


def e_tzset() -> None:
    pass


class _Singleton:
    """Hardware managers the tree asks for at import or start-up; a desktop has none of the
    hardware, so every query answers "nothing there" as the C++ does without devices."""

    _instances: Dict[type, Any] = {}

    @classmethod
    def getInstance(cls) -> Any:
        if cls not in _Singleton._instances:
            _Singleton._instances[cls] = cls()
        return _Singleton._instances[cls]


class eDVBDB(_Singleton):
    def reloadBouquets(self) -> None:
        pass

    def reloadServicelist(self) -> None:
        pass

    def setLoadUnlinkedUserbouquets(self, value: int) -> None:
        pass

    def setNumberingMode(self, mode: Any) -> None:
        pass

    def getFlag(self, *args: Any) -> int:
        return 0

    def addFlag(self, *args: Any) -> None:
        pass

    def removeFlag(self, *args: Any) -> None:
        pass

    def removeFlags(self, *args: Any) -> None:
        pass

    def getCachedPid(self, *args: Any) -> int:
        return -1

    def removeService(self, *args: Any) -> None:
        pass

    def removeServices(self, *args: Any) -> None:
        pass

    def saveIptvServicelist(self) -> None:
        pass


class eEPGCache(_Singleton):
    NOW, NEXT = 0, 1
    SIMILAR_BROADCASTINGS_SEARCH, EXAKT_TITLE_SEARCH, PARTIAL_TITLE_SEARCH, START_TITLE_SEARCH, \
        END_TITLE_SEARCH, PARTIAL_DESCRIPTION_SEARCH, CRC_SEARCH = range(7)
    CASE_CHECK, NO_CASE_CHECK = 0, 1
    # epgcache.h source bits
    NOWNEXT, SCHEDULE, SCHEDULE_OTHER, MHW, FREESAT_NOWNEXT, FREESAT_SCHEDULE, FREESAT_SCHEDULE_OTHER, \
        VIASAT, NETMED_SCHEDULE, NETMED_SCHEDULE_OTHER, VIRGIN_NOWNEXT, VIRGIN_SCHEDULE, OPENTV = (
            1, 2, 4, 8, 16, 32, 64, 256, 512, 1024, 2048, 4096, 8192)

    def setCacheFile(self, path: str) -> None:
        pass

    def lookupEvent(self, *args: Any) -> List[Any]:
        return []

    # The cache itself (lib/dvb/epgcache.cpp): per service, keyed like uniqueEPGKey (sid, onid,
    # tsid from the reference's data fields), the events by begin time. A desktop receives no
    # EIT, so events only come in through submitEventData, as from an EPG import.
    def _db(self) -> Dict[Tuple[int, int, int], Dict[int, "eServiceEvent"]]:
        if "_events" not in self.__dict__:
            self._events: Dict[Tuple[int, int, int], Dict[int, eServiceEvent]] = {}
        return self._events

    @staticmethod
    def _key(ref: Any) -> Tuple[int, int, int]:
        if ref.type == eServiceReference.idInvalid:
            return (-1, -1, -1)
        return (ref.getData(1), ref.getData(3), ref.getData(2))

    def submitEventData(self, refs: Any, start: int, duration: int, title: str,
                        short_summary: str = "", long_description: str = "",
                        event_type: Any = 0) -> None:
        """One event on each service of refs; its event id is start & 0xFFFF, as in C++."""
        if not title:
            return
        for ref in refs:
            event = eServiceEvent(start, duration, title, short_summary or "",
                                  long_description or "", int(start) & 0xFFFF)
            self._db().setdefault(self._key(ref), {})[int(start)] = event

    def flushEPG(self, sid: int = 0, onid: int = 0, tsid: int = 0) -> None:
        """Forget the events of one service, or of all when sid is 0."""
        if sid:
            self._db().pop((sid, onid, tsid), None)
        else:
            self._db().clear()

    def lookupEventTime(self, ref: Any, t: int, direction: int = 0) -> Optional["eServiceEvent"]:
        """eEPGCache::lookupEventTime: t == -1 is now; direction 0 the event running at t (its
        end included), > 0 the first beginning after t, < 0 the one beginning before t. As in
        the C++, the search starts at the first event beginning at or after t (after t for
        direction > 0), so nothing is found when no event begins after t."""
        events = self._db().get(self._key(ref))
        if not events:
            return None
        if t == -1:
            t = int(time.time())
        begins = sorted(events)
        index = (bisect.bisect_left if direction <= 0 else bisect.bisect_right)(begins, t)
        if index == len(begins):
            return None
        if direction < 0 or (direction == 0 and begins[index] > t):
            if index == 0:
                return None  # --begin() is end() in the C++ map
            start = begins[index - 1]
            if direction >= 0 and (t < start or t > start + events[start].getDuration()):
                return None
            index -= 1
        return events[begins[index]]

    def lookupEventId(self, *args: Any) -> None:
        return None

    def startTimeQuery(self, *args: Any) -> int:
        return -1

    def getNextTimeEntry(self) -> None:
        return None

    def search(self, *args: Any) -> List[Any]:
        return []

    def load(self) -> None:
        pass

    def save(self) -> None:
        pass

    def timeUpdated(self) -> None:
        pass

    def setEpgHistorySeconds(self, seconds: int) -> None:
        pass

    def setEpgSources(self, mask: int) -> None:
        pass


class eDVBResourceManager(_Singleton):
    def __init__(self) -> None:
        self.frontendUseMaskChanged = Signal()

    def canAllocateChannel(self, *args: Any) -> int:
        return 0

    def canMeasureFrontendInputPower(self) -> bool:
        return False

    def setFrontendSlotInformations(self, slots: Any) -> None:
        pass

    def setFrontendType(self, *args: Any) -> None:
        pass

    def frontendIsCompatible(self, *args: Any) -> bool:
        return False

    def frontendIsMultistream(self, *args: Any) -> bool:
        return False

    def getFrontendCapabilities(self, *args: Any) -> str:
        return ""

    def allocateRawChannel(self, *args: Any) -> None:
        return None


class eDVBVolumecontrol(_Singleton):
    def __init__(self) -> None:
        self.volume, self.muted = 50, False

    def volumeUp(self, *args: Any) -> None:
        self.volume = min(100, self.volume + 5)

    def volumeDown(self, *args: Any) -> None:
        self.volume = max(0, self.volume - 5)

    def setVolume(self, left: int, right: int) -> None:
        self.volume = left

    def getVolume(self) -> int:
        return self.volume

    def isMuted(self) -> bool:
        return self.muted

    def volumeMute(self) -> None:
        self.muted = True

    def volumeUnMute(self) -> None:
        self.muted = False

    def volumeToggleMute(self) -> None:
        self.muted = not self.muted

    def openMixer(self) -> None:
        pass

    def setVolumeSteps(self, steps: int) -> None:
        pass

    def closeMixer(self) -> None:
        pass


class eDVBLocalTimeHandler(_Singleton):
    def __init__(self) -> None:
        self.m_timeUpdated = Signal()

    def ready(self) -> bool:
        return True

    def setUseDVBTime(self, use: bool) -> None:
        pass


class eDVBCIInterfaces(_Singleton):
    def getNumOfSlots(self) -> int:
        return 0

    def readCICaIds(self, slot: int) -> List[int]:
        return []

    def setDescrambleRules(self, *args: Any) -> None:
        pass


class eDVBCI_UI(_Singleton):
    def __init__(self) -> None:
        self.ciStateChanged = Signal()


class eStreamServer(_Singleton):
    def __init__(self) -> None:
        self.streamStatusChanged = Signal()

    def getConnectedClients(self) -> List[Any]:
        return []

    def stopStream(self) -> None:
        pass


class eBackgroundFileEraser(_Singleton):
    def erase(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError:
            pass

    def setEraseSpeed(self, speed: int) -> None:
        pass

    def setEraseFlags(self, flags: int) -> None:
        pass


class eAVSwitch(_Singleton):
    def __init__(self) -> None:
        self.vcr_sb_notifier = Signal()

    def setInput(self, *args: Any) -> None:
        pass

    def setColorFormat(self, *args: Any) -> None:
        pass

    def setAspectRatio(self, *args: Any) -> None:
        pass

    def setVideomode(self, *args: Any) -> None:
        pass

    def setWSS(self, *args: Any) -> None:
        pass

    def haveScartSwitch(self) -> bool:
        return False

    def getAspectRatioSetting(self) -> int:
        return 0

    def getVCRSlowBlanking(self) -> int:
        return 0


class _NoTunerHardware(type):
    """The satellite equipment control (lib/dvb/sec.h, not among the kept sources) programs
    tuner hardware; NimManager sends it every setting at start-up. A desktop has none: each
    setter is accepted and does nothing, each query answers 0."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name.isupper():
            return sum(map(ord, name))
        return lambda *args: 0


class eDVBSatelliteEquipmentControl(_Singleton, metaclass=_NoTunerHardware):
    def __init__(self) -> None:
        self.slotRotorSatPosChanged = Signal()

    def __getattr__(self, name: str) -> Any:
        return getattr(type(self), name)


class eDVBServicePMTHandler:
    pass


class _TunerEnum(type):
    """Tuner parameter enums (lib/dvb/frontendparms.h, not among the kept sources): each name
    gets a distinct number on first use. Only the tuner set-up code reads them; a desktop has
    no tuner, so no test depends on their values."""

    def __getattr__(cls, name: str) -> int:
        if name.startswith("__"):
            raise AttributeError(name)
        numbers = cls.__dict__.get("_numbers")
        if numbers is None:
            numbers = {}
            cls._numbers = numbers
        return numbers.setdefault(name, len(numbers))


class eDVBFrontendParametersSatellite(metaclass=_TunerEnum):
    pass


class eDVBFrontendParametersCable(metaclass=_TunerEnum):
    pass


class eDVBFrontendParametersTerrestrial(metaclass=_TunerEnum):
    pass


class eDVBFrontendParametersATSC(metaclass=_TunerEnum):
    pass


class eDVBSatelliteDiseqcParameters(metaclass=_TunerEnum):
    pass


class eDVBSatelliteSwitchParameters(metaclass=_TunerEnum):
    pass


class eDVBSatelliteRotorParameters(metaclass=_TunerEnum):
    pass


class Misc_Options(_Singleton):
    def set_12V_output(self, state: int) -> int:
        return 0

    def get_12V_output(self) -> int:
        return 0

    def detected_12V_output(self) -> bool:
        return False


class eConsoleAppContainer:
    """eConsoleImpl.eConsoleAppContainer (StartEnigma installs it; its signals are plain
    lists). The tests run no receiver commands, so execute fails as for a missing binary."""

    def __init__(self) -> None:
        self.appClosed: List[Callable[..., Any]] = []
        self.dataAvail: List[Callable[..., Any]] = []
        self.stdoutAvail: List[Callable[..., Any]] = []
        self.stderrAvail: List[Callable[..., Any]] = []
        self.dataSent: List[Callable[..., Any]] = []

    def execute(self, *args: Any) -> int:
        return -1

    def running(self) -> bool:
        return False

    def kill(self) -> None:
        pass

    def sendCtrlC(self) -> None:
        pass

    def write(self, *args: Any) -> None:
        pass

    def setCWD(self, path: str) -> None:
        pass
