"""The settings screen (config.plugins.streamrecorder)."""

from typing import Any, Optional

from Components.ActionMap import ActionMap
from Components.config import ConfigDirectory, ConfigText, getConfigListEntry
from Components.ConfigList import ConfigListScreen
from Components.Label import Label
from Components.Sources.StaticText import StaticText
from Screens.LocationBox import LocationBox
from Screens.MessageBox import MessageBox
from Screens.Screen import Screen
from Screens.VirtualKeyBoard import VirtualKeyBoard
from twisted.internet import threads

from . import _, compat, skins, storage, texts
from .config import settings


class StreamRecorderSettings(ConfigListScreen, Screen):
    """Folders, buffering, quality, audio language, exit behaviour, HTTP and TLS options."""

    def __init__(self, session: Any) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderSettings")
        self.setTitle(_("Stream Recorder settings"))
        s = settings
        ConfigListScreen.__init__(self, [
            getConfigListEntry(_("Recording folder"), s.rec_dir,
                               _("Where recordings are written while you watch. Use a hard disk "
                                 "or USB stick, never /tmp (the receiver's memory).")),
            getConfigListEntry(_("Movie folder for kept recordings"), s.movie_dir,
                               _("Kept recordings are moved here and appear in the movie list.")),
            getConfigListEntry(_("Buffering (segments before playback)"), s.buffering,
                               _("More segments: a later start, fewer interruptions.")),
            getConfigListEntry(_("Parallel downloads"), s.parallel,
                               _("How many segments are fetched at the same time.")),
            getConfigListEntry(_("Maximum resolution"), s.quality,
                               _("The best stream up to this height is recorded.")),
            getConfigListEntry(_("Preferred audio language"), s.audio_language,
                               _("Used when a stream offers several audio languages.")),
            getConfigListEntry(_("Allow transcoding"), s.allow_transcode,
                               _("Convert formats the receiver cannot play (needs ffmpeg and a "
                                 "fast receiver).")),
            getConfigListEntry(_("On exit"), s.on_exit,
                               _("What happens to the recording when you leave the player.")),
            getConfigListEntry(_("Check TLS certificates"), s.verify_tls,
                               _("Switch off only for servers you trust that have a broken "
                                 "certificate.")),
            getConfigListEntry(_("HTTP user agent"), s.user_agent,
                               _("Sent to servers when the stream's source names none.")),
        ], session=session)
        self["description"] = Label("")
        self["key_red"] = StaticText(_("Cancel"))
        self["key_green"] = StaticText(_("Save"))
        self["actions"] = ActionMap(["SetupActions", "ColorActions"], {
            "ok": self.keyOK, "save": self.keySave, "cancel": self.keyCancel,
            "red": self.keyCancel, "green": self.keySave,
        }, -2)
        compat.track_open(self)
        self["config"].onSelectionChanged.append(self._describe)
        self.onLayoutFinish.append(self._describe)
        self.onLayoutFinish.append(self._suggest_folder)

    def _describe(self) -> None:
        current = self["config"].getCurrent()
        self["description"].setText(current[2] if current is not None and len(current) > 2 else "")

    def _suggest_folder(self) -> None:
        """No folder set yet: look for storage on a worker thread and propose it."""
        if not settings.rec_dir.value:
            threads.deferToThread(storage.find_default).addCallback(self._suggested)

    def _suggested(self, path: Optional[str]) -> None:
        if not compat.is_open(self):
            return
        if path and not settings.rec_dir.value:
            settings.rec_dir.value = path
            self["config"].invalidateCurrent()
        elif not path and not settings.rec_dir.value:
            self["description"].setText(texts.storage_text("none"))

    def keyOK(self) -> None:
        current = self["config"].getCurrent()
        if current is None:
            return
        element = current[1]
        if isinstance(element, ConfigDirectory):
            self.session.openWithCallback(lambda path: self._folder_chosen(element, path),
                                          LocationBox, text=current[0],
                                          currDir=element.value or "/media/",
                                          minFree=storage.MIN_FREE_BYTES >> 20)
        elif isinstance(element, ConfigText):
            self.session.openWithCallback(lambda text: self._typed(element, text),
                                          VirtualKeyBoard, title=current[0], text=element.value)
        else:
            self.keyRight()

    def _folder_chosen(self, element: Any, path: Optional[str]) -> None:
        if not path:
            return
        threads.deferToThread(storage.is_ram, path).addCallback(
            lambda ram: self._folder_checked(element, path, ram))

    def _folder_checked(self, element: Any, path: str, ram: bool) -> None:
        if not compat.is_open(self):
            return
        if ram:
            self.session.open(MessageBox, texts.storage_text("ram", path), MessageBox.TYPE_ERROR)
            return
        element.value = path
        self["config"].invalidateCurrent()

    def _typed(self, element: Any, text: Optional[str]) -> None:
        if text is not None:
            element.value = text.strip()
            self["config"].invalidateCurrent()

    def keySave(self) -> None:
        self.saveAll()
        self.close()

    def keyCancel(self) -> None:
        for item in self["config"].list:
            item[1].cancel()
        self.close()
