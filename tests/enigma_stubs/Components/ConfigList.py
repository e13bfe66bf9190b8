"""Stand-in for Components.ConfigList: ConfigList and ConfigListScreen (OpenPLi signatures)."""

from Components.ActionMap import ActionMap
from Components.config import KEY_LEFT, KEY_OK, KEY_RIGHT, configfile


class ConfigList:
    def __init__(self, list, session=None):  # noqa: A002 - enigma2's signature
        self.session = session
        self.onSelectionChanged = []
        self._list = list
        self._index = 0

    def getCurrent(self):
        return self._list[self._index] if 0 <= self._index < len(self._list) else None

    def getCurrentIndex(self):
        return self._index

    def setCurrentIndex(self, index):
        self._index = index
        for func in self.onSelectionChanged:
            func()

    def invalidateCurrent(self):
        pass

    def getList(self):
        return self._list

    def setList(self, value):
        self._list = value
        if self._index >= len(value):
            self._index = max(0, len(value) - 1)

    list = property(getList, setList)

    def handleKey(self, key, callback=None):
        current = self.getCurrent()
        if current is not None and len(current) > 1:
            current[1].handleKey(key, callback)
            if callback:
                callback()

    def isChanged(self):
        return any(len(item) > 1 and item[1].isChanged() for item in self._list)


class ConfigListScreen:
    def __init__(self, list, session=None, on_change=None, fullUI=False):  # noqa: A002
        self.entryChanged = on_change if on_change is not None else (lambda: None)
        self["config_actions"] = ActionMap(["SetupActions"], {
            "left": self.keyLeft, "right": self.keyRight}, -2)
        self["config"] = ConfigList(list, session=session)
        self.onChangedEntry = []

    def getCurrentEntry(self):
        current = self["config"].getCurrent()
        return current and current[0] or ""

    def getCurrentValue(self):
        current = self["config"].getCurrent()
        return current and len(current) > 1 and str(current[1].getText()) or ""

    def keyLeft(self):
        self["config"].handleKey(KEY_LEFT, self.entryChanged)

    def keyRight(self):
        self["config"].handleKey(KEY_RIGHT, self.entryChanged)

    def keyOK(self):
        self["config"].handleKey(KEY_OK, self.entryChanged)

    def saveAll(self):
        for item in self["config"].list:
            if len(item) > 1:
                item[1].save()
        configfile.save()

    def keySave(self):
        self.saveAll()
        self.close()

    def cancelConfirm(self, result):
        if not result:
            return
        for item in self["config"].list:
            if len(item) > 1:
                item[1].cancel()
        self.close()

    def keyCancel(self):
        self.cancelConfirm(True)
