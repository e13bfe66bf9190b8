"""Stand-in for Components.ServiceEventTracker: InfoBar stack and event routing as in OpenPLi."""


class InfoBarBase:
    def __init__(self, steal_current_service=False):
        ServiceEventTracker.setActiveInfoBar(self)
        self.onClose.append(self.__close)

    def __close(self):
        ServiceEventTracker.popActiveInfoBar(self)


class ServiceEventTracker:
    """Events reach screens not derived from InfoBarBase always, InfoBarBase screens only on top."""

    InfoBarStack = []
    EventMap = {}
    navcore = None

    @staticmethod
    def event(evt):
        stack = ServiceEventTracker.InfoBarStack
        for passall, screen, func in list(ServiceEventTracker.EventMap.get(evt, [])):
            if passall or (stack and stack[-1] is screen):
                func()

    @staticmethod
    def setActiveInfoBar(infobar, old_service=None, old_ref=None):
        assert infobar not in ServiceEventTracker.InfoBarStack, "infobar already active"
        ServiceEventTracker.InfoBarStack.append(infobar)

    @staticmethod
    def popActiveInfoBar(infobar=None):
        stack = ServiceEventTracker.InfoBarStack
        if infobar in stack:
            stack.remove(infobar)
        elif stack:
            stack.pop()

    @staticmethod
    def reset():
        """Test helper: forget all trackers (between tests)."""
        ServiceEventTracker.InfoBarStack[:] = []
        ServiceEventTracker.EventMap.clear()
        ServiceEventTracker.navcore = None

    def __init__(self, screen, eventmap):
        self.__screen = screen
        self.__eventmap = eventmap
        self.__passall = not isinstance(screen, InfoBarBase)
        nav = screen.session.nav
        if ServiceEventTracker.navcore is not nav:
            nav.event.append(ServiceEventTracker.event)
            ServiceEventTracker.navcore = nav
        for evt, func in eventmap.items():
            ServiceEventTracker.EventMap.setdefault(evt, []).append((self.__passall, screen, func))
        screen.onClose.append(self.__del_event)

    def __del_event(self):
        for evt, func in self.__eventmap.items():
            ServiceEventTracker.EventMap.setdefault(evt, []).remove(
                (self.__passall, self.__screen, func))
