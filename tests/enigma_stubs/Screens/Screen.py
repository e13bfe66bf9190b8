"""Stand-in for Screens.Screen: a dict of widgets with OpenPLi's hook lists and life cycle.

As in OpenPLi: `execing` turns True only after the onExecBegin hooks ran; close() on a screen
that is not executing is deferred to its next execBegin; doClose() runs the onClose hooks and
then clears the screen (its attributes are gone afterwards, so code must not touch a closed
screen). `_stub_closed` marks a closed screen for the tests.
"""


class Screen(dict):
    def __init__(self, session, parent=None):
        dict.__init__(self)
        self.skinName = self.__class__.__name__
        self.session = session
        self.parent = parent
        self.onClose = []
        self.onFirstExecBegin = []
        self.onExecBegin = []
        self.onExecEnd = []
        self.onLayoutFinish = []
        self.onShown = []
        self.onShow = []
        self.onHide = []
        self.execing = False
        self.shown = True
        self.already_shown = False
        self.helpList = []
        self.close_on_next_exec = None
        self.instance = None
        self.screenTitle = ""

    def layoutFinished(self):
        """What createGUIScreen does at the end of instantiating the dialog."""
        for func in self.onLayoutFinish:
            func()

    def execBegin(self):
        if self.close_on_next_exec is not None:
            retval, self.close_on_next_exec = self.close_on_next_exec, None
            self.execing = True
            self.close(*retval)
            return
        single, self.onFirstExecBegin = self.onFirstExecBegin, []
        for func in self.onExecBegin + single:
            func()
            if self.session.current_dialog is not self:
                return
        self.execing = True
        for func in self.onShown:
            func()

    def execEnd(self):
        self.execing = False
        for func in self.onExecEnd:
            func()

    def doClose(self):
        self.hide()
        for func in self.onClose:
            func()
        self.clear()
        self.__dict__.clear()
        self.__dict__["_stub_closed"] = True

    def close(self, *retval):
        if not self.execing:
            self.close_on_next_exec = retval
        else:
            self.session.close(self, *retval)

    def setTitle(self, title, showPath=True):
        self.screenTitle = title

    def getTitle(self):
        return self.screenTitle

    title = property(getTitle, setTitle)

    def show(self):
        self.shown = True

    def hide(self):
        self.shown = False
