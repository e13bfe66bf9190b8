"""Stand-in for Components.config with OpenPLi's constructor signatures and save semantics."""

KEY_LEFT = 0
KEY_RIGHT = 1
KEY_OK = 2
ACTIONKEY_LEFT = KEY_LEFT
ACTIONKEY_RIGHT = KEY_RIGHT
ACTIONKEY_SELECT = KEY_OK


class ConfigElement:
    def __init__(self):
        self.saved_value = None
        self.save_forced = False
        self.save_disabled = False
        self.enabled = True
        self.notifiers = []
        self._value = None
        self.default = None
        self.last_value = None

    def getValue(self):
        return self._value

    def setValue(self, value):
        old = self._value
        self._value = value
        if old != value:
            for notifier in list(self.notifiers):
                notifier(self)

    value = property(getValue, setValue)

    def tostring(self, value):
        return str(value)

    def fromstring(self, text):
        return text

    def save(self):
        """A value equal to its default is not stored (enigma2 semantics)."""
        if self.save_disabled or (self.value == self.default and not self.save_forced):
            self.saved_value = None
        else:
            self.saved_value = self.tostring(self.value)

    def load(self):
        self.value = self.default if self.saved_value is None else self.fromstring(self.saved_value)

    def cancel(self):
        self.load()

    def isChanged(self):
        stored = self.default if self.saved_value is None else self.fromstring(self.saved_value)
        return self.value != stored

    def addNotifier(self, notifier, initial_call=True, immediate_feedback=True):
        self.notifiers.append(notifier)
        if initial_call:
            notifier(self)

    def removeNotifier(self, notifier):
        if notifier in self.notifiers:
            self.notifiers.remove(notifier)

    def handleKey(self, key, callback=None):
        pass

    def getText(self):
        return self.tostring(self.value)

    def onSelect(self, session):
        pass

    def onDeselect(self, session):
        pass


class ConfigText(ConfigElement):
    def __init__(self, default="", fixed_size=True, visible_width=False):
        ConfigElement.__init__(self)
        self.fixed_size = fixed_size
        self.visible_width = visible_width
        self.text = default
        self.default = self.last_value = default

    def getValue(self):
        return self.text

    def setValue(self, value):
        old = self.text
        self.text = "" if value is None else str(value)
        if old != self.text:
            for notifier in list(self.notifiers):
                notifier(self)

    value = property(getValue, setValue)


class ConfigDirectory(ConfigText):
    def __init__(self, default="", visible_width=60):
        ConfigText.__init__(self, default, fixed_size=True, visible_width=visible_width)

    def getValue(self):
        return None if self.text == "" else self.text

    def setValue(self, value):
        ConfigText.setValue(self, "" if value is None else value)

    value = property(getValue, setValue)


class ConfigInteger(ConfigElement):
    def __init__(self, default, limits=(0, 9999)):
        ConfigElement.__init__(self)
        self.limits = [limits]
        self.default = self.last_value = default
        self._value = default

    def setValue(self, value):
        low, high = self.limits[0]
        ConfigElement.setValue(self, max(low, min(high, int(value))))

    value = property(ConfigElement.getValue, setValue)

    def fromstring(self, text):
        return int(text)

    def handleKey(self, key, callback=None):
        if key == KEY_LEFT:
            self.value = self.value - 1
        elif key == KEY_RIGHT:
            self.value = self.value + 1


class ConfigSelection(ConfigElement):
    def __init__(self, choices, default=None, graphic=True):
        ConfigElement.__init__(self)
        self.choices = [c[0] if isinstance(c, tuple) else c for c in choices]
        self.description = [c[1] if isinstance(c, tuple) else c for c in choices]
        if default is None:
            default = self.choices[0]
        assert default in self.choices, "default %r not in choices" % (default,)
        self.default = self.last_value = default
        self._value = default

    def setValue(self, value):
        if value not in self.choices:
            value = self.default
        ConfigElement.setValue(self, value)

    value = property(ConfigElement.getValue, setValue)

    def getIndex(self):
        return self.choices.index(self.value)

    index = property(getIndex)

    def getText(self):
        return self.description[self.getIndex()]

    def handleKey(self, key, callback=None):
        step = -1 if key == KEY_LEFT else 1 if key in (KEY_RIGHT, KEY_OK) else 0
        self.value = self.choices[(self.getIndex() + step) % len(self.choices)]


class ConfigBoolean(ConfigElement):
    def __init__(self, default=False, descriptions=None, graphic=True):
        ConfigElement.__init__(self)
        self.descriptions = descriptions or {False: "false", True: "true"}
        self.default = self.last_value = bool(default)
        self._value = bool(default)

    def tostring(self, value):
        return "true" if value else "false"

    def fromstring(self, text):
        return text.lower() in ("1", "true", "yes", "enable", "on")

    def getText(self):
        return self.descriptions[bool(self.value)]

    def handleKey(self, key, callback=None):
        if key in (KEY_LEFT, KEY_RIGHT, KEY_OK):
            self.value = not self.value


class ConfigYesNo(ConfigBoolean):
    def __init__(self, default=False, graphic=True):
        ConfigBoolean.__init__(self, default=default, descriptions={False: "no", True: "yes"},
                               graphic=graphic)


class ConfigNothing(ConfigSelection):
    def __init__(self):
        ConfigSelection.__init__(self, choices=[("", "")])


class ConfigSubsection:
    """Holds config elements and subsections as attributes."""

    def __init__(self):
        object.__setattr__(self, "content", {})

    def __setattr__(self, name, value):
        self.content[name] = value
        object.__setattr__(self, name, value)

    def save(self):
        for item in self.content.values():
            item.save()

    def load(self):
        for item in self.content.values():
            item.load()

    def dict(self):
        return self.content


config = ConfigSubsection()


class _ConfigFile:
    def __init__(self):
        self.saves = 0

    def save(self):
        self.saves += 1

    def load(self):
        pass


configfile = _ConfigFile()


def getConfigListEntry(*args):
    return args
