"""The timer list, the timer editor, and "Record with StreamRecorder" from the EPG."""

import time
from typing import Any, List, Optional, Tuple

from Components.ActionMap import ActionMap
from Components.config import (ConfigClock, ConfigDateTime, ConfigSelection, ConfigSelectionNumber,
                               ConfigText, getConfigListEntry)
from Components.ConfigList import ConfigListScreen
from Components.Label import Label
from Components.Sources.List import List as ListSource
from Components.Sources.StaticText import StaticText
from Screens.MessageBox import MessageBox
from Screens.Screen import Screen
from twisted.internet import defer

from . import _, compat, skins
from .config import settings, streams_file
from .controller import display_name, get_controller
from .streams import valid_url
from .textentry import TextEntry
from .timers import AFTEREVENT, DAILY, StreamTimerEntry, get_timer

CUSTOM = "custom"


def after_event_choices() -> List[Tuple[str, str]]:
    return [(str(AFTEREVENT.AUTO), _("auto")), (str(AFTEREVENT.NONE), _("do nothing")),
            (str(AFTEREVENT.STANDBY), _("go to standby")),
            (str(AFTEREVENT.DEEPSTANDBY), _("go to deep standby"))]


def repeat_text(entry: StreamTimerEntry) -> str:
    if entry.repeated == DAILY:
        return _("daily")
    if entry.repeated:
        return _("weekly")
    return _("once")


def when_text(entry: StreamTimerEntry) -> str:
    """"Mon 15.06. 20:10 - 21:25" (margins included), and how it repeats."""
    begin = time.strftime("%a %d.%m. %H:%M", time.localtime(entry.begin))
    return "%s - %s, %s" % (begin, time.strftime("%H:%M", time.localtime(entry.end)),
                            repeat_text(entry))


def state_text(entry: StreamTimerEntry) -> str:
    if entry.failed:
        return _("failed: %s") % entry.failed
    if entry.disabled:
        return _("disabled")
    return {entry.StateWaiting: _("waiting"), entry.StatePrepared: _("about to start"),
            entry.StateRunning: _("recording"), entry.StateEnded: _("done")}[entry.state]


def conflict_text(other: StreamTimerEntry) -> str:
    return _("This timer overlaps the timer \"%(title)s\" (%(when)s) and is not added: a timer "
             "never stops another timer's recording.") % {"title": other.title,
                                                          "when": when_text(other)}


def running_note() -> str:
    """The note shown when a timer is added while a recording without a timer runs."""
    job = get_controller().running_job()
    if job is None or job.by_timer:
        return ""
    return _("\"%s\" is recording now. If it still records when the timer starts, it is stopped "
             "and kept in the movie folder.") % job.title


def add_timer(session: Any, entry: StreamTimerEntry) -> Any:
    """Add entry once the list is read; a Deferred firing True when added (the user is told
    that, or the conflict that refused it)."""
    return get_timer(session).ready().addCallback(lambda timer: _add(session, timer, entry))


def _add(session: Any, timer: Any, entry: StreamTimerEntry) -> bool:
    other = timer.add(entry)
    if other is not None:
        session.open(MessageBox, conflict_text(other), MessageBox.TYPE_ERROR)
        return False
    text = _("Timer added: %(title)s\n%(when)s") % {"title": entry.title, "when": when_text(entry)}
    note = running_note()
    session.open(MessageBox, text + ("\n\n" + note if note else ""), MessageBox.TYPE_INFO,
                 timeout=10)
    return True


