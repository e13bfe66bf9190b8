"""The end of a recording started from the GUI (ends.py, end_question.py, the controller's hook).

The GUI runs on OpenPLi's real tree; the end arrives from the real core (a live HLS stream on the
loopback server never ends by itself) as stop reason `user`, "requested duration reached". The
plugin's wall clock is a fake one (Controller.clock), set so the chosen end lies 2 s after the
launch; the EPG events sit in the stand-in eEPGCache, submitted as an EPG import does.
"""

import datetime
import time
from urllib.parse import quote

import pytest
import pytest_twisted

from hls_server import LiveStream
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import ScriptedManager, load_tree

pytestmark = pytest.mark.usefixtures("reactor_guard")

SERVICE = "4097:0:1:283D:3FB:1:C00000:0:0:0:%s:Evening news"
OTHER_SERVICE = "1:0:19:2840:3FB:1:C00000:0:0:0:"


def local(y, mo, d, h, mi, s=0):
    """Epoch seconds of a local wall-clock time (the tests pass in any time zone)."""
    return time.mktime((y, mo, d, h, mi, s, 0, 0, -1))


NOW = local(2026, 3, 10, 21, 44, 58)  # a Tuesday without a DST change near it


class FakeClock:
    """The plugin's wall clock: stands still unless a test moves it."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def ends():
    load_tree()
    from Plugins.Extensions.StreamRecorder import ends
    return ends


@pytest.fixture
def epg():
    """The stand-in's EPG cache, emptied after the test (it is a process-wide singleton)."""
    load_tree()
    from enigma import eEPGCache
    cache = eEPGCache.getInstance()
    cache.flushEPG()
    yield cache
    cache.flushEPG()


@pytest.fixture
def rx(receiver):
    receiver.clock = FakeClock(NOW)
    receiver.controller.clock = receiver.clock
    return receiver


@pytest.fixture
def scripted(receiver):
    """The receiver with the controller on a scripted core (nothing is downloaded)."""
    from Plugins.Extensions.StreamRecorder import controller as controller_module
    controller_module._controller = controller_module.Controller(manager_factory=ScriptedManager)
    receiver.clock = FakeClock(NOW)
    receiver.controller.clock = receiver.clock
    return receiver


@pytest.fixture
def live(server, media_ts):
    return LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="ends")


# --- helpers -------------------------------------------------------------------------------------
async def open_main(rx, url, name="Live channel"):
    rx.save_streams((name, url))
    return await rx.open_main()


async def question(rx):
    """The end question, once it is on top."""
    from Plugins.Extensions.StreamRecorder.question import Question
    await rx.until(lambda: isinstance(rx.top(), Question), 5)
    return rx.top(Question)


async def type_number(rx, digits):
    from Plugins.Extensions.StreamRecorder.end_question import NumberBox
    await rx.settle()
    box = rx.top(NumberBox)
    for digit in digits:
        rx.press("KEY_" + digit)
    assert box["input"].getText() == digits
    rx.press("KEY_OK")
    await rx.settle()


async def replace_running(rx):
    """Yes to "A recording is running: stop it and record the new stream?"."""
    from Screens.MessageBox import MessageBox
    await rx.settle()
    rx.top(MessageBox)
    rx.press("KEY_OK")
    await rx.settle()


def stops_of(rx):
    """Stop messages of the real core, as the plugin receives them."""
    stops = []
    rx.controller.manager.subscribe(lambda m: m[0] == "stop" and stops.append(m[1]))
    return stops


async def ended_by_duration(rx, stops):
    assert await rx.until(lambda: stops, 20), "the recording did not end: %r" % (
        rx.controller.status(),)
    stop = stops[0]
    assert stop["reason"] == "user" and stop["msg"] == "requested duration reached", stop
    return stop


# --- ends.py ---------------------------------------------------------------------------------------
def test_until_a_time_today_or_tomorrow(ends):
    assert ends.until_clock(21, 45, NOW) == local(2026, 3, 10, 21, 45)
    # Already past today (and the very minute of now): tomorrow.
    assert ends.until_clock(21, 44, NOW) == local(2026, 3, 11, 21, 44)
    assert ends.until_clock(21, 44, local(2026, 3, 10, 21, 44)) == local(2026, 3, 11, 21, 44)
    assert ends.until_clock(9, 30, NOW) == local(2026, 3, 11, 9, 30)


