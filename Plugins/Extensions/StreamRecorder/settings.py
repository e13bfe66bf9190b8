"""The settings screen (config.plugins.streamrecorder)."""

from typing import Any, Optional

from Components.ActionMap import ActionMap
from Components.config import ConfigDirectory, configfile, getConfigListEntry
from Components.ConfigList import ConfigListScreen
from Components.Label import Label
from Components.Sources.StaticText import StaticText
from Screens.LocationBox import LocationBox
from Screens.MessageBox import MessageBox
from Screens.Screen import Screen
from twisted.internet import threads

from . import _, compat, skins, storage, texts
from . import config as cfg
from .config import settings
from .textentry import TextEntry


class StreamRecorderSettings(TextEntry, ConfigListScreen, Screen):
    """Folders, buffering, quality, audio language, exit behaviour, HTTP and TLS options."""

    def __init__(self, session: Any) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderSettings")
        self.setTitle(_("Stream Recorder settings"))
        ConfigListScreen.__init__(self, self._entries(), session=session,
                                  on_change=self._changed)
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

    def _entries(self) -> list:
        """The visible settings; the control socket's details only when it is enabled."""
        s = settings
        entries = [
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
            getConfigListEntry(_("Keep the live channel playing"), s.keep_live,
                               _("When you record the online channel you are watching, it is "
                                 "stopped (many accounts allow one connection) unless this is "
                                 "on.")),
            getConfigListEntry(_("Check TLS certificates"), s.verify_tls,
                               _("Switch off only for servers you trust that have a broken "
                                 "certificate.")),
            getConfigListEntry(_("HTTP user agent"), s.user_agent,
                               _("Sent to servers when the stream's source names none.")),
            getConfigListEntry(_("Timer margin before the event (minutes)"), s.margin_before,
                               _("A timer made from the EPG starts this much earlier.")),
            getConfigListEntry(_("Timer margin after the event (minutes)"), s.margin_after,
                               _("A timer made from the EPG ends this much later.")),
            getConfigListEntry(_("Keep free on the device (MB)"), s.reserve_mb,
                               _("The recording stops before the recording disk has less free "
                                 "space than this.")),
            getConfigListEntry(_("Control socket for other programs"), s.control_enabled,
                               _("Lets other programs on this receiver start and stop recordings "
                                 "(only local connections, with the token below).")),
        ]
        if s.control_enabled.value:
            entries.append(getConfigListEntry(_("Control socket type"), s.control_kind,
                                              _("A TCP port on 127.0.0.1 or a unix socket file.")))
            if s.control_kind.value == "unix":
                entries.append(getConfigListEntry(_("Control socket file"), s.control_path,
                                                  _("Path of the unix socket, e.g. "
                                                    "/tmp/streamrecorder.sock.")))
            else:
                entries.append(getConfigListEntry(_("Control socket port"), s.control_port,
                                                  _("TCP port on 127.0.0.1.")))
            entries.append(getConfigListEntry(_("Control socket token"), s.control_token,
                                              _("Give this token to the program that controls "
                                                "the recorder. Change it to lock out programs "
                                                "that know the old one.")))
        return entries

    def _changed(self) -> None:
        """Show or hide the control socket's details; a token appears once it is enabled."""
        s = settings
        if s.control_enabled.value and len(s.control_token.value.strip()) < cfg.MIN_TOKEN_LENGTH:
            s.control_token.value = cfg.new_token()
        entries = self._entries()
        if [e[1] for e in entries] != [e[1] for e in self["config"].list]:
            self["config"].list = entries
        self._describe()

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
        else:
            TextEntry.keyOK(self)

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

    def keySave(self) -> None:
        s = settings
        if s.control_enabled.value and len(s.control_token.value.strip()) < cfg.MIN_TOKEN_LENGTH:
            self.session.open(MessageBox, _("The control socket token needs at least %d "
                                            "characters.") % cfg.MIN_TOKEN_LENGTH,
                              MessageBox.TYPE_ERROR)
            return
        for element in self._elements():  # hidden ones too (e.g. a port set, then disabled)
            element.save()
        configfile.save()
        self.close(True)  # the opener applies them (Controller.open_settings)

    def keyCancel(self) -> None:
        for element in self._elements():
            element.cancel()
        self.close(False)

    @staticmethod
    def _elements() -> list:
        return list(settings.dict().values())
