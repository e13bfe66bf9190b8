"""Stand-in for Components.ProgressBar."""

from Components.GUIComponent import GUIComponent


class ProgressBar(GUIComponent):
    def __init__(self):
        GUIComponent.__init__(self)
        self.value = 0
        self.range = (0, 100)

    def setValue(self, value):
        self.value = value

    def getValue(self):
        return self.value

    def setRange(self, value):
        self.range = value
