"""The main screen (saved streams, status) and the stream editor."""

from typing import Any, Dict, Optional

from Components.ActionMap import ActionMap
from Components.config import ConfigSelection, ConfigText, getConfigListEntry
from Components.ConfigList import ConfigListScreen
from Components.Label import Label
from Components.ProgressBar import ProgressBar
from Components.Sources.List import List
from Components.Sources.StaticText import StaticText
from Screens.MessageBox import MessageBox
from Screens.Screen import Screen
from Screens.VirtualKeyBoard import VirtualKeyBoard
from twisted.python.failure import Failure

from . import _, compat, skins, texts
from .config import streams_file
from .controller import get_controller
from .streams import StreamStore, valid_url
from .textentry import TextEntry


def recorder_choices() -> list:
    return [("auto", _("automatic")), ("mp4", "MP4"), ("hls_basic", "HLS"),
            ("hls_live", _("HLS live")), ("hls_m4s", "HLS fMP4")]


class StreamRecorderMain(Screen):
    """Saved streams: OK records and plays, green adds, yellow edits, red deletes, blue stops."""

    def __init__(self, session: Any) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderMain")
        self.setTitle(_("Stream Recorder"))
        self.controller = get_controller()
        self.store = StreamStore(streams_file())
        self._new_name = ""
        self.loading: Any = None  # the Deferred of the list being read (tests wait on it)
        self.leftover_check: Any = None  # the Deferred of the left-over search (tests wait on it)
        self["streams"] = List([])
        self["status"] = Label("")
        self["progress"] = ProgressBar()
        self["key_red"] = StaticText(_("Delete"))
        self["key_green"] = StaticText(_("Add"))
        self["key_yellow"] = StaticText(_("Edit"))
        self["key_blue"] = StaticText(_("Stop"))
        self["key_menu"] = StaticText(_("Settings"))
        self["key_tv"] = StaticText(_("TV: channels and lists"))
        self["actions"] = ActionMap(["OkCancelActions", "ColorActions", "MenuActions"], {
            "ok": self.keyOK, "cancel": self.close, "red": self.keyDelete, "green": self.keyAdd,
            "yellow": self.keyEdit, "blue": self.keyStop, "menu": self.keySettings,
        }, -1)
        # TV opens the channel list in enigma2: here, the stream channels and lists.
        self["sources_actions"] = ActionMap(["TvRadioActions"], {"keyTV": self.keyChannels}, -1)
        # The remote's TIMER (PROGRAM) key opens enigma2's timer list; EPG, where it is missing.
        self["key_timer"] = StaticText(_("TIMER or EPG: timers"))
        self["timer_actions"] = ActionMap(["InfobarTimerButtonActions", "ChannelSelectEPGActions"],
                                          {"timerSelection": self.keyTimers,
                                           "epg": self.keyTimers}, -1)
        self.controller.add_listener(self._controller_changed)
        compat.track_open(self)
        self.onClose.append(self._closed)
        self.onLayoutFinish.append(self._load)
        self.onLayoutFinish.append(self._check_leftovers)
        self._show_status()

    # --- list -----------------------------------------------------------------------------
    def _load(self) -> None:
        self.loading = self.store.load().addCallbacks(lambda _streams: self._fill(),
                                                      self._store_failed)

    def _check_leftovers(self) -> None:
        """A recording whose end the GUI never saw (restart, crash) is offered once we are up."""
        self.leftover_check = self.controller.offer_leftovers(self.session, self)

    def _fill(self, select: Optional[int] = None) -> None:
        if not compat.is_open(self):
            return
        self["streams"].setList([(s["name"], s["url"]) for s in self.store.streams])
        if select is not None and 0 <= select < len(self.store.streams):
            self["streams"].setIndex(select)

    def _selected(self) -> Optional[int]:
        index = self["streams"].getIndex()
        return index if 0 <= index < len(self.store.streams) else None

    def _save(self, select: Optional[int] = None) -> None:
        self._fill(select)
        self.store.save().addErrback(self._store_failed)

    def _store_failed(self, failure: Failure) -> None:
        if not compat.is_open(self):
            return
        reason = getattr(failure.value, "strerror", None) or failure.getErrorMessage()
        self.session.open(MessageBox, _("The stream list could not be read or saved: %s") % reason,
                          MessageBox.TYPE_ERROR)

    # --- keys -----------------------------------------------------------------------------
    def keyOK(self) -> None:
        index = self._selected()
        if index is None:
            return
        stream = self.store.streams[index]
        self.controller.record_and_play(self.session, {
            "resolved_url": stream["url"], "original_url": stream["url"],
            "recorder_id": stream.get("recorder") or "auto", "title": stream["name"],
        })

    def keyAdd(self) -> None:
        self.session.openWithCallback(self._add_name, VirtualKeyBoard,
                                      title=_("Name of the stream"), text="")

    def _add_name(self, name: Optional[str]) -> None:
        if not name or not name.strip():
            return
        self._new_name = name.strip()
        self.session.openWithCallback(self._add_url, VirtualKeyBoard,
                                      title=_("Address (URL) of %s") % self._new_name,
                                      text="https://")

    def _add_url(self, url: Optional[str]) -> None:
        if url is None:
            return
        if not valid_url(url):
            self._bad_url(url)
            return
        self._save(self.store.add(self._new_name, url.strip()))

    def _bad_url(self, url: str) -> None:
        self.session.open(MessageBox, _("%s is not a web address (http:// or https://).") % url,
                          MessageBox.TYPE_ERROR)

    def keyEdit(self) -> None:
        index = self._selected()
        if index is None:
            return
        self.session.openWithCallback(lambda result: self._edited(index, result),
                                      StreamEditScreen, dict(self.store.streams[index]))

    def _edited(self, index: int, result: Optional[Dict[str, str]]) -> None:
        if result and index < len(self.store.streams):
            self.store.update(index, result["name"], result["url"], result["recorder"])
            self._save(index)

    def keyDelete(self) -> None:
        index = self._selected()
        if index is None:
            return
        self.session.openWithCallback(lambda yes: self._delete(index, yes), MessageBox,
                                      _("Delete %s from the list?") % self.store.streams[index]["name"],
                                      MessageBox.TYPE_YESNO, default=False)

    def _delete(self, index: int, confirmed: Any) -> None:
        if confirmed and index < len(self.store.streams):
            self.store.remove(index)
            self._save(min(index, len(self.store.streams) - 1))

    def keyStop(self) -> None:
        if not self.controller.stop_recording(self.session):
            self["status"].setText(_("No recording is running."))

    def keyChannels(self) -> None:
        from .source_screens import StreamSourcesScreen
        self.session.open(StreamSourcesScreen)

    def keyTimers(self) -> None:
        from .timer_screens import StreamTimerList
        self.session.open(StreamTimerList)

    def keySettings(self) -> None:
        self.controller.open_settings(self.session)

    # --- status -----------------------------------------------------------------------------
    def _controller_changed(self, message: Optional[list]) -> None:
        self._show_status()

    def _show_status(self) -> None:
        status = self.controller.status()
        self["status"].setText(texts.status_lines(status))
        self["progress"].setValue(texts.percent_of(status))

    def _closed(self) -> None:
        self.controller.remove_listener(self._controller_changed)


