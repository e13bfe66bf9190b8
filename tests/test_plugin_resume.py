"""A timer recording the GUI restart interrupted continues at the next start while its window
is open: into stream_1.ts, stream_0.ts untouched, no left-over question, both sections kept at
the timer's end. Once the window has closed, or when the folder holds another stream's
recording, nothing is continued and the left-over rules apply as before.

On OpenPLi's real enigma2 tree with the timer tests' fake clock (the timer engine's time) and a
live HLS stream on 127.0.0.1 recorded in real time for a few seconds. The restart is what
enigma2's shutdown does: the reactor's 'before shutdown' triggers (the controller's and the
Manager's) stop the recorder with reason user, which leaves its files and stream_state.json;
then a new controller and timer list, and the session start reads timers.json again.
"""

import json
import os
import threading

import pytest_twisted

from hls_server import LiveStream
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
import test_plugin_timers
from test_plugin_timers import SHOW_BEGIN, channel, fire, movie_files, start_recording, stimer

# The timer tests' fixtures: the receiver on the fake clock of the timer engine.
clock, quit_flags, rx = test_plugin_timers.clock, test_plugin_timers.quit_flags, test_plugin_timers.rx

TITLE = "Night show"
END = SHOW_BEGIN + 1800


def sections(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("stream_") and n.endswith(".ts"))


def timers_json(rx):
    return json.loads((rx.config_dir / "streamrecorder" / "timers.json").read_text())


async def record_then_restart(rx, live):
    """A timer records `live` (timers.json says which run records), then the GUI restarts;
    the bytes of the stream_0.ts it left."""
    from Plugins.Extensions.StreamRecorder import controller, timers
    entry = timers.StreamTimerEntry(SHOW_BEGIN, END, "Live One", channel(live.url), TITLE)
    assert stimer(rx).add(entry) is None
    job = await start_recording(rx, entry)
    state_file = rx.rec_dir / "stream_state.json"
    assert await rx.until(state_file.exists, 20)  # written after a segment
    await stimer(rx).idle()
    assert timers_json(rx)["timers"][0]["recording"] == entry.begin
    ctrl = rx.controller
    ctrl._before_shutdown()
    await ctrl.manager._before_shutdown()
    assert job.stop is not None and job.stop["reason"] == "user"
    await rx.settle()
    assert sections(rx.rec_dir) == ["stream_0.ts"] and state_file.exists()
    assert movie_files(rx) == []  # left for the next start
    first = (rx.rec_dir / "stream_0.ts").read_bytes()
    assert first
    timers.reset_timer()
    await controller.reset_controller().close()
    return first


async def next_start(rx, at):
    """The GUI is up again at `at` (fake clock): the session starts (timers.json is read), the
    main screen opens and looks for left-overs; the timer as read back."""
    from Plugins.Extensions.StreamRecorder import plugin
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    rx.clock.now = at
    plugin.sessionstart(reason=0, session=rx.session)
    plugin.main(rx.session)
    [main] = rx.find(StreamRecorderMain)
    await main.leftover_check
    await rx.settle()
    [entry] = (await stimer(rx).ready()).entries()
    return entry


async def next_recording(rx, entry):
    job = await rx.until(lambda: entry.job if entry.job is not None and entry.job.sections
                         else None, 20)
    assert job, rx.controller.status()
    return job


def kept_ts(rx):
    return sorted((n for n in movie_files(rx) if n.endswith(".ts")), key=lambda n: "(2)" in n)


@pytest_twisted.ensureDeferred
async def test_a_timer_recording_continues_after_a_restart_in_its_window(rx, server, media_ts,
                                                                         monkeypatch):
    """Restarted 5 minutes into the window: the timer continues into stream_1.ts with the rest
    of its window as duration, stream_0.ts keeps its bytes, nobody is asked about the files;
    at the end both sections are kept together in the movie folder."""
    from Plugins.Extensions.StreamRecorder import timers
    from Plugins.Extensions.StreamRecorder.question import Question
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="again")
    first = await record_then_restart(rx, live)
    # The timer's look at stream_state.json (a worker thread) is held until the main screen
    # has looked for left-overs: nothing records then, so only the rule keeps the question away.
    held, look = threading.Event(), timers.continuable
    monkeypatch.setattr(timers, "continuable", lambda url: (held.wait(20), look(url))[1])

    entry = await next_start(rx, SHOW_BEGIN + 300)
    assert rx.controller.quiet() and entry.state == entry.StateRunning
    assert not rx.find(Question)  # the files are the timer's
    held.set()
    job = await next_recording(rx, entry)
    assert job.rr["continue_recording"] is True and job.rr["rec_dir"] == str(rx.rec_dir)
    assert job.rr["duration"] == END - (SHOW_BEGIN + 300)
    assert list(job.sections) == [1] and job.sections[1] == str(rx.rec_dir / "stream_1.ts")
    assert await rx.until(lambda: (rx.rec_dir / "stream_1.ts").stat().st_size > 0, 10)
    assert (rx.rec_dir / "stream_0.ts").read_bytes() == first
    assert movie_files(rx) == [] and not rx.find(Question)

    await fire(rx, END)
    assert entry.state == entry.StateEnded
    await rx.controller.idle()
    before, after = kept_ts(rx)
    assert before.startswith(TITLE + " - ") and after == before[:-3] + " (2).ts"
    assert (rx.movie_dir / before).read_bytes() == first
    assert (rx.movie_dir / after).stat().st_size > 0
    assert sections(rx.rec_dir) == [] and not (rx.rec_dir / "stream_state.json").exists()
    await stimer(rx).idle()
    assert timers_json(rx)["timers"][0]["recording"] is None


