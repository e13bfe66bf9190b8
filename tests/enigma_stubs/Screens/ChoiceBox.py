"""Stand-in for Screens.ChoiceBox: closes with the chosen list entry (a tuple) or None."""

from Screens.Screen import Screen


class ChoiceBox(Screen):
    def __init__(self, session, title="", list=None, keys=None, selection=0, skin_name=None,  # noqa: A002
                 reorderConfig="", windowTitle=None):
        Screen.__init__(self, session)
        self.text = title
        self.list = list or []
        self.keys = keys
        self.selection = selection

    def choose(self, value):
        """Test helper: close with the entry whose value (second item) is `value`."""
        for entry in self.list:
            if entry[1] == value:
                self.close(entry)
                return
        raise KeyError(value)