def test_midnight(ends):
    before = local(2026, 3, 10, 23, 59, 30)
    assert ends.until_clock(0, 0, before) - before == 30
    assert ends.until_clock(0, 0, local(2026, 3, 11, 0, 0)) == local(2026, 3, 12, 0, 0)
    assert ends.clock_text(ends.for_minutes(30, before), before) == "tomorrow 00:29"
    assert ends.clock_text(local(2026, 3, 10, 23, 59), before) == "23:59"
    assert ends.until_text(local(2026, 3, 11, 0, 0), before) == "until tomorrow 00:00"
    assert ends.until_text(None, before) == "until stopped"


def test_minutes_entry(ends):
    assert ends.for_minutes(ends.parse_minutes("45"), NOW) == NOW + 2700
    assert ends.parse_minutes(" 007 ") == 7
    for text in ("0", "-5", "", None, "1.5", "x"):
        with pytest.raises(ends.EndError, match="from 1 to 1440"):
            ends.parse_minutes(text)
    for minutes in (0, -1, 1441):
        with pytest.raises(ends.EndError):
            ends.for_minutes(minutes, NOW)
    assert ends.for_minutes(1440, NOW) == NOW + 86400


def test_clock_entry(ends):
    assert ends.parse_clock("2145") == (21, 45)
    assert ends.parse_clock("930") == (9, 30)
    assert ends.parse_clock("21:45") == (21, 45)
    assert ends.parse_clock("0000") == (0, 0)
    for text in ("2400", "2160", "12", "21456", "", None, "ab12"):
        with pytest.raises(ends.EndError):
            ends.parse_clock(text)


def test_event_end_and_duration(ends):
    from enigma import eServiceEvent
    assert ends.event_end(eServiceEvent(NOW - 600, 602, "News"), NOW) == NOW + 2
    assert ends.event_end(eServiceEvent(NOW - 600, 600, "News"), NOW) is None  # over now
    assert ends.event_end(None, NOW) is None
    assert ends.duration_at(NOW + 90, NOW) == 90
    assert ends.duration_at(NOW - 5, NOW) == ends.MIN_DURATION_S  # passed while preparing
    assert ends.duration_at(None, NOW) is None


def test_choices(ends):
    entries, default = ends.choices(NOW)
    values = [value for _text, value in entries]
    assert values == [("minutes", 30), ("minutes", 60), ("minutes", 90), ("minutes", 120),
                      ("minutes", 180), ends.ENTER_MINUTES, ends.UNTIL_TIME, ends.OPEN]
    assert values[default] == ("minutes", 120) and values[default] != ends.OPEN
    assert entries[0][0] == "For 30 minutes (until 22:14)"
    entries, default = ends.choices(NOW, local(2026, 3, 10, 22, 15))
    assert entries[0] == ("Until the end of the programme (22:15)", ends.EVENT) and default == 0


# --- the stand-in's EPG cache (lib/dvb/epgcache.cpp lookupEventTime) ------------------------------
def test_epg_lookup_event_time(epg):
    from enigma import eServiceReference
    ref = eServiceReference(SERVICE % "http%3a//h/x.m3u8")
    same_service = eServiceReference("1:0:19:283D:3FB:1:C00000:0:0:0:")  # same sid/tsid/onid
    assert epg.lookupEventTime(ref, -1) is None  # nothing cached
    epg.submitEventData([ref], 1000, 600, "First", "", "", 0)
    epg.submitEventData([ref], 1600, 600, "Second", "", "", 0)

    def names(t, d=0):
        event = epg.lookupEventTime(ref, t, d)
        return event.getEventName() if event is not None else None
    assert names(1000) == "First" and names(1599) == "First" and names(1600) == "Second"
    assert epg.lookupEventTime(same_service, 1200).getEventName() == "First"
    assert names(999) is None  # before the first event
    # As the C++: the search starts at an event beginning at or after t, so the last event is
    # not found while it runs, and direction +1 gives the next one.
    assert names(1700) is None
    assert names(1000, 1) == "Second" and names(1600, -1) == "First"
    assert epg.lookupEventTime(eServiceReference(OTHER_SERVICE), 1200) is None
    event = epg.lookupEventTime(ref, 1200)
    assert (event.getBeginTime(), event.getDuration(), event.getEventId()) == (1000, 600, 1000)


