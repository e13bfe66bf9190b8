"""Stream timers on OpenPLi's real enigma2 tree: enigma2's timer engine (timer.py), the real
Standby and TryQuitMainloop screens, a live HLS stream on 127.0.0.1 and the real recorders.

The timer engine reads the time through the plugin's timers module (a fake clock here, nothing
process-wide is changed); the recording itself runs in real time for a few seconds. An eTimer
firing is what `fire()` does: the engine's calcNextActivation at the clock's time.
"""

import calendar
import json
import os
import time

import pytest
import pytest_twisted

from hls_server import LiveStream
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import Watch, player_class

SHOW_BEGIN = int(time.mktime((2030, 6, 10, 20, 15, 0, 0, 0, -1)))  # a Monday evening, local


class Clock:
    """The fake wall clock of the timer engine."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from Plugins.Extensions.StreamRecorder import timers
    fake = Clock(SHOW_BEGIN - 3600)
    monkeypatch.setattr(timers, "time", fake)  # the plugin's module only
    return fake


@pytest.fixture
def rx(receiver, clock, quit_flags, reactor_guard):
    """The receiver on the fake clock; plugin code must not block the reactor thread (the
    guard fails the test on an fsync, a connect or a join there)."""
    from enigma import eEPGCache
    receiver.clock = clock
    yield receiver
    eEPGCache.getInstance().flushEPG()


@pytest.fixture
def quit_flags():
    """TryQuitMainloop marks config.misc.DeepStandby for the next start: put it back."""
    from Components.config import config
    saved = config.misc.DeepStandby.value
    yield
    config.misc.DeepStandby.value = saved


def channel(url, name="Live One"):
    """A bouquet's stream channel: type 4097, the URL encoded as service.cpp writes it."""
    return "4097:0:1:0:0:0:0:0:0:0:%s:%s" % (url.replace(":", "%3a"), name)


def stimer(rx):
    from Plugins.Extensions.StreamRecorder.timers import get_timer
    return get_timer(rx.session)


async def fire(rx, at):
    """The clock reaches `at` and the engine's eTimer fires."""
    rx.clock.now = at
    stimer(rx).calcNextActivation()
    await rx.settle()


async def answer(rx, box_class):
    """OK on the message on top; its (type, text) (a closed screen keeps no attributes)."""
    box = rx.top(box_class)
    shown = (box.type, box.text)
    rx.press("KEY_OK")
    await rx.settle()
    return shown


def epg_event(ref_string, begin=SHOW_BEGIN, duration=1800):
    """The show in enigma2's EPG cache, as EPGSelection's list hands it to a plugin."""
    from enigma import eEPGCache, eServiceReference
    from ServiceReference import ServiceReference
    epg = eEPGCache.getInstance()
    ref = eServiceReference(ref_string)
    epg.submitEventData([ref], begin, duration, "Evening Show: Part 1/2", "Tonight's guests",
                        "A long description of tonight's show.")
    return epg.lookupEventTime(ref, begin), ServiceReference(ref)


async def start_recording(rx, entry):
    """The clock reaches the timer's start: the recording runs and its first section is in."""
    await fire(rx, entry.begin)
    assert entry.state == entry.StateRunning
    job = await rx.until(lambda: entry.job if entry.job is not None and entry.job.sections
                         else None, 20)
    assert job, rx.controller.status()
    return job


def movie_files(rx):
    return sorted(os.listdir(rx.movie_dir)) if rx.movie_dir.exists() else []


