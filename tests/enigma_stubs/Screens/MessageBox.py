"""Stand-in for Screens.MessageBox (OpenPLi signature); tests answer with screen.close(value)."""

from Screens.Screen import Screen


class MessageBox(Screen):
    TYPE_YESNO = 0
    TYPE_INFO = 1
    TYPE_WARNING = 2
    TYPE_ERROR = 3
    TYPE_MESSAGE = 4

    def __init__(self, session, text, type=TYPE_YESNO, timeout=-1, close_on_any_key=False,  # noqa: A002
                 default=True, enable_input=True, msgBoxID=None, picon=None, simple=False,
                 list=None, timeout_default=None, title=None):  # noqa: A002
        Screen.__init__(self, session)
        self.text = text
        self.type = type
        self.timeout = timeout
        self.default = default
        self.list = list or ([("yes", True), ("no", False)] if type == self.TYPE_YESNO else [])