# --- the GUI ---------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_until_a_time_ends_the_recording(rx, live):
    """Until 21:45 at 21:44:58: the live recording stops after 2 s as the requested duration."""
    from Plugins.Extensions.StreamRecorder import ends
    main = await open_main(rx, live.url)
    stops = stops_of(rx)
    rx.press("KEY_OK")
    box = await question(rx)
    assert box["text"].getText() == "Record Live channel until when?"
    assert ends.EVENT not in rx.choice_values(box)  # an address has no EPG
    rx.choose(box, ends.UNTIL_TIME)
    await type_number(rx, "2145")
    assert await rx.until(lambda: rx.controller.status()["state"] == "recording", 10)
    assert main["status"].getText().startswith("Recording: Live channel, until 21:45")
    assert rx.controller.job.rr["duration"] == 2
    await ended_by_duration(rx, stops)


@pytest_twisted.ensureDeferred
async def test_minutes_end_fixed_when_chosen(rx, live, monkeypatch):
    """For 30 minutes, chosen at NOW; preparing the folder takes 29 min 58 s (the fake clock
    moves while it runs): the recording is launched with the 2 s that are left and ends then."""
    from Plugins.Extensions.StreamRecorder import storage
    prepare = storage.prepare_folder

    def slow_prepare(folder):
        rx.clock.now += 1798
        return prepare(folder)
    monkeypatch.setattr(storage, "prepare_folder", slow_prepare)
    await open_main(rx, live.url)
    stops = stops_of(rx)
    rx.press("KEY_OK")
    rx.choose(await question(rx), ("minutes", 30))
    assert await rx.until(lambda: rx.controller.job is not None, 10)
    assert rx.controller.job.rr["duration"] == 2
    assert rx.controller.status()["end"] == "until 22:14"
    await ended_by_duration(rx, stops)


@pytest_twisted.ensureDeferred
async def test_programme_end_ends_the_recording(rx, live, epg):
    """A channel (service reference) with an EPG event running now: its end is offered first
    and highlighted; OK records until it, 2 s later."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import ends
    service = SERVICE % quote(live.url, safe="")
    # The programme running now and the next one (the C++ finds the running event only when a
    # later one is cached, as it always is on a receiver with EPG).
    epg.submitEventData([eServiceReference(service)], int(NOW) - 600, 602, "News", "", "", 0)
    epg.submitEventData([eServiceReference(service)], int(NOW) + 2, 1800, "Film", "", "", 0)
    stops = stops_of(rx)
    # As a channel list hands a channel over: the controller's one record method.
    assert rx.controller.record_and_play(rx.session, {"resolved_url": service,
                                                      "original_url": service})
    box = await question(rx)
    assert rx.choice_values(box)[0] == ends.EVENT
    assert box["list"].getCurrent()[0][1] == ends.EVENT
    assert box["list"].getCurrent()[0][0] == "Until the end of the programme (21:45)"
    rx.press("KEY_OK")
    await rx.settle()
    assert await rx.until(lambda: rx.controller.job is not None, 10)
    assert rx.controller.job.rr["duration"] == 2
    await ended_by_duration(rx, stops)


@pytest_twisted.ensureDeferred
async def test_programme_end_only_with_an_event(scripted, epg):
    """No event, an event of another service, an event already over: not offered. EXIT on
    the question records nothing."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import ends
    rx = scripted
    service = SERVICE % "http%3a//127.0.0.1/x.m3u8"
    epg.submitEventData([eServiceReference(OTHER_SERVICE)], int(NOW) - 60, 600, "Other", "", "", 0)
    epg.submitEventData([eServiceReference(service)], int(NOW) - 600, 500, "Over", "", "", 0)
    epg.submitEventData([eServiceReference(service)], int(NOW) + 60, 500, "Next", "", "", 0)
    rx.controller.record_and_play(rx.session, {"resolved_url": service})
    box = await question(rx)
    assert ends.EVENT not in rx.choice_values(box)
    assert box["list"].getCurrent()[0][1] == ("minutes", 120)  # not "until I stop it"
    rx.press("KEY_EXIT")
    await rx.settle()
    assert box not in rx.stack()
    assert not rx.controller.manager.started and not rx.controller.busy()


