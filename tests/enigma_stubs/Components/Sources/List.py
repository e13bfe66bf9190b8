"""Stand-in for Components.Sources.List (the source behind a TemplatedMultiContent listbox)."""


class List:
    def __init__(self, list=None, enableWrapAround=False, item_height=25, fonts=None):  # noqa: A002
        self._list = list or []
        self._index = 0
        self.onSelectionChanged = []

    def setList(self, value):
        self._list = value
        if self._index >= len(value):
            self._index = max(0, len(value) - 1)

    def getList(self):
        return self._list

    list = property(getList, setList)

    def updateList(self, value):
        self.setList(value)

    def getCurrent(self):
        return self._list[self._index] if 0 <= self._index < len(self._list) else None

    current = property(getCurrent)

    def getIndex(self):
        return self._index

    def setIndex(self, index):
        self._index = index
        for func in self.onSelectionChanged:
            func()

    index = property(getIndex, setIndex)

    def count(self):
        return len(self._list)
