"""The player's decisions on OpenPLi's real enigma2 tree, with the core's messages scripted.

A scripted Manager stands in for the core so every ordering of start/progress/stop can be set
up exactly; everything else is real: the session and its modal rules, MoviePlayer and
InfoBarSeek, Navigation, the keymap. The sections are real TS files that the C++ stand-in plays
(tests/e2/enigma.py): service events (evStart, evEOF at the end of a file and servicedvb's EOF
retries once a second) come from that playback, never from the test. The flow tests run the
same player against the real recorders and the loopback server.
"""

import os
import threading

import pytest
import pytest_twisted

from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import ScriptedManager, Watch, player_class

pytestmark = pytest.mark.usefixtures("reactor_guard")

TITLE = "Scripted"
URL = "http://example.com/x.m3u8"


# --- the scripted core -------------------------------------------------------------------------
@pytest.fixture
def rx(receiver, monkeypatch):
    """The receiver with the plugin's controller on a scripted core; playback at 5x."""
    import enigma
    from Plugins.Extensions.StreamRecorder import controller as controller_module
    monkeypatch.setattr(enigma, "PLAY_SPEED", 5.0)
    controller_module._controller = controller_module.Controller(manager_factory=ScriptedManager)
    receiver.watch = Watch(receiver, monkeypatch)
    return receiver


# --- helpers -------------------------------------------------------------------------------------
def ts_ref(rx, n):
    from enigma import eServiceReference
    return eServiceReference(1, 0, str(rx.rec_dir / ("stream_%d.ts" % n)))


def write_section(rx, n, *segments):
    """stream_<n>.ts as the recorder writes it: TS segments appended; returns its size."""
    path = rx.rec_dir / ("stream_%d.ts" % n)
    with open(path, "ab") as f:
        for segment in segments:
            f.write(segment.read_bytes())
    return os.path.getsize(path)


def started(manager, rx, n, name=None, recorder="hls_live"):
    """The core's `start` of section n (stream_<n>.ts unless name says otherwise)."""
    rec_file = rx.rec_dir / (name or "stream_%d.ts" % n)
    manager.emit("start", url=URL, rec_file=str(rec_file), section_index=n,
                 segment_index=4 * n, recorder={"type": recorder})


def progress(manager, section, size, recorder="hls_live"):
    manager.emit("progress", recorder={"type": recorder}, section_index=section,
                 segment_index=1, bytes=size, total_bytes=None, percent=None, speed_bps=1000,
                 eta_s=None, media_s=1.0, skipped_segments=0)


async def start_watching(rx, name, data, recorder="hls_live"):
    """Another plugin hands a stream over (api.record_and_play); the core writes `data` to
    rec_dir/name and starts section 0 on it: the player opens. Returns (manager, player)."""
    from Plugins.Extensions.StreamRecorder import api
    assert api.record_and_play(rx.session, {"resolved_url": URL, "title": TITLE})
    ctrl = rx.controller
    assert await rx.until(lambda: ctrl._manager is not None and ctrl.manager.started, 5)
    manager = ctrl.manager
    (rx.rec_dir / name).write_bytes(data)
    started(manager, rx, 0, name, recorder)
    await rx.settle()
    player = rx.top(player_class())
    return manager, player


def playing(rx):
    return rx.nav.getCurrentlyPlayingServiceReference()