@pytest_twisted.ensureDeferred
async def test_after_the_window_has_closed_the_leftover_question_applies(rx, server, media_ts):
    """Back after the timer's end: nothing records; the main screen asks about the files as
    about any left-over, and "keep" moves them to the movie folder."""
    from Plugins.Extensions.StreamRecorder.question import Question
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="late")
    first = await record_then_restart(rx, live)

    entry = await next_start(rx, END + 60)
    assert entry.state == entry.StateEnded and entry.job is None
    assert not rx.controller.busy()
    box = rx.top(Question)
    assert box["text"].getText().startswith("An unfinished recording was found in %s.\n%s\n"
                                            % (rx.rec_dir, TITLE))
    rx.choose(box, "keep")
    await rx.settle()
    await rx.controller.idle()
    [kept] = kept_ts(rx)
    assert (rx.movie_dir / kept).read_bytes() == first
    assert sections(rx.rec_dir) == [] and not (rx.rec_dir / "stream_state.json").exists()


@pytest_twisted.ensureDeferred
async def test_a_timer_whose_stream_changed_records_anew_and_keeps_the_old_files(
        rx, server, media_ts):
    """The folder holds another stream's recording (the timer's channel was changed meanwhile):
    no continue; the timer's new recording keeps those files in the movie folder first (the
    rule for undecided left-overs) and starts again at stream_0.ts."""
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="before")
    other = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="other")
    first = await record_then_restart(rx, live)
    saved = timers_json(rx)
    saved["timers"][0]["url"] = channel(other.url)
    (rx.config_dir / "streamrecorder" / "timers.json").write_text(json.dumps(saved))

    entry = await next_start(rx, SHOW_BEGIN + 300)
    job = await next_recording(rx, entry)
    assert not job.rr.get("continue_recording")
    assert list(job.sections) == [0]
    await rx.until(lambda: kept_ts(rx), 10)
    [kept] = kept_ts(rx)
    assert (rx.movie_dir / kept).read_bytes() == first and kept.startswith(TITLE + " - ")


@pytest_twisted.ensureDeferred
async def test_a_vod_timer_recording_continues_after_its_last_written_segment(rx, server,
                                                                              media_ts):
    """A VOD (6 x 1 s, each segment answered after 0.6 s, one download at a time) interrupted
    by the restart: the next start records the segments after the last one written, into
    stream_1.ts; together the two sections hold the whole video, each segment once."""
    from twisted.internet import threads

    from helpers import ffprobe_duration
    from streamrecorder.devserver import Fault
    segs = media_ts["restart"]
    for i, path in enumerate(segs):
        server.put("/vodt/seg%d.ts" % i, path.read_bytes())
    server.put("/vodt/index.m3u8", ("#EXTM3U\n#EXT-X-TARGETDURATION:1\n%s#EXT-X-ENDLIST\n" % "".join(
        "#EXTINF:1.0,\nseg%d.ts\n" % i for i in range(len(segs)))).encode())
    server.add_fault(Fault(r"/vodt/seg", latency=0.6))
    rx.settings.buffering.value = 1
    rx.settings.parallel.value = 1

    class Vod:
        url = server.url("/vodt/index.m3u8")

    first = await record_then_restart(rx, Vod)
    saved = json.loads((rx.rec_dir / "stream_state.json").read_text())
    written = saved["playlist_index"]
    assert 0 <= written < len(segs) - 1, saved  # stopped in the middle
    before = {i: len(server.paths_requested(r"/vodt/seg%d\.ts" % i)) for i in range(len(segs))}

    entry = await next_start(rx, SHOW_BEGIN + 300)
    job = await next_recording(rx, entry)
    assert job.rr["continue_recording"] is True and list(job.sections) == [1]
    assert await rx.until(lambda: job.stop is not None, 30)
    assert job.stop["reason"] == "complete", job.stop
    again = {i: len(server.paths_requested(r"/vodt/seg%d\.ts" % i)) - before[i]
             for i in range(len(segs))}
    assert again == {i: int(i > written) for i in range(len(segs))}, (written, again)
    await rx.controller.idle()  # the whole video is in: both sections kept together
    kept = kept_ts(rx)
    assert len(kept) == 2 and (rx.movie_dir / kept[0]).read_bytes() == first, kept
    # ffprobe off the reactor thread (the guard fails any blocking call there)
    total = await threads.deferToThread(
        lambda: sum(ffprobe_duration(rx.movie_dir / n) for n in kept))
    assert abs(total - len(segs)) < 0.6, total
