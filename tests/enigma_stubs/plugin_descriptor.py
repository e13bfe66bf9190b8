"""Stand-in for `Plugins.Plugin` (OpenPLi's PluginDescriptor); registered under that name by the harness."""

from Components.config import ConfigSubsection, config

config.plugins = ConfigSubsection()


class PluginDescriptor:
    WHERE_EXTENSIONSMENU = 0
    WHERE_MAINMENU = 1
    WHERE_PLUGINMENU = 2
    WHERE_MOVIELIST = 3
    WHERE_MENU = 4
    WHERE_AUTOSTART = 5
    WHERE_WIZARD = 6
    WHERE_SESSIONSTART = 7
    WHERE_TELETEXT = 8
    WHERE_FILESCAN = 9
    WHERE_NETWORKSETUP = 10
    WHERE_EVENTINFO = 11
    WHERE_NETWORKCONFIG_READ = 12
    WHERE_AUDIOMENU = 13
    WHERE_SOFTWAREMANAGER = 14
    WHERE_CHANNEL_CONTEXT_MENU = 15

    def __init__(self, name="Plugin", where=None, description="", icon=None, fnc=None, wakeupfnc=None,
                 needsRestart=None, internal=False, weight=0):
        self.name = name
        self.internal = internal
        self.needsRestart = needsRestart
        self.path = None
        if where is None:
            where = []
        self.where = where if isinstance(where, list) else [where]
        self.description = description
        self.iconstr = icon if icon is None or isinstance(icon, str) else None
        self._icon = None if self.iconstr is not None or icon is None else icon
        self.weight = weight
        self.wakeupfnc = wakeupfnc
        self.fnc = fnc

    def __call__(self, *args, **kwargs):
        return self.fnc(*args, **kwargs)

    def updateIcon(self, path):
        self.path = path