# --- a timer from the EPG ----------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_epg_timer_records_in_standby_and_keeps_the_show(rx, server, media_ts, monkeypatch):
    """"Record with StreamRecorder" in the EPG makes a timer with the margins; it starts at its
    time in standby without a player, ends at its end and keeps the file with the show's title,
    description and .eit in the movie folder."""
    import Screens.Standby
    from Plugins.Extensions.StreamRecorder import plugin
    from Screens.MessageBox import MessageBox
    rx.watch = Watch(rx, monkeypatch)
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="show")
    ref = channel(live.url)
    event, service = epg_event(ref)
    # EPGSelection.runPlugin: plugin(session=..., selectedevent=(event, ServiceReference)).
    plugin.record_selected_event(session=rx.session, selectedevent=(event, service))
    await stimer(rx).idle()
    await rx.settle()
    _kind, added = await answer(rx, MessageBox)
    assert added.startswith("Timer added: Evening Show: Part 1/2\n")
    [entry] = stimer(rx).entries()
    assert (entry.begin, entry.end) == (SHOW_BEGIN - 5 * 60, SHOW_BEGIN + 1800 + 10 * 60)
    assert entry.url == ref and entry.name == "Live One"

    rx.session.open(Screens.Standby.Standby)
    await rx.settle()
    standby = Screens.Standby.inStandby
    assert standby is not None
    await fire(rx, entry.begin - 60)
    assert entry.state == entry.StateWaiting and not rx.controller.busy()
    job = await start_recording(rx, entry)
    assert job.by_timer and job.rr["duration"] == entry.end - entry.begin
    assert Screens.Standby.inStandby is standby and rx.top() is standby
    assert rx.watch.count(player_class()) == 0  # recorded without waking the screen

    await fire(rx, entry.end)
    assert entry.state == entry.StateEnded
    await rx.controller.idle()
    await rx.settle()
    assert job.stop["reason"] == "user"
    kept = [n for n in movie_files(rx) if n.endswith(".ts")]
    assert len(kept) == 1 and kept[0].startswith("Evening Show Part 1 2 - ")
    meta = (rx.movie_dir / (kept[0] + ".meta")).read_text(encoding="utf-8").split("\n")
    assert meta[1:3] == ["Evening Show: Part 1/2", "Tonight's guests"]
    eit = (rx.movie_dir / (kept[0][:-3] + ".eit")).read_bytes()
    assert eit[:2] == (event.getEventId()).to_bytes(2, "big")
    assert b"Evening Show: Part 1/2" in eit and b"A long description" in eit
    assert not enigma_quit_requests()  # auto, and the timer did not wake the box
    assert stimer(rx).next_wakeup() == -1


def enigma_quit_requests():
    import enigma
    return list(enigma.QUIT_REQUESTS)


# --- repeats, reload, wake-up, after-event -------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_daily_timer_that_woke_the_box_repeats_and_returns_to_deep_standby(
        rx, server, media_ts, monkeypatch):
    """timers.json is read at session start; a timer due right after a timer wake-up woke the
    box: it records, goes back to deep standby (TryQuitMainloop 1) and moves to the next day."""
    import Screens.Standby
    from Plugins.Extensions.StreamRecorder import plugin, timers
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="daily")
    entry = timers.StreamTimerEntry(SHOW_BEGIN, SHOW_BEGIN + 600, "Live One", channel(live.url),
                                    "Morning news", repeated=timers.DAILY)
    path = rx.config_dir / "streamrecorder" / "timers.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(timers.encode([entry]))
    rx.clock.now = SHOW_BEGIN - 200  # enigma2 woke the box 240 s before the start
    monkeypatch.setattr(rx.nav, "wasTimerWakeup", lambda: True)
    plugin.sessionstart(reason=0, session=rx.session)
    await stimer(rx).ready()
    [entry] = stimer(rx).entries()
    assert entry.woke_box and entry.repeated == timers.DAILY
    # The wakeup function (the descriptor's wakeupfnc) names this start.
    [autostart] = [d for d in plugin.Plugins() if d.wakeupfnc is not None]
    assert autostart.getWakeupTime() == SHOW_BEGIN

    job = await start_recording(rx, entry)
    await rx.until(lambda: Screens.Standby.inStandby is not None, 5)
    assert Screens.Standby.inStandby is not None  # woken for a recording: the screen stays dark
    assert job.running
    await fire(rx, SHOW_BEGIN + 600)
    await rx.controller.idle()
    found = await rx.until(enigma_quit_requests, 5)
    assert found == [1]  # deep standby, asked through Screens.Standby.TryQuitMainloop
    assert [n for n in movie_files(rx) if n.endswith(".ts")]
    # The engine has put the daily timer on the next day; the file says so too.
    assert entry.state == entry.StateWaiting
    tomorrow = time.localtime(entry.begin)
    assert (tomorrow.tm_mday, tomorrow.tm_hour, tomorrow.tm_min) == (11, 20, 15)
    await stimer(rx).idle()
    saved = json.loads(path.read_text())["timers"]
    assert [t["begin"] for t in saved] == [entry.begin]
    assert plugin.wakeup() == entry.begin


