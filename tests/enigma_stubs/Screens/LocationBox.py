"""Stand-in for Screens.LocationBox: closes with the chosen folder or None."""

from Screens.Screen import Screen


class LocationBox(Screen):
    def __init__(self, session, text="", filename="", currDir=None, bookmarks=None, userMode=False,
                 windowTitle=None, minFree=None, autoAdd=False, editDir=False, inhibitDirs=None,
                 inhibitMounts=None):
        Screen.__init__(self, session)
        self.text = text
        self.currDir = currDir
        self.minFree = minFree
