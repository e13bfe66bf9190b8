"""Stand-in for enigma2's C++ `enigma` module: service references, events, timers, the desktop."""

from twisted.internet import reactor


class eServiceReference:
    """`eServiceReference(type, flags, path)` or `eServiceReference("1:0:...:/path")`."""

    idInvalid = -1
    idDVB = 1
    idServiceMP3 = 4097
    isDirectory = 1

    def __init__(self, *args):
        self.name = ""
        if len(args) == 1 and isinstance(args[0], str):
            parts = args[0].split(":", 10)
            self.type = int(parts[0]) if parts and parts[0].lstrip("-").isdigit() else -1
            self.flags = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            self.path = parts[10] if len(parts) > 10 else ""
        elif len(args) >= 3:
            self.type, self.flags, self.path = int(args[0]), int(args[1]), str(args[2])
        else:
            self.type, self.flags, self.path = -1, 0, ""

    def getPath(self):
        return self.path

    def setPath(self, path):
        self.path = path

    def getName(self):
        return self.name

    def setName(self, name):
        self.name = name

    def valid(self):
        return self.type != -1

    def toString(self):
        return "%d:%d:0:0:0:0:0:0:0:0:%s" % (self.type, self.flags, self.path)

    def __eq__(self, other):
        return isinstance(other, eServiceReference) and self.toString() == other.toString()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.toString())

    def __repr__(self):
        return "eServiceReference(%r)" % self.toString()


class iPlayableService:
    evStart = 0
    evEnd = 1
    evTunedIn = 2
    evTuneFailed = 3
    evUpdatedEventInfo = 4
    evUpdatedInfo = 5
    evNewProgramInfo = 6
    evSeekableStatusChanged = 7
    evEOF = 8
    evSOF = 9
    evCuesheetChanged = 10
    evUser = 100


class eTimer:
    """OpenPLi's timer: `callback` list, `start(ms, singleshot)`; fires on the reactor like the real one."""

    def __init__(self):
        self.callback = []
        self._call = None
        self._interval = 0
        self._single = False

    def start(self, msec, singleshot=False):
        self.stop()
        self._interval = msec / 1000.0
        self._single = bool(singleshot)
        self._call = reactor.callLater(self._interval, self._fire)

    def startLongTimer(self, seconds):
        self.start(seconds * 1000, True)

    def stop(self):
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def isActive(self):
        return self._call is not None and self._call.active()

    def _fire(self):
        self._call = None
        if not self._single:
            self._call = reactor.callLater(self._interval, self._fire)
        for func in list(self.callback):
            func()


class eSize:
    def __init__(self, width=0, height=0):
        self._w, self._h = width, height

    def width(self):
        return self._w

    def height(self):
        return self._h


class _Desktop:
    def __init__(self, width, height):
        self._size = eSize(width, height)

    def size(self):
        return self._size

    def resize(self, size):
        self._size = size


_desktops = {0: _Desktop(1280, 720), 1: _Desktop(132, 64)}


def getDesktop(index):
    return _desktops[index]


def set_desktop_size(width, height):
    """Test helper: the OSD resolution the skin is chosen for."""
    _desktops[0].resize(eSize(width, height))


quit_requests = []  # test helper: the values quitMainloop was called with


def quitMainloop(retval):
    """enigma2 leaves its main loop (the reactor stops); the stand-in only records the request."""
    quit_requests.append(retval)