@pytest_twisted.ensureDeferred
async def test_timers_json_survives_a_reload_and_is_written_atomically(rx, monkeypatch):
    """The list comes back as it was saved; a write that fails midway leaves the old file."""
    from Plugins.Extensions.StreamRecorder import timers
    first = timers.StreamTimerEntry(SHOW_BEGIN, SHOW_BEGIN + 900, "Live One",
                                    channel("http://127.0.0.1:1/a.m3u8"), "Quiz", "A quiz",
                                    2, 3, timers.AFTEREVENT.STANDBY, 1 << 0)
    second = timers.StreamTimerEntry(SHOW_BEGIN + 3600, SHOW_BEGIN + 4000, "Saved",
                                     "http://127.0.0.1:1/b.m3u8#User-Agent=Box", "Film")
    await stimer(rx).ready()
    assert stimer(rx).add(first) is None and stimer(rx).add(second) is None
    await stimer(rx).idle()
    path = rx.config_dir / "streamrecorder" / "timers.json"
    written = path.read_bytes()
    timers.reset_timer()
    reloaded = await stimer(rx).ready()
    assert [e.to_dict() for e in reloaded.entries()] == [first.to_dict(), second.to_dict()]

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    reloaded.remove(reloaded.entries()[0])
    await reloaded.idle()
    assert path.read_bytes() == written  # the old list, whole
    assert sorted(os.listdir(path.parent)) == ["timers.json"]  # no temp file left

    # A file that is no JSON (a hand edit gone wrong) is set aside, never overwritten.
    path.write_bytes(b'{"version": 1, "timers": [')
    timers.reset_timer()
    assert (await stimer(rx).ready()).entries() == []
    assert (path.parent / "timers.json.bad").read_bytes() == b'{"version": 1, "timers": ['


# --- conflicts -------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_overlapping_timer_is_refused_and_a_due_timer_keeps_a_manual_recording(
        rx, server, media_ts):
    """A timer overlapping another is refused with a message naming it; a due timer stops a
    recording started without a timer, which is kept, and records."""
    from Plugins.Extensions.StreamRecorder import timers
    from Plugins.Extensions.StreamRecorder.timer_screens import add_timer
    from Screens.MessageBox import MessageBox
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="clash")
    ref = channel(live.url)
    first = timers.StreamTimerEntry(SHOW_BEGIN, SHOW_BEGIN + 3600, "Live One", ref, "Match")
    assert await add_timer(rx.session, first)
    await answer(rx, MessageBox)
    daily = timers.StreamTimerEntry(SHOW_BEGIN - 86400 * 3 + 1800, SHOW_BEGIN - 86400 * 3 + 5400,
                                    "Live One", ref, "Late show", repeated=timers.DAILY)
    assert not await add_timer(rx.session, daily)
    kind, refused = await answer(rx, MessageBox)
    assert kind == MessageBox.TYPE_ERROR
    assert refused.startswith('This timer overlaps the timer "Match" (Mon 10.06. 20:15')
    assert stimer(rx).entries() == [first]
    later = timers.StreamTimerEntry(SHOW_BEGIN + 3600, SHOW_BEGIN + 7200, "Live One", ref, "After")
    assert stimer(rx).conflict(later) is None  # touching windows do not overlap

    # A recording started without a timer runs when the timer is due.
    rx.controller.record_and_play(rx.session, {"resolved_url": live.url, "title": "Manual",
                                               "duration": 3600}, watch=False)
    manual = await rx.until(lambda: rx.controller.job if rx.controller.job is not None
                            and rx.controller.job.sections else None, 20)
    assert manual and not manual.by_timer
    job = await start_recording(rx, first)
    assert manual.stop is not None and manual.preempted
    kept = [n for n in movie_files(rx) if n.endswith(".ts")]
    assert len(kept) == 1 and kept[0].startswith("Manual - ")  # kept, never deleted
    assert job.running and job.title == "Match"
    await rx.settle(10)
    assert not rx.find(player_class())  # a timer records in the background, also when awake
    # While the timer records, another timer's start is not taken over either.
    assert rx.controller.record_for_timer(rx.session, {"resolved_url": live.url}) is None
    await fire(rx, first.end)
    await rx.controller.idle()
    assert len([n for n in movie_files(rx) if n.endswith(".ts")]) == 2


