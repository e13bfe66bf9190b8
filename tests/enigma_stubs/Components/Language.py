"""Stand-in for Components.Language: the GUI language and its change callbacks."""


class Language:
    def __init__(self):
        self.lang = "en_EN"
        self.callbacks = []

    def getLanguage(self):
        return self.lang

    def activateLanguage(self, lang):
        self.lang = lang
        for func in list(self.callbacks):
            func()

    def addCallback(self, func):
        self.callbacks.append(func)


language = Language()
