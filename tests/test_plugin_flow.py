"""Record-and-watch flows on OpenPLi's real enigma2 tree: real loopback server, real recorders.

The viewer's side is the real tree (session, InfoBar, MoviePlayer, ChoiceBox, MessageBox,
Navigation, keymap.xml); only the C++ `enigma` module is a stand-in, whose playback of the
growing files sends the service events (evStart, evEOF at the end of what is on disk). Keys go
through rx.press as from the remote control.

The reactor guard is active in every test here: plugin code must not connect sockets, join
threads or fsync on the reactor thread while it handles keys and messages.
"""

import os
import threading

import pytest
import pytest_twisted

from helpers import recorder_threads
from hls_server import publish_vod
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import Watch, player_class
from streamrecorder.devserver import Fault

pytestmark = pytest.mark.usefixtures("reactor_guard")


# --- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def rx(receiver, reactor_guard, monkeypatch):
    """The receiver, its live channel playing; playback at 20x so a file's end comes soon."""
    import enigma
    monkeypatch.setattr(enigma, "PLAY_SPEED", 20.0)
    receiver.watch = Watch(receiver, monkeypatch)
    return receiver


# --- helpers -------------------------------------------------------------------------------------
def save_streams(rx, *entries):
    rx.save_streams(*entries)


async def open_main(rx):
    return await rx.open_main()


async def answer(rx, box):
    """KEY_OK on a MessageBox (an info is dismissed, a question answered with its default)."""
    assert rx.top() is box
    rx.press("KEY_OK")
    await rx.settle()
    assert box not in rx.stack()


def playing(rx):
    return rx.nav.getCurrentlyPlayingServiceReference()


def status_text(main):
    return main["status"].getText()


async def no_threads():
    """No recorder or worker thread busy (a pool worker is released just after its result)."""
    from helpers import until
    return await until(lambda: recorder_threads() == 0, 5)


def movie_files(rx):
    return sorted(os.listdir(rx.movie_dir)) if rx.movie_dir.exists() else []


def owned(rx):
    return sorted(n for n in os.listdir(rx.rec_dir) if n.startswith("stream_"))


# --- MP4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("choice", ["keep", "delete"])
@pytest_twisted.ensureDeferred
async def test_mp4_watch_eof_then_exit(rx, server, mp4_media, choice, reactor_guard):
    """OK on a saved stream records and plays it; at the end of what is on disk the player waits;
    EXIT asks, and keep moves the file (with .meta) to the movie folder, delete removes it."""
    from enigma import eServiceReference
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    data = mp4_media["faststart"].read_bytes()
    server.put("/film.mp4", data)
    # The server sends 3 MB and then stalls, so the recording is still running when we leave.
    server.add_fault(Fault(r"/film\.mp4", stall_after=3_000_000))
    save_streams(rx, ("Evening film", server.url("/film.mp4")))
    main = await open_main(rx)
    live = playing(rx)
    assert live == rx.live_service()
    rx.press("KEY_OK")
    await rx.answer_end()

    player = await rx.wait_player()
    path = str(rx.rec_dir / "stream_0.mp4")
    assert player.cur_service == eServiceReference(4097, 0, path)
    assert rx.played()[-1] == eServiceReference(4097, 0, path) and playing(rx) == player.cur_service
    assert rx.controller.status()["state"] == "recording"
    assert status_text(main).startswith("Recording: Evening film")
    assert os.path.getsize(path) >= 2 << 20

    # Playback reaches the end of what is on disk (the server stalls at 3 MB): the buffer ran
    # dry, nothing closes.
    assert await rx.until(lambda: player.waiting and os.path.getsize(path) == 3_000_000
                          and rx.nav.getCurrentService().at_end, 10), "no EOF at the stall"
    assert rx.top() is player and rx.controller.job.running

    await rx.leave_player(player)
    question = rx.top(ChoiceBox)
    assert question["text"].getText() == "Stop watching Evening film?"
    assert rx.choice_values(question) == ["keep", "delete", "background", "continue"]
    rx.choose(question, choice)
    await rx.settle()
    assert player not in rx.stack() and playing(rx) == live
    assert rx.stack()[1] is main  # above it only the "saved" note, once the file has moved

    await rx.controller.idle()
    await rx.settle()
    assert rx.controller.job.stop["reason"] == "user"
    assert await no_threads()
    if choice == "keep":
        kept = movie_files(rx)
        assert len(kept) == 2 and kept[0].startswith("Evening film - ") and kept[0].endswith(".mp4")
        assert kept[1] == kept[0] + ".meta"
        meta = (rx.movie_dir / kept[1]).read_text().split("\n")
        assert meta[0] == "4097:0:0:0:0:0:0:0:0:0:" and meta[1] == "Evening film"
        assert (rx.movie_dir / kept[0]).read_bytes() == data[:3_000_000]
        info = rx.top(MessageBox)
        assert info.type == MessageBox.TYPE_INFO
        assert info.text == "The recording was saved in the movie folder:\n" + kept[0]
        await answer(rx, info)
    else:
        assert movie_files(rx) == []
        assert status_text(main) == "The recording of Evening film was deleted."
    assert owned(rx) == []
    assert rx.top() is main
    assert rx.watch.count(player_class()) == 1
    assert set(rx.watch.play_threads) == {threading.current_thread().name}
    assert reactor_guard.checks > 0  # the guard saw the recorder's connections (off the reactor)


