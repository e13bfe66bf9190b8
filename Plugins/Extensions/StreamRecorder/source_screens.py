"""Channels and lists: the stream channels of the bouquets, m3u lists and saved streams, by group;
OK on a channel records and plays it through the controller, as a saved stream does."""

from typing import Any, List, Optional

from Components.ActionMap import ActionMap
from Components.Label import Label
from Components.Sources.List import List as ListSource
from Components.Sources.StaticText import StaticText
from Screens.Screen import Screen
from Tools.Directories import SCOPE_CONFIG, resolveFilename
from twisted.python.failure import Failure

from . import _, compat, ngettext, skins
from .config import streams_file
from .controller import get_controller
from .sources import Channel, Group, host_of, load_sources


def where_lists_are() -> str:
    return _("Stream channels of your TV bouquets, m3u lists in %s and in /media/<device>/ "
             "(also its streams and iptv folders), and your saved streams.") % config_dir()


def config_dir() -> str:
    return resolveFilename(SCOPE_CONFIG)


class StreamSourcesScreen(Screen):
    """Groups first; OK opens a group, OK on a channel records and plays it, EXIT goes back."""

    def __init__(self, session: Any) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderSources")
        self.setTitle(_("Channels and lists"))
        self.controller = get_controller()
        self.groups: List[Group] = []
        self.group: Optional[Group] = None  # the open group, None while the groups are shown
        self._group_index = 0
        self.loading: Any = None  # the Deferred of the lists being read (tests wait on it)
        self["list"] = ListSource([])
        self["heading"] = Label("")
        self["status"] = Label(_("Reading the channel lists..."))
        self["key_red"] = StaticText(_("Back"))
        self["hint"] = StaticText("")
        self["actions"] = ActionMap(["OkCancelActions", "ColorActions"], {
            "ok": self.keyOK, "cancel": self.keyBack, "red": self.keyBack,
        }, -1)
        compat.track_open(self)
        self.onLayoutFinish.append(self._load)

    def _load(self) -> None:
        self.loading = load_sources(config_dir(), streams_file(), _("Saved streams"))
        self.loading.addCallbacks(self._loaded, self._failed)

    def _loaded(self, groups: List[Group]) -> None:
        if not compat.is_open(self):
            return
        self.groups = groups
        # Where lists are looked for is said when none was found (the README says it too).
        self["status"].setText("" if groups else
                               _("No stream channels found.") + "\n" + where_lists_are())
        self._show_groups()

    def _failed(self, failure: Failure) -> None:
        if compat.is_open(self):
            self["status"].setText(_("The channel lists could not be read: %s")
                                   % failure.getErrorMessage())

    # --- the two levels --------------------------------------------------------------------------
    def _show_groups(self) -> None:
        self.group = None
        self["heading"].setText(_("Choose a bouquet or list"))
        self["hint"].setText(_("OK: open"))
        self["list"].setList([(g.name, ngettext("%d channel", "%d channels", len(g.channels))
                               % len(g.channels) + "  (%s)" % g.source) for g in self.groups])
        if self.groups:
            self["list"].setIndex(min(self._group_index, len(self.groups) - 1))

    def _show_channels(self, group: Group) -> None:
        self.group = group
        self["heading"].setText(group.name)
        self["hint"].setText(_("OK: record and watch"))
        self["list"].setList([(c.name, host_of(c.url)) for c in group.channels])
        self["list"].setIndex(0)

    def _selected(self, items: list) -> Optional[Any]:
        index = self["list"].getIndex()
        return items[index] if items and 0 <= index < len(items) else None

    # --- keys ---------------------------------------------------------------------------------
    def keyOK(self) -> None:
        if self.group is None:
            group = self._selected(self.groups)
            if group is not None:
                self._group_index = self["list"].getIndex()
                self._show_channels(group)
            return
        channel = self._selected(self.group.channels)
        if channel is not None:
            self.record(channel)

    def record(self, channel: Channel) -> None:
        """The controller's own path: the same as OK on a saved stream."""
        self.controller.record_and_play(self.session, {
            "resolved_url": channel.url, "original_url": channel.url, "title": channel.name,
        })

    def keyBack(self) -> None:
        if self.group is not None:
            self._show_groups()
        else:
            self.close()

