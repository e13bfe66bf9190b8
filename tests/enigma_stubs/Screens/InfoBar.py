"""Stand-in for Screens.InfoBar.MoviePlayer with the InfoBarSeek parts the plugin relies on."""

from Components.ActionMap import HelpableActionMap
from Components.ServiceEventTracker import InfoBarBase, ServiceEventTracker
from enigma import iPlayableService
from Screens.Screen import Screen


class MoviePlayer(InfoBarBase, Screen):
    ENABLE_RESUME_SUPPORT = True
    ALLOW_SUSPEND = True
    SEEK_STATE_PLAY = (0, 0, 0, ">")
    SEEK_STATE_PAUSE = (1, 0, 0, "||")
    SEEK_STATE_EOF = (1, 0, 0, "END")

    def __init__(self, session, service, slist=None, lastservice=None, infobar=None):
        Screen.__init__(self, session)
        self["actions"] = HelpableActionMap(self, "MoviePlayerActions", {
            "leavePlayer": (self.leavePlayer, "leave movie player..."),
            "leavePlayerOnExit": (self.leavePlayerOnExit, "leave movie player..."),
        })
        InfoBarBase.__init__(self)
        self.seekstate = self.SEEK_STATE_PLAY
        self.__tracker = ServiceEventTracker(screen=self, eventmap={
            iPlayableService.evEOF: self.__evEOF,
        })
        self.servicelist = slist
        self.infobar = infobar
        self.lastservice = lastservice or session.nav.getCurrentlyPlayingServiceOrGroup()
        session.nav.playService(service)
        self.cur_service = service
        self.returning = False
        self.onClose.append(self.__onClose)

    def __onClose(self):
        self.session.nav.playService(self.lastservice)

    def __evEOF(self):
        # InfoBarSeek: an EOF while playing is a regular end; the state becomes EOF.
        if self.seekstate == self.SEEK_STATE_EOF:
            return
        playing = self.seekstate == self.SEEK_STATE_PLAY
        if self.seekstate != self.SEEK_STATE_PAUSE:
            self.setSeekState(self.SEEK_STATE_EOF)
        self.doEofInternal(playing)

    def getSeek(self):
        service = self.session.nav.getCurrentService()
        return service and service.seek()

    def setSeekState(self, state):
        # As InfoBarSeek: a state with its first field set (PAUSE, EOF) pauses the service.
        service = self.session.nav.getCurrentService()
        if service is None:
            return False
        pauseable = service.pause()
        self.seekstate = state
        if pauseable is not None:
            if state[0]:
                pauseable.pause()
            else:
                pauseable.unpause()
        return True

    def pauseService(self):
        # InfoBarSeek.pauseService (Standby pauses a playing file this way).
        self.setSeekState(self.SEEK_STATE_PAUSE)

    def unPauseService(self):
        self.setSeekState(self.SEEK_STATE_PLAY)

    def handleLeave(self, how):
        if how == "quit":
            self.close()

    def leavePlayer(self):
        self.handleLeave("quit")

    def leavePlayerOnExit(self):
        if self.shown:
            self.hide()
        else:
            self.leavePlayer()

    def leavePlayerConfirmed(self, answer):
        if answer and answer[1] == "quit":
            self.close()

    def doEofInternal(self, playing):
        if not self.execing:
            return
        if not playing:
            return
        self.handleLeave("quit")