# --- tests ------------------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_resume_switch_and_normal_end(rx, media_ts):
    """A .ts section that runs dry waits (servicedvb's EOF retries and news without new bytes
    change nothing), plays on in the same service when bytes arrive, switches to the next section
    only at its end, and after the recording's end closes at the last EOF and asks keep/delete."""
    from Screens.ChoiceBox import ChoiceBox
    segments = media_ts["continuous"]  # 4 x 1 s whose timestamps continue from file to file
    manager, player = await start_watching(rx, "stream_0.ts", segments[0].read_bytes())
    assert manager.started[0]["rec_dir"] == str(rx.rec_dir)
    assert manager.recorder_options["verify_tls"] is True
    assert player.skinName == ["StreamRecorderPlayer", "MoviePlayer"]
    # No name on the reference: Standby recognises file playback by the path at its end.
    assert playing(rx) == ts_ref(rx, 0) and playing(rx).toString().endswith("stream_0.ts")
    progress(manager, 0, os.path.getsize(rx.rec_dir / "stream_0.ts"))
    service = rx.nav.getCurrentService()

    # Playback reaches the end of what is on disk: the buffer ran dry; the player stays.
    assert await rx.until(lambda: player.waiting, 5), "no EOF came from the playback"
    assert player.seekstate == player.SEEK_STATE_EOF and rx.top() is player
    # servicedvb reads the end again once a second and sends evEOF each time: nothing changes,
    # and neither does a progress message without new bytes.
    assert await rx.until(lambda: service.eof_count >= 2, 3)
    progress(manager, 0, os.path.getsize(rx.rec_dir / "stream_0.ts"))
    assert player.waiting and player.seekstate == player.SEEK_STATE_EOF
    end_of_first = service.length_pts()

    # The recorder appends three more seconds and reports them: the player plays on.
    size = write_section(rx, 0, *segments[1:])
    progress(manager, 0, size)
    assert not player.waiting and player.seekstate == player.SEEK_STATE_PLAY
    # stream_1.ts starts while stream_0.ts has those seconds left: no switch yet ...
    write_section(rx, 1, segments[0])
    started(manager, rx, 1)
    assert player.section == 0 and playing(rx) == ts_ref(rx, 0)
    # ... stream_0.ts plays to its new end in the same service (its reader was still retrying,
    # nothing restarted it), then stream_1.ts plays.
    assert await rx.until(lambda: player.section == 1, 5)
    assert service.position == service.length_pts() > end_of_first
    assert rx.played().count(ts_ref(rx, 0)) == 1
    assert playing(rx) == ts_ref(rx, 1) and not player.waiting

    # At the end of stream_1.ts while recording: wait; the recording's end lets it play on ...
    assert await rx.until(lambda: player.waiting, 5)
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert not player.waiting and rx.top() is player
    # ... and the reader's next EOF closes the player normally; the live channel is back.
    assert await rx.until(lambda: player not in rx.stack(), 3), rx.stack()
    await rx.settle()
    assert playing(rx) == rx.live_service()
    question = rx.top(ChoiceBox)
    assert question["text"].getText() == "Keep the recording of %s?" % TITLE
    assert rx.choice_values(question) == ["keep", "delete"]
    rx.choose(question, "delete")
    await rx.settle()
    await rx.controller.idle()
    assert sorted(os.listdir(rx.rec_dir)) == []  # the sections and their .cuts
    assert rx.watch.play_threads and set(rx.watch.play_threads) == {threading.current_thread().name}
    assert rx.watch.count(player_class()) == 1


@pytest_twisted.ensureDeferred
async def test_next_section_started_while_waiting_switches_at_once(rx, media_ts):
    """A section that starts while the player waits is switched to at once; after "background"
    later sections never open a player or play, and everything recorded is kept."""
    from Screens.ChoiceBox import ChoiceBox
    segments = media_ts["continuous"]
    manager, player = await start_watching(rx, "stream_0.ts", segments[0].read_bytes())
    assert await rx.until(lambda: player.waiting, 5)
    write_section(rx, 1, segments[1])
    started(manager, rx, 1)
    assert player.section == 1 and not player.waiting
    assert playing(rx) == ts_ref(rx, 1)

    # The viewer sends the recording to the background ...
    await rx.leave_player(player)
    question = rx.top(ChoiceBox)
    assert rx.choice_values(question) == ["keep", "delete", "background", "continue"]
    rx.choose(question, "background")
    await rx.settle()
    assert player not in rx.stack() and playing(rx) == rx.live_service()
    # ... where a later section never opens a player.
    write_section(rx, 2, segments[2])
    started(manager, rx, 2)
    await rx.settle()
    assert rx.watch.count(player_class()) == 1 and not rx.find(player_class())
    assert playing(rx) == rx.live_service()
    assert ts_ref(rx, 2) not in rx.played()

    manager.emit("stop", reason="complete", error_id=None, msg="")
    await rx.controller.idle()
    kept = sorted(os.listdir(rx.movie_dir))
    assert len(kept) == 8, kept  # 3 sections with .meta; the 2 that played with their .cuts
    base = min((n for n in kept if n.endswith(".ts")), key=len)[:-len(".ts")]
    assert base.startswith(TITLE + " - ")
    assert kept == sorted([base + ".ts", base + ".ts.meta", base + ".ts.cuts",
                           base + " (2).ts", base + " (2).ts.meta", base + " (2).ts.cuts",
                           base + " (3).ts", base + " (3).ts.meta"])
    assert not [n for n in os.listdir(rx.rec_dir) if n.startswith("stream_")]