@pytest_twisted.ensureDeferred
async def test_entered_minutes_zero_refused_then_taken(scripted):
    from Screens.MessageBox import MessageBox
    from Plugins.Extensions.StreamRecorder import ends
    rx = scripted
    rx.controller.record_and_play(rx.session, {"resolved_url": "http://127.0.0.1:9/a.m3u8"})
    rx.choose(await question(rx), ends.ENTER_MINUTES)
    await type_number(rx, "0")
    error = rx.top(MessageBox)
    assert "from 1 to 1440" in error["text"].getText()
    rx.press("KEY_OK")
    await type_number(rx, "45")
    assert await rx.until(lambda: rx.controller.manager.started, 5)
    assert rx.controller.manager.started[0]["duration"] == 2700
    assert rx.controller.status()["end"] == "until 22:29"


@pytest_twisted.ensureDeferred
async def test_until_stopped_and_past_time(scripted):
    """"Until the video ends or I stop it" gives no duration; 21:00 at 21:44:58 is tomorrow."""
    from Plugins.Extensions.StreamRecorder import ends
    rx = scripted
    rx.controller.record_and_play(rx.session, {"resolved_url": "http://127.0.0.1:9/a.m3u8"})
    rx.choose(await question(rx), ends.OPEN)
    assert await rx.until(lambda: rx.controller.manager.started, 5)
    assert "duration" not in rx.controller.manager.started[0]
    assert rx.controller.status().get("end") == ""
    rx.controller.record_and_play(rx.session, {"resolved_url": "http://127.0.0.1:9/b.m3u8"})
    await replace_running(rx)
    rx.choose(await question(rx), ends.UNTIL_TIME)
    await type_number(rx, "2100")
    assert await rx.until(lambda: len(rx.controller.manager.started) == 2, 5)
    tomorrow = datetime.datetime(2026, 3, 11, 21, 0)
    assert rx.controller.manager.started[1]["duration"] == time.mktime(tomorrow.timetuple()) - NOW
    assert rx.controller.status()["end"] == "until tomorrow 21:00"


@pytest_twisted.ensureDeferred
async def test_api_and_given_duration_not_asked(scripted):
    """Another plugin's api.record_and_play and a resolve_result with its own duration (a
    timer) start at once, with their own duration or none."""
    from Plugins.Extensions.StreamRecorder import api
    from Plugins.Extensions.StreamRecorder.question import Question
    rx = scripted
    assert api.record_and_play(rx.session, {"resolved_url": "http://127.0.0.1:9/a.m3u8"})
    assert await rx.until(lambda: rx.controller.manager.started, 5)
    assert not rx.find(Question) and "duration" not in rx.controller.manager.started[0]
    rx.controller.record_and_play(rx.session, {"resolved_url": "http://127.0.0.1:9/b.m3u8",
                                               "duration": 300})
    await replace_running(rx)
    assert await rx.until(lambda: len(rx.controller.manager.started) == 2, 5)
    assert not rx.find(Question) and rx.controller.manager.started[1]["duration"] == 300


@pytest_twisted.ensureDeferred
async def test_programme_over_while_asking_asks_again(scripted, epg):
    """The programme ends while the question is open: OK on it asks again, without it."""
    from enigma import eServiceReference
    from Plugins.Extensions.StreamRecorder import ends
    rx = scripted
    service = SERVICE % "http%3a//127.0.0.1/x.m3u8"
    epg.submitEventData([eServiceReference(service)], int(NOW) - 600, 660, "News", "", "", 0)
    epg.submitEventData([eServiceReference(service)], int(NOW) + 60, 60, "Short", "", "", 0)
    rx.controller.record_and_play(rx.session, {"resolved_url": service})
    box = await question(rx)
    assert box["list"].getCurrent()[0][1] == ends.EVENT
    rx.clock.now = NOW + 200  # News is over, Short too; nothing is cached after it
    rx.press("KEY_OK")
    await rx.settle()
    again = await question(rx)
    assert again is not box and ends.EVENT not in rx.choice_values(again)
    assert not rx.controller.manager.started
    rx.choose(again, ("minutes", 30))
    assert await rx.until(lambda: rx.controller.manager.started, 5)
    assert rx.controller.manager.started[0]["duration"] == 1800
