"""Stand-in for Components.GUIComponent: visibility only."""


class GUIComponent:
    def __init__(self):
        self.visible = True
        self.instance = None

    def show(self):
        self.visible = True

    def hide(self):
        self.visible = False

    def execBegin(self):
        pass

    def execEnd(self):
        pass