@pytest_twisted.ensureDeferred
async def test_background_recording_never_pops_up_and_is_kept(rx, server, mp4_media):
    """A recording sent to the background outlives the main screen, is shown again when the
    screen reopens, never opens a second player and is kept when it completes."""
    from Plugins.Extensions.StreamRecorder import api
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    data = mp4_media["faststart"].read_bytes()
    server.put("/clip.mp4", data)
    server.add_fault(Fault(r"/clip\.mp4", throttle_bps=2_000_000))  # still running at EXIT
    main = await open_main(rx)
    # Another plugin hands over a resolved stream through the API.
    assert api.record_and_play(rx.session, {"resolved_url": server.url("/clip.mp4"),
                                            "title": "Clip: part 1/2"})
    player = await rx.wait_player()
    await rx.leave_player(player)
    rx.choose(rx.top(ChoiceBox), "background")
    await rx.settle()
    assert player not in rx.stack() and rx.top() is main
    assert playing(rx) == rx.live_service()
    job = rx.controller.job
    assert job.running and not job.watch
    # The recording outlives the screen; a reopened screen shows it (one shared Manager).
    manager = rx.controller.manager
    rx.press("KEY_EXIT")
    await rx.settle()
    assert main not in rx.stack() and not rx.find(StreamRecorderMain)
    main = await open_main(rx)
    assert rx.controller.manager is manager
    assert status_text(main).startswith("Recording: Clip: part 1/2")

    await rx.controller.idle()
    await rx.settle()
    assert job.stop["reason"] == "complete"
    assert rx.watch.count(player_class()) == 1  # no second pop-up
    kept = movie_files(rx)
    assert len(kept) == 2 and kept[0].startswith("Clip part 1 2 - ")  # FAT-safe name
    assert kept[1] == kept[0] + ".meta"
    assert (rx.movie_dir / kept[0]).read_bytes() == data
    info = rx.top(MessageBox)
    assert info.text == "The recording was saved in the movie folder:\n" + kept[0]
    await answer(rx, info)
    assert rx.top() is main
    assert status_text(main) == "The recording was saved in the movie folder:\n" + kept[0]