@pytest_twisted.ensureDeferred
async def test_mp4_resume_reopens_and_seeks_back(rx, monkeypatch):
    """servicemp3 has finished at the old end of a growing .mp4: the player restarts the same
    reference (forceRestart) and seeks back to where it stopped."""
    import enigma
    from enigma import eServiceReference
    monkeypatch.setattr(enigma, "PLAY_SPEED", 20.0)
    path = rx.rec_dir / "stream_0.mp4"
    # servicemp3 does not parse the file here: its length is its size at MP4_BYTES_PER_S.
    chunk = b"\0" * (2 * enigma.MP4_BYTES_PER_S)  # two seconds

    manager, player = await start_watching(rx, "stream_0.mp4", chunk, recorder="mp4")
    mp4 = eServiceReference(4097, 0, str(path))
    assert playing(rx) == mp4
    first = rx.nav.getCurrentService()

    # gstreamer sends its one EOF at the end of what is on disk.
    assert await rx.until(lambda: player.waiting, 5)
    end = first.position
    assert end == first.length_pts() > 0
    # More arrives. The restarted service stands still (PLAY_SPEED 0), so the position it has
    # afterwards is the player's seek back to where the old one ended.
    monkeypatch.setattr(enigma, "PLAY_SPEED", 0.0)
    with open(path, "ab") as f:
        f.write(chunk)
    progress(manager, 0, 2 * len(chunk), recorder="mp4")
    assert not player.waiting
    assert rx.played().count(mp4) == 2, rx.played()  # Navigation restarted it (forceRestart)
    second = rx.nav.getCurrentService()
    assert second is not first and second.position == 0
    assert await rx.until(lambda: second.position == end, 3), (second.position, end)
    assert playing(rx) == mp4 and rx.top() is player


@pytest_twisted.ensureDeferred
async def test_error_while_watching_shows_words_over_the_player(rx, media_ts):
    """A recording error is shown in words over the player; an EOF while the message is on top
    is decided once the player executes again: it closes normally and the file can be kept."""
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    segments = media_ts["continuous"]
    manager, player = await start_watching(rx, "stream_0.ts", segments[0].read_bytes())
    service = rx.nav.getCurrentService()
    manager.emit("stop", reason="error", error_id="timeout", msg="no answer from example.com")
    box = rx.top(MessageBox)
    assert box.type == MessageBox.TYPE_ERROR
    assert box.text.startswith("Network timeout: the server stopped answering.")
    assert box.text.endswith("Details: no answer from example.com")

    # The file ends while the message is on top: the player is not the active screen and
    # decides once it is again.
    assert await rx.until(lambda: service.at_end, 5)
    await rx.settle()
    assert rx.top() is box and player in rx.stack()
    rx.press("KEY_OK")
    await rx.settle()
    assert box not in rx.stack()
    assert await rx.until(lambda: player not in rx.stack(), 2), rx.stack()
    await rx.settle()
    assert playing(rx) == rx.live_service()
    question = rx.top(ChoiceBox)
    assert question["text"].getText() == "Keep the recording of %s?" % TITLE
    rx.choose(question, "keep")
    await rx.settle()
    await rx.controller.idle()
    await rx.settle()
    kept = sorted(os.listdir(rx.movie_dir))
    assert len(kept) == 3 and kept[0].startswith(TITLE + " - "), kept
    assert kept == [kept[0], kept[0] + ".cuts", kept[0] + ".meta"]
    saved = "The recording was saved in the movie folder:\n" + kept[0]
    assert rx.top(MessageBox).text == saved
    assert rx.controller.status()["last_result"] == saved


@pytest_twisted.ensureDeferred
async def test_exit_policy_from_settings_needs_no_question(rx, media_ts):
    """With "delete" as the configured exit policy, STOP leaves the player, stops and deletes
    without any question."""
    from Screens.ChoiceBox import ChoiceBox
    rx.settings.on_exit.value = "delete"
    segments = media_ts["continuous"]
    manager, player = await start_watching(rx, "stream_0.ts", segments[0].read_bytes())
    rx.press("KEY_STOP")
    await rx.settle()
    assert player not in rx.stack() and manager.stop_calls == 1
    assert playing(rx) == rx.live_service()
    await rx.controller.idle()
    assert not (rx.rec_dir / "stream_0.ts").exists()
    assert os.listdir(rx.rec_dir) == []
    assert rx.watch.count(ChoiceBox) == 0
