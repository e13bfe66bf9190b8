"""Stand-in for Screens.VirtualKeyBoard: closes with the text or None."""

from Screens.Screen import Screen


class VirtualKeyBoard(Screen):
    def __init__(self, session, title="", text="", maxSize=False, visible_width=False, type=0,  # noqa: A002
                 currPos=None, allMarked=False, style=None):
        Screen.__init__(self, session)
        self.text = title
        self.value = text