@pytest_twisted.ensureDeferred
async def test_blue_stops_and_a_new_recording_keeps_the_running_one(rx, server, mp4_media):
    """A new recording asks first, then keeps the running one before it starts; BLUE stops the
    running recording with keep/delete, and says so when nothing runs."""
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    server.put("/a.mp4", mp4_media["faststart"].read_bytes())
    server.put("/b.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"\.mp4", stall_after=3_000_000))
    save_streams(rx, ("A", server.url("/a.mp4")), ("B", server.url("/b.mp4")))
    main = await open_main(rx)
    rx.press("KEY_OK")
    await rx.answer_end()
    await rx.leave_player(await rx.wait_player())
    rx.choose(rx.top(ChoiceBox), "background")
    await rx.settle()
    assert rx.top() is main and rx.controller.job.title == "A" and rx.controller.job.running

    # OK on another stream while A records: asked first, then A is kept and B starts. (The
    # stand-in's eListbox has no native ListboxActions, so KEY_DOWN cannot move the list: the
    # selection is set on the list source, as the listbox would.)
    main["streams"].setIndex(1)
    rx.press("KEY_OK")
    await rx.settle()
    question = rx.top(MessageBox)
    assert question.type == MessageBox.TYPE_YESNO
    assert question.text.startswith("A recording is running: A\n")
    await answer(rx, question)  # yes
    await rx.answer_end()
    player = await rx.wait_player()
    assert rx.controller.job.title == "B"
    kept_a = [n for n in movie_files(rx) if n.endswith(".mp4")]
    assert len(kept_a) == 1 and kept_a[0].startswith("A - ")
    # A's "saved" note came before B's player opened over it.
    stack = rx.stack()
    saved = [d for d in stack if isinstance(d, MessageBox)]
    assert len(saved) == 1 and stack.index(saved[0]) < stack.index(player)
    assert saved[0].text == "The recording was saved in the movie folder:\n" + kept_a[0]

    await rx.leave_player(player)
    rx.choose(rx.top(ChoiceBox), "background")
    await rx.settle()
    await answer(rx, saved[0])
    assert rx.top() is main

    # Blue: stop B, asked keep/delete; delete.
    rx.press("KEY_BLUE")
    await rx.settle()
    stop_question = rx.top(ChoiceBox)
    assert stop_question["text"].getText() == "Stop recording B?"
    assert rx.choice_values(stop_question) == ["keep", "delete", "continue"]
    rx.choose(stop_question, "delete")
    await rx.settle()
    await rx.controller.idle()
    assert rx.controller.job.stop["reason"] == "user" and owned(rx) == []
    assert [n for n in movie_files(rx) if n.endswith(".mp4")] == kept_a
    rx.press("KEY_BLUE")
    await rx.settle()
    assert status_text(main) == "No recording is running."
    assert rx.top() is main
    assert await no_threads()


# --- errors ---------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_access_denied_shows_words_and_leaves_no_thread(rx, server):
    """HTTP 403 is shown in words, no player opens and no thread is left; left-over files put off
    with "decide later" are kept before the new recording's cleanup, never deleted."""
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    server.add_fault(Fault(r"/secret\.mp4", status=403))
    rx.rec_dir.mkdir(parents=True)
    # Files from before the GUI started: offered as left-overs; "decide later", then a new
    # recording starts, so they are kept in the movie folder first (its cleanup would
    # remove them), never deleted.
    (rx.rec_dir / "stream_0.ts").write_bytes(b"G" * 188)
    save_streams(rx, ("Secret", server.url("/secret.mp4")))
    main = await open_main(rx)
    offer = rx.top(ChoiceBox)
    assert offer["text"].getText().startswith("An unfinished recording was found in %s." % rx.rec_dir)
    rx.choose(offer, "later")
    await rx.settle()
    assert rx.top() is main
    rx.press("KEY_OK")
    await rx.answer_end()
    assert await rx.until(lambda: len(rx.find(MessageBox)) == 2, 15), rx.stack()
    await rx.settle()
    saved, box = rx.find(MessageBox)
    assert saved.type == MessageBox.TYPE_INFO
    assert saved.text.startswith("The recording was saved in the movie folder:\nStream recording - ")
    assert rx.top() is box and box.type == MessageBox.TYPE_ERROR
    assert box.text.startswith("Access denied: the server refused this stream.")
    assert rx.controller.job.stop["error_id"] == "forbidden"
    assert await no_threads()
    assert rx.watch.count(player_class()) == 0
    saved_name = saved.text.split("\n")[1]
    await answer(rx, box)
    await answer(rx, saved)
    await rx.controller.idle()
    assert owned(rx) == []
    assert [n for n in movie_files(rx) if n.endswith(".ts")] == [saved_name]
    assert status_text(main).startswith("Access denied: the server refused this stream.")


@pytest_twisted.ensureDeferred
async def test_no_storage_says_so_and_opens_settings(rx, server, monkeypatch):
    """Without a hard disk or USB storage the user is told so and lands in the settings; nothing
    is requested from the server."""
    from Plugins.Extensions.StreamRecorder import storage
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    from Screens.MessageBox import MessageBox
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(rx.root / "media" / "usb"),))
    save_streams(rx, ("Any", server.url("/any.mp4")))
    await open_main(rx)
    rx.press("KEY_OK")
    await rx.answer_end()
    assert await rx.until(lambda: rx.find(MessageBox), 5)
    await rx.settle()
    box = rx.top(MessageBox)
    assert box.type == MessageBox.TYPE_ERROR
    assert box.text.startswith("No hard disk or USB storage with free space was found.")
    await answer(rx, box)
    rx.top(StreamRecorderSettings)
    assert not server.paths_requested("any")
    assert rx.controller.status()["state"] == "idle"


