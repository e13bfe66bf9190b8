"""A stand-in enigma2 session and navigation: records opened screens and played services.

Closing follows enigma2's Session.close/processDelay order: the closed screen's onClose hooks run,
the screen below executes again, then the opener's callback gets the return value. Only the top
screen may close itself (enigma2 asserts that too).
"""

from twisted.python import threadable


class FakeSeekable:
    def __init__(self):
        self.position = 0
        self.length = 0
        self.seeks = []

    def getPlayPosition(self):
        return [0, self.position]

    def getLength(self):
        return [0, self.length]

    def seekTo(self, pts):
        self.seeks.append(pts)
        self.position = pts
        return 0

    def isCurrentlySeekable(self):
        return 3


class FakePauseable:
    def __init__(self):
        self.paused = False

    def pause(self):
        self.paused = True
        return 0

    def unpause(self):
        self.paused = False
        return 0


class FakeService:
    def __init__(self, ref):
        self.ref = ref
        self._seek = FakeSeekable()
        self._pause = FakePauseable()

    def seek(self):
        return self._seek

    def pause(self):
        return self._pause

    def info(self):
        return None


class FakeNavigation:
    def __init__(self, live_ref):
        self.event = []
        self.current = live_ref
        self.service = FakeService(live_ref)
        self.played = []  # (reference, played on the reactor thread)

    def playService(self, ref, checkParentalControl=True, forceRestart=False, adjust=True):
        self.played.append((ref, threadable.isInIOThread()))
        self.current = ref
        self.service = FakeService(ref) if ref is not None else None
        return 0

    def stopService(self):
        self.current = None
        self.service = None

    def getCurrentlyPlayingServiceReference(self):
        return self.current

    def getCurrentlyPlayingServiceOrGroup(self):
        return self.current

    def getCurrentService(self):
        return self.service

    def dispatch(self, event):
        """Test helper: deliver a service event (e.g. iPlayableService.evEOF) like enigma2 does."""
        for func in list(self.event):
            func(event)


class FakeSession:
    def __init__(self, live_ref):
        self.nav = FakeNavigation(live_ref)
        self.dialog_stack = []
        self.opened = []
        self.off_thread_opens = []
        self._closing = None

    @property
    def current_dialog(self):
        return self.dialog_stack[-1] if self.dialog_stack else None

    def open(self, screen_class, *args, **kwargs):
        if not threadable.isInIOThread():
            self.off_thread_opens.append(screen_class.__name__)
        # enigma2 pops the closing screen after its onClose hooks: a screen opened from there
        # would be popped instead of it. Open follow-up screens from the close callback.
        assert self._closing is None, "%s opened from the onClose of %r" % (
            screen_class.__name__, self._closing)
        dialog = screen_class(self, *args, **kwargs)
        dialog.callback = None
        dialog.layoutFinished()
        if self.dialog_stack:
            self.dialog_stack[-1].execEnd()
        self.dialog_stack.append(dialog)
        self.opened.append(dialog)
        dialog.execBegin()
        return dialog

    def openWithCallback(self, callback, screen_class, *args, **kwargs):
        dialog = self.open(screen_class, *args, **kwargs)
        dialog.callback = callback
        return dialog

    def close(self, screen, *retval):
        assert screen is self.current_dialog, "closing %r, but %r is on top" % (
            screen, self.current_dialog)
        callback = screen.callback
        assert screen.execing, "close after exec"
        screen.execEnd()
        self._closing = screen
        try:
            screen.doClose()
        finally:
            self._closing = None
        self.dialog_stack.pop()
        if self.dialog_stack:
            self.dialog_stack[-1].execBegin()
        if callback is not None:
            callback(*retval)

    # --- test helpers ---------------------------------------------------------------------
    def top(self, screen_class=None):
        dialog = self.current_dialog
        if screen_class is not None:
            assert isinstance(dialog, screen_class), "expected %s on top, found %r" % (
                screen_class.__name__, dialog)
        return dialog

    def find(self, screen_class):
        """Open (not yet closed) screens of screen_class, oldest first."""
        return [d for d in self.dialog_stack if isinstance(d, screen_class)]

    def ever_opened(self, screen_class):
        return [d for d in self.opened if isinstance(d, screen_class)]


def is_closed(screen):
    """True once the session closed the screen (enigma2 clears a closed screen's attributes)."""
    return screen.__dict__.get("_stub_closed", False)
