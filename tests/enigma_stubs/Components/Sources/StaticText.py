"""Stand-in for Components.Sources.StaticText."""


class StaticText:
    def __init__(self, text="", filter=None):  # noqa: A002 - enigma2's signature
        self.text = text

    def setText(self, text):
        self.text = text

    def getText(self):
        return self.text