# --- HLS with a resolution change -----------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_hls_resolution_change_switches_to_the_next_section(rx, server, media_ts):
    """An HLS stream that changes resolution records a second section; the player waits at the
    end of the first, switches when the second starts, closes at the end of the last and both
    sections are kept with their .ap, .cuts and .meta."""
    from enigma import eServiceReference
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    # A tiny VOD: 2 s at 320x240, then 2 s at 640x360 after an EXT-X-DISCONTINUITY.
    segments = media_ts["continuous"][:2] + media_ts["640"][:2]
    url = publish_vod(server, "hls", segments, extra={2: ["#EXT-X-DISCONTINUITY"]})
    # The first 640x360 segment comes late: the player runs dry on stream_0.ts meanwhile.
    late = server.add_fault(Fault(r"/hls/seg_2\.ts", latency=1.5))
    rx.settings.buffering.value = 1
    rx.settings.parallel.value = 1
    save_streams(rx, ("Two sizes", url))
    await open_main(rx)
    rx.press("KEY_OK")
    await rx.answer_end()
    player = await rx.wait_player()
    first = eServiceReference(1, 0, str(rx.rec_dir / "stream_0.ts"))
    second = eServiceReference(1, 0, str(rx.rec_dir / "stream_1.ts"))
    assert player.cur_service == first and rx.played()[-1] == first

    # stream_0.ts is exhausted for now: the player waits there.
    assert await rx.until(lambda: player.waiting, 10), "no EOF came from the playback"
    assert player.section == 0 and 1 not in rx.controller.job.sections
    # The new section starts: the player switches to it.
    assert await rx.until(lambda: player.section == 1, 15), rx.controller.job.sections
    assert late.hits >= 1
    assert playing(rx) == second and rx.played()[-1] == second
    assert rx.played().count(first) == 1

    # The recording completes; the end of the last section closes the player normally.
    job = rx.controller.job
    assert await rx.until(lambda: job.stop is not None, 15)
    assert job.stop["reason"] == "complete", job.stop
    assert await rx.until(lambda: player not in rx.stack(), 5), rx.stack()
    await rx.settle()
    assert playing(rx) == rx.live_service()
    keep = rx.top(ChoiceBox)
    assert keep["text"].getText() == "Keep the recording of Two sizes?"
    assert rx.choice_values(keep) == ["keep", "delete"]
    rx.choose(keep, "keep")
    await rx.settle()
    await rx.controller.idle()
    kept = movie_files(rx)
    ts = sorted((n for n in kept if n.endswith(".ts")), key=len)  # section 1 first, " (2)" next
    assert len(ts) == 2 and ts[0].startswith("Two sizes - ") and ts[1] == ts[0][:-3] + " (2).ts"
    # Each section with its seeking index, its .meta and the cue sheet the player left.
    assert kept == sorted(name + extra for name in ts for extra in ("", ".ap", ".cuts", ".meta"))
    for number, name in enumerate(ts, 1):
        meta = (rx.movie_dir / (name + ".meta")).read_text().split("\n")
        assert meta[0] == "1:0:0:0:0:0:0:0:0:0:"
        assert meta[1] == ("Two sizes" if number == 1 else "Two sizes (2)")
    assert owned(rx) == [], "kept: the sections moved, stream_state.json gone with them"
    info = rx.top(MessageBox)
    assert info.text == "The recording was saved in the movie folder:\n" + "\n".join(ts)
    await answer(rx, info)
    assert await no_threads()