# --- the list --------------------------------------------------------------------------------------
class StreamTimerList(Screen):
    """Every stream timer: green adds, OK/yellow edits, red deletes."""

    def __init__(self, session: Any) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderTimers")
        self.setTitle(_("Stream Recorder timers"))
        self.timer = get_timer(session)
        self.listed: List[StreamTimerEntry] = []
        self["timers"] = ListSource([])
        self["status"] = Label("")
        self["key_red"] = StaticText(_("Delete"))
        self["key_green"] = StaticText(_("Add"))
        self["key_yellow"] = StaticText(_("Edit"))
        self["actions"] = ActionMap(["OkCancelActions", "ColorActions"], {
            "ok": self.keyEdit, "cancel": self.close, "red": self.keyDelete,
            "green": self.keyAdd, "yellow": self.keyEdit}, -1)
        compat.track_open(self)
        self.timer.on_state_change.append(self._timer_changed)
        self.onClose.append(lambda: self.timer.on_state_change.remove(self._timer_changed))
        self.onLayoutFinish.append(self._wait_for_list)

    def _wait_for_list(self) -> None:
        loading = self.timer.loading
        if loading is not None and not loading.called:
            loading.addBoth(lambda result: (self.fill(), result)[1])
        self.fill()

    def _timer_changed(self, entry: Any) -> None:
        self.fill()

    def fill(self) -> None:
        if not compat.is_open(self):
            return
        index = self["timers"].getIndex()
        self.listed = self.timer.entries()
        self["timers"].setList([("%s  (%s)" % (e.title, state_text(e)),
                                 "%s  -  %s" % (when_text(e), e.name)) for e in self.listed])
        if self.listed:
            self["timers"].setIndex(min(max(index, 0), len(self.listed) - 1))
        self["status"].setText("" if self.listed else _(
            "No timers yet. GREEN adds one; \"Record with StreamRecorder\" in the EPG of an "
            "online channel makes one from a programme."))

    def selected(self) -> Optional[StreamTimerEntry]:
        index = self["timers"].getIndex()
        return self.listed[index] if 0 <= index < len(self.listed) else None

    def keyAdd(self) -> None:
        self.session.openWithCallback(self._added, StreamTimerEdit, None)

    def _added(self, entry: Optional[StreamTimerEntry]) -> None:
        if entry is not None:
            add_timer(self.session, entry).addCallback(lambda added: added and self.fill())

    def keyEdit(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        if entry.isRunning():
            self.session.open(MessageBox, _("This timer is recording now. It can be deleted "
                                            "(the recording is kept), not changed."),
                              MessageBox.TYPE_INFO)
            return
        self.session.openWithCallback(lambda new: self._edited(entry, new), StreamTimerEdit, entry)

    def _edited(self, old: StreamTimerEntry, new: Optional[StreamTimerEntry]) -> None:
        if new is None:
            return
        other = self.timer.conflict(new, ignore=old)
        if other is not None:
            self.session.open(MessageBox, conflict_text(other), MessageBox.TYPE_ERROR)
            return
        self.timer.remove(old)
        self.timer.add(new)
        self.fill()

    def keyDelete(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        self.session.openWithCallback(lambda yes: yes and self._delete(entry), MessageBox,
                                      _("Delete the timer %s?") % entry.title,
                                      MessageBox.TYPE_YESNO, default=False)

    def _delete(self, entry: StreamTimerEntry) -> None:
        self.timer.remove(entry)
        self.fill()


# --- the editor --------------------------------------------------------------------------------------
class StreamTimerEdit(TextEntry, ConfigListScreen, Screen):
    """Title, source, day, start, end, repeat, margins, after-event; closes with a new entry."""

    def __init__(self, session: Any, entry: Optional[StreamTimerEntry]) -> None:
        Screen.__init__(self, session)
        self.skin = skins.get("StreamRecorderTimerEdit")
        self.setTitle(_("Edit timer") if entry is not None else _("New timer"))
        self.entry = entry
        mb = entry.margin_before if entry is not None else int(settings.margin_before.value)
        ma = entry.margin_after if entry is not None else int(settings.margin_after.value)
        now = int(time.time())
        begin = entry.begin + mb * 60 if entry is not None else now + 300
        end = entry.end - ma * 60 if entry is not None else begin + 3600
        self.channels: List[Tuple[str, str]] = []  # (url, label)
        if entry is not None:
            self.channels.append((entry.url, entry.name))
        self.title_text = ConfigText(default=entry.title if entry is not None else "",
                                     fixed_size=False)
        self.source = ConfigSelection(choices=self._source_choices(), default=self._first())
        self.url = ConfigText(default=entry.url if entry is not None else "", fixed_size=False)
        self.repeat = ConfigSelection(default=self._repeat_of(entry), choices=[
            ("once", _("once")), ("daily", _("daily")), ("weekly", _("weekly"))])
        self.day = ConfigDateTime(default=begin, formatstring="%a %d.%m.%Y", increment=86400)
        self.start = ConfigClock(default=begin)
        self.stop = ConfigClock(default=end)
        self.margin_before = ConfigSelectionNumber(0, 120, 1, default=mb, wraparound=True)
        self.margin_after = ConfigSelectionNumber(0, 240, 1, default=ma, wraparound=True)
        self.after = ConfigSelection(choices=after_event_choices(), default=str(
            entry.after_event if entry is not None else AFTEREVENT.AUTO))
        ConfigListScreen.__init__(self, self._entries(), session=session,
                                  on_change=self._changed)
        self["key_red"] = StaticText(_("Cancel"))
        self["key_green"] = StaticText(_("Save"))
        self["actions"] = ActionMap(["SetupActions", "ColorActions"], {
            "ok": self.keyOK, "save": self.keySave, "cancel": self.keyCancel,
            "red": self.keyCancel, "green": self.keySave}, -2)
        compat.track_open(self)
        self.onLayoutFinish.append(self._load_channels)

    @staticmethod
    def _repeat_of(entry: Optional[StreamTimerEntry]) -> str:
        if entry is None or not entry.repeated:
            return "once"
        return "daily" if entry.repeated == DAILY else "weekly"

    def _source_choices(self) -> List[Tuple[str, str]]:
        return self.channels + [(CUSTOM, _("address typed in"))]

    def _first(self) -> str:
        return self.channels[0][0] if self.channels else CUSTOM

    def _entries(self) -> list:
        entries = [getConfigListEntry(_("Title"), self.title_text),
                   getConfigListEntry(_("Channel or stream"), self.source)]
        if self.source.value == CUSTOM:
            entries.append(getConfigListEntry(_("Address (URL or service reference)"), self.url))
        return entries + [
            getConfigListEntry(_("Repeat"), self.repeat),
            getConfigListEntry(_("Day") if self.repeat.value == "once" else _("First day"),
                               self.day),
            getConfigListEntry(_("Start"), self.start),
            getConfigListEntry(_("End"), self.stop),
            getConfigListEntry(_("Margin before (minutes)"), self.margin_before),
            getConfigListEntry(_("Margin after (minutes)"), self.margin_after),
            getConfigListEntry(_("After the recording"), self.after)]

    def _changed(self) -> None:
        entries = self._entries()
        if [e[1] for e in entries] != [e[1] for e in self["config"].list]:
            self["config"].list = entries

    # --- channels from the bouquets, m3u lists and saved streams (worker thread) ----------------
    def _load_channels(self) -> None:
        from Tools.Directories import SCOPE_CONFIG, resolveFilename
        from .sources import load_sources
        self.channels_loading = load_sources(resolveFilename(SCOPE_CONFIG), streams_file(),
                                             _("Saved streams"))
        self.channels_loading.addCallbacks(self._channels_loaded, lambda failure: None)

    def _channels_loaded(self, groups: Any) -> None:
        if not compat.is_open(self):
            return
        known = {url for url, _label in self.channels}
        for group in groups:
            for channel in group.channels:
                if channel.url not in known:
                    known.add(channel.url)
                    self.channels.append((channel.url, "%s (%s)" % (channel.name, group.name)))
        current = self.source.value
        self.source.setChoices(self._source_choices(), default=current)
        self.source.value = current if current != CUSTOM or self.url.value else self._first()
        self._changed()
        self["config"].invalidate(self["config"].list[1])

    # --- keys -----------------------------------------------------------------------------------
    def _window(self) -> Tuple[int, int]:
        """begin and end with the margins, from the day and the clock times (an end before
        the start is on the next day)."""
        day = time.localtime(self.day.value)

        def at(clock: Any) -> int:
            return int(time.mktime((day.tm_year, day.tm_mon, day.tm_mday, clock.value[0],
                                    clock.value[1], 0, 0, 0, -1)))
        begin, end = at(self.start), at(self.stop)
        if end <= begin:
            end += 86400
        return begin - self.margin_before.value * 60, end + self.margin_after.value * 60

    def keySave(self) -> None:
        url = self.url.value.strip() if self.source.value == CUSTOM else self.source.value
        if not valid_url(url):
            self.session.open(MessageBox, _("%s is not a web address (http:// or https://) or "
                                            "a stream channel.") % (url or _("(empty)")),
                              MessageBox.TYPE_ERROR)
            return
        begin, end = self._window()
        name = dict(self.channels).get(url) or display_name(url)
        repeated = {"once": 0, "daily": DAILY,
                    "weekly": 1 << time.localtime(begin + self.margin_before.value * 60).tm_wday
                    }[self.repeat.value]
        old = self.entry
        event = old.event if old is not None and old.url == url else None
        self.close(StreamTimerEntry(begin, end, name, url,
                                    self.title_text.value.strip() or display_name(url),
                                    old.description if old is not None else "",
                                    self.margin_before.value, self.margin_after.value,
                                    int(self.after.value), repeated, event))

    def keyCancel(self) -> None:
        self.close(None)


# --- from the EPG -------------------------------------------------------------------------------------
def reference_of(service: Any) -> str:
    """A service reference string from a ServiceReference, an eServiceReference or a string."""
    ref = getattr(service, "ref", service)
    return ref.toString() if hasattr(ref, "toString") else str(ref or "")


def timer_from_event(session: Any, service: Any, event: Any) -> Any:
    """"Record with StreamRecorder": a timer for event on service, with the default margins."""
    reference = reference_of(service)
    if event is None or not reference or not valid_url(reference):
        session.open(MessageBox, _("Stream Recorder records online channels (a channel whose "
                                   "service carries a web address). This is not one."),
                     MessageBox.TYPE_ERROR)
        return defer.succeed(False)
    begin, duration = int(event.getBeginTime()), int(event.getDuration())
    mb, ma = int(settings.margin_before.value), int(settings.margin_after.value)
    short, extended = event.getShortDescription() or "", event.getExtendedDescription() or ""
    details = {"event_id": int(event.getEventId()), "begin": begin, "duration": duration,
               "name": event.getEventName() or "", "short": short, "extended": extended}
    entry = StreamTimerEntry(begin - mb * 60, begin + duration + ma * 60, display_name(reference),
                             reference, details["name"] or display_name(reference),
                             short or extended, mb, ma, AFTEREVENT.AUTO, 0, details)
    return add_timer(session, entry)


def timer_from_current(session: Any) -> Any:
    """The programme now on the channel that plays (the InfoBar's EPG menu passes no event)."""
    from enigma import eEPGCache
    ref = session.nav.getCurrentlyPlayingServiceOrGroup()
    event = eEPGCache.getInstance().lookupEventTime(ref, -1) if ref is not None else None
    return timer_from_event(session, ref, event)