class StreamEditScreen(TextEntry, ConfigListScreen, Screen):
    """Name, URL and recorder of one saved stream; closes with the edited dict or None."""

    def __init__(self, session: Any, stream: Dict[str, str]) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderEdit")
        self.setTitle(_("Edit stream"))
        self.name = ConfigText(default=stream.get("name", ""), fixed_size=False)
        self.url = ConfigText(default=stream.get("url", ""), fixed_size=False)
        self.recorder = ConfigSelection(choices=recorder_choices(),
                                        default=stream.get("recorder") or "auto")
        ConfigListScreen.__init__(self, [
            getConfigListEntry(_("Name"), self.name),
            getConfigListEntry(_("Address (URL)"), self.url),
            getConfigListEntry(_("Recorder"), self.recorder),
        ], session=session)
        self["key_red"] = StaticText(_("Cancel"))
        self["key_green"] = StaticText(_("Save"))
        self["actions"] = ActionMap(["SetupActions", "ColorActions"], {
            "ok": self.keyOK, "save": self.keySave, "cancel": self.keyCancel,
            "red": self.keyCancel, "green": self.keySave,
        }, -2)

    def keySave(self) -> None:
        if not valid_url(self.url.value):
            self.session.open(MessageBox, _("%s is not a web address (http:// or https://).")
                              % self.url.value, MessageBox.TYPE_ERROR)
            return
        self.close({"name": self.name.value.strip() or self.url.value.strip(),
                    "url": self.url.value.strip(), "recorder": self.recorder.value})

    def keyCancel(self) -> None:
        self.close(None)