# --- the screens ---------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_timer_list_adds_edits_and_deletes_with_the_remote(rx):
    """TIMER on the main screen opens the list; GREEN opens the editor (a saved stream as the
    source), GREEN there adds a weekly timer; an edit that would overlap is refused; RED deletes."""
    from Plugins.Extensions.StreamRecorder import plugin, timers
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Plugins.Extensions.StreamRecorder.timer_screens import StreamTimerEdit, StreamTimerList
    from Screens.MessageBox import MessageBox
    rx.streams_file.parent.mkdir(parents=True, exist_ok=True)
    rx.streams_file.write_text(json.dumps({"version": 1, "streams": [
        {"name": "Radio Live", "url": "http://127.0.0.1:1/radio.m3u8", "recorder": "auto"}]}))
    plugin.main(rx.session)
    main = rx.top(StreamRecorderMain)
    await main.loading
    await main.leftover_check
    rx.press("KEY_PROGRAM")
    await rx.settle()
    listed = rx.top(StreamTimerList)
    assert listed["status"].getText().startswith("No timers yet.")
    rx.press("KEY_GREEN")
    await rx.settle()
    editor = rx.top(StreamTimerEdit)
    await editor.channels_loading
    assert dict(editor.source.choices.choices)["http://127.0.0.1:1/radio.m3u8"] == \
        "Radio Live (Saved streams)"
    editor.source.value = "http://127.0.0.1:1/radio.m3u8"
    editor.title_text.value = "Morning show"
    editor.repeat.value = "weekly"
    editor.day.value = SHOW_BEGIN
    editor.start.value, editor.stop.value = [20, 15], [21, 0]
    editor.margin_before.value, editor.margin_after.value = 5, 10
    rx.press("KEY_GREEN")
    await rx.settle()
    await rx.until(lambda: isinstance(rx.top(), MessageBox), 5)
    _kind, text = await answer(rx, MessageBox)
    assert text.startswith("Timer added: Morning show\nMon 10.06. 20:10 - 21:10, weekly")
    [entry] = stimer(rx).entries()
    assert (entry.begin, entry.end, entry.repeated) == (SHOW_BEGIN - 300, SHOW_BEGIN + 2700 + 600,
                                                        1 << 0)
    assert rx.top() is listed and listed["timers"].list[0][0] == "Morning show  (waiting)"

    # A second timer on Tuesday; moving it onto Monday's show is refused, nothing changes.
    other = timers.StreamTimerEntry(SHOW_BEGIN + 86400, SHOW_BEGIN + 86400 + 600, "Radio Live",
                                    "http://127.0.0.1:1/radio.m3u8", "Tuesday")
    assert stimer(rx).add(other) is None
    listed.fill()
    listed["timers"].setIndex(1)
    rx.press("KEY_YELLOW")
    await rx.settle()
    editor = rx.top(StreamTimerEdit)
    editor.day.value = SHOW_BEGIN
    rx.press("KEY_GREEN")
    await rx.settle()
    kind, text = await answer(rx, MessageBox)
    assert kind == MessageBox.TYPE_ERROR and '"Morning show"' in text
    assert stimer(rx).entries() == [entry, other]

    rx.press("KEY_RED")
    await rx.settle()
    question = rx.top(MessageBox)
    assert question.text == "Delete the timer Tuesday?"
    # The default is "no" (listed first); the stand-in's listbox has no native cursor keys:
    # select "yes" as the list would.
    question["list"].moveToIndex([value for _text, value in question.list].index(True))
    rx.press("KEY_OK")
    await rx.settle()
    assert stimer(rx).entries() == [entry]
    await stimer(rx).idle()
    saved = json.loads((rx.config_dir / "streamrecorder" / "timers.json").read_text())
    assert [t["title"] for t in saved["timers"]] == ["Morning show"]


# --- the .eit file ----------------------------------------------------------------------------------
def test_eit_event_times_as_en_300_468_codes_them():
    """EN 300 468 Annex C: 1993-10-13 12:45:00 UTC is MJD 0xC079 + BCD 12 45 00; 1 h 30 min is
    BCD 01 30 00. The short event descriptor carries name and text, UTF-8 marked."""
    from Plugins.Extensions.StreamRecorder.eitfile import event_bytes
    data = event_bytes(0x1234, calendar.timegm((1993, 10, 13, 12, 45, 0)), 5400, "Nachrichten",
                       "Kurz", "Lang " * 100, "deu")
    assert data[:10] == bytes.fromhex("1234" "C079124500" "013000")
    loop = int.from_bytes(data[10:12], "big") & 0x0FFF
    assert loop == len(data) - 12
    assert data[12] == 0x4D and data[14:17] == b"deu"
    assert data[17] == len("Nachrichten") + 1 and data[18:30] == b"\x15Nachrichten"
    # The long text goes into extended event descriptors of at most 255 bytes each.
    offset, texts = 12 + 2 + data[13], b""
    while offset < len(data):
        assert data[offset] == 0x4E and data[offset + 1] <= 255
        texts += data[offset + 8:offset + 2 + data[offset + 1]].lstrip(b"\x15")
        offset += 2 + data[offset + 1]
    assert texts == ("Lang " * 100).encode()
