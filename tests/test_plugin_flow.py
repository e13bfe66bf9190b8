"""Record-and-watch flows through the plugin: real loopback server, real recorders, fake GUI.

The reactor guard is active in every test here: plugin code must not connect sockets, join
threads or fsync on the reactor thread while it handles keys and messages.
"""

import json
import os
import subprocess

import pytest
import pytest_twisted

from helpers import recorder_threads, until
from plugin_harness import *  # noqa: F401,F403 - fixtures: enigma_env, reactor_guard
from plugin_harness import install_enigma_stubs, press
from streamrecorder.devserver import Fault

install_enigma_stubs()

from fake_session import is_closed  # noqa: E402
from enigma import eServiceReference, iPlayableService  # noqa: E402
from Plugins.Extensions.StreamRecorder import api, plugin  # noqa: E402
from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer  # noqa: E402
from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain  # noqa: E402
from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings  # noqa: E402
from Screens.ChoiceBox import ChoiceBox  # noqa: E402
from Screens.MessageBox import MessageBox  # noqa: E402

try:
    import streamrecorder.recorders.hls  # noqa: F401
    HAVE_HLS = True
except ImportError:
    HAVE_HLS = False

pytestmark = pytest.mark.usefixtures("reactor_guard")


def save_streams(env, *entries):
    env.streams_file.parent.mkdir(parents=True, exist_ok=True)
    env.streams_file.write_text(json.dumps({"version": 1, "streams": [
        {"name": name, "url": url, "recorder": "auto"} for name, url in entries]}))


async def open_main(env):
    plugin.main(env.session)
    main = env.session.top(StreamRecorderMain)
    await main.loading
    return main


async def wait_for_player(env, timeout=15):
    assert await until(lambda: env.session.find(StreamRecorderPlayer), timeout), (
        env.session.dialog_stack, env.controller.status())
    return env.session.find(StreamRecorderPlayer)[0]


def press_exit(player):
    player.hide()  # the first EXIT only hides the infobar
    press(player, "leavePlayerOnExit")


async def no_threads():
    """No recorder or worker thread busy (a pool worker is released just after its result)."""
    return await until(lambda: recorder_threads() == 0, 5)


def movie_files(env):
    return sorted(os.listdir(env.movie_dir)) if env.movie_dir.exists() else []


def owned(env):
    return sorted(n for n in os.listdir(env.rec_dir) if n.startswith("stream_"))


def dismiss_info(env):
    box = env.session.top(MessageBox)
    assert box.type == MessageBox.TYPE_INFO
    text = box.text
    box.close(True)
    return text


# --- MP4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("choice", ["keep", "delete"])
@pytest_twisted.ensureDeferred
async def test_mp4_watch_eof_then_exit(enigma_env, server, mp4_media, choice, reactor_guard):
    env = enigma_env
    data = mp4_media["faststart"].read_bytes()
    server.put("/film.mp4", data)
    # The server sends 3 MB and then stalls, so the recording is still running when we leave.
    server.add_fault(Fault(r"/film\.mp4", stall_after=3_000_000))
    save_streams(env, ("Evening film", server.url("/film.mp4")))
    main = await open_main(env)
    live = env.session.nav.getCurrentlyPlayingServiceReference()
    press(main, "ok")

    player = await wait_for_player(env)
    path = str(env.rec_dir / "stream_0.mp4")
    assert player.cur_service == eServiceReference(4097, 0, path)
    assert env.session.nav.played[-1] == (eServiceReference(4097, 0, path), True)  # reactor thread
    assert env.controller.status()["state"] == "recording"
    assert "Recording: Evening film" in main["status"].text
    assert os.path.getsize(path) >= 2 << 20

    # The player reaches the end of what is on disk: the buffer ran dry, nothing closes.
    env.session.nav.dispatch(iPlayableService.evEOF)
    assert env.session.top() is player and player.waiting
    assert env.controller.job.running

    press_exit(player)
    question = env.session.top(ChoiceBox)
    assert [c[1] for c in question.list] == ["keep", "delete", "background", "continue"]
    question.choose(choice)
    assert is_closed(player) and env.session.nav.getCurrentlyPlayingServiceReference() == live
    assert env.session.top() is main

    await env.controller.idle()
    assert env.controller.job.stop["reason"] == "user"
    assert await no_threads()
    if choice == "keep":
        kept = movie_files(env)
        assert len(kept) == 2 and kept[0].startswith("Evening film - ") and kept[0].endswith(".mp4")
        assert kept[1] == kept[0] + ".meta"
        meta = (env.movie_dir / kept[1]).read_text().split("\n")
        assert meta[0] == "4097:0:0:0:0:0:0:0:0:0:" and meta[1] == "Evening film"
        assert (env.movie_dir / kept[0]).read_bytes() == data[:os.path.getsize(env.movie_dir / kept[0])]
        assert kept[0] in dismiss_info(env)
    else:
        assert movie_files(env) == []
        assert "deleted" in main["status"].text
    assert owned(env) == []
    assert env.session.top() is main
    assert len(env.session.ever_opened(StreamRecorderPlayer)) == 1
    assert reactor_guard.checks > 0  # the guard saw the recorder's connections (off the reactor)


@pytest_twisted.ensureDeferred
async def test_background_recording_never_pops_up_and_is_kept(enigma_env, server, mp4_media):
    env = enigma_env
    server.put("/clip.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"/clip\.mp4", throttle_bps=4_000_000))  # still running at EXIT
    main = await open_main(env)
    # Another plugin hands over a resolved stream through the API.
    assert api.record_and_play(env.session, {"resolved_url": server.url("/clip.mp4"),
                                             "title": "Clip: part 1/2"})
    player = await wait_for_player(env)
    press_exit(player)
    env.session.top(ChoiceBox).choose("background")
    assert is_closed(player) and env.session.top() is main
    assert env.session.nav.getCurrentlyPlayingServiceReference() == env.live_service()
    assert env.controller.job.running and not env.controller.job.watch
    # The recording outlives the screen; a reopened screen shows it (one shared Manager).
    manager = env.controller.manager
    press(main, "cancel")
    main = await open_main(env)
    assert env.controller.manager is manager
    assert "Recording: Clip: part 1/2" in main["status"].text
    await env.controller.idle()
    assert env.controller.job.stop["reason"] == "complete"
    assert len(env.session.ever_opened(StreamRecorderPlayer)) == 1  # no second pop-up
    kept = movie_files(env)
    assert len(kept) == 2 and kept[0].startswith("Clip part 1 2 - ")  # FAT-safe name
    assert (env.movie_dir / kept[0]).read_bytes() == mp4_media["faststart"].read_bytes()
    dismiss_info(env)
    assert "saved in the movie folder" in main["status"].text


@pytest_twisted.ensureDeferred
async def test_blue_stops_and_a_new_recording_keeps_the_running_one(enigma_env, server, mp4_media):
    env = enigma_env
    server.put("/a.mp4", mp4_media["faststart"].read_bytes())
    server.put("/b.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"\.mp4", stall_after=3_000_000))
    save_streams(env, ("A", server.url("/a.mp4")), ("B", server.url("/b.mp4")))
    main = await open_main(env)
    press(main, "ok")
    press_exit(await wait_for_player(env))
    env.session.top(ChoiceBox).choose("background")
    # OK on another stream while A records: asked first, then A is kept and B starts.
    main["streams"].setIndex(1)
    press(main, "ok")
    question = env.session.top(MessageBox)
    assert "A recording is running: A" in question.text
    question.close(True)
    player = await wait_for_player(env)
    assert env.controller.job.title == "B"
    assert [n for n in movie_files(env) if n.endswith(".mp4")][0].startswith("A - ")
    press_exit(player)
    env.session.top(ChoiceBox).choose("background")
    messages = env.session.find(MessageBox)
    for box in reversed(messages):  # A's "saved" note
        box.close(True)
    # Blue: stop B, asked keep/delete; delete.
    press(main, "blue")
    env.session.top(ChoiceBox).choose("delete")
    await env.controller.idle()
    assert env.controller.job.stop["reason"] == "user" and owned(env) == []
    assert [n for n in movie_files(env) if n.endswith(".mp4")] == [movie_files(env)[0]]
    press(main, "blue")
    assert main["status"].text == "No recording is running."
    assert await no_threads()


# --- errors ---------------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_access_denied_shows_words_and_leaves_no_thread(enigma_env, server):
    env = enigma_env
    server.add_fault(Fault(r"/secret\.mp4", status=403))
    env.rec_dir.mkdir(parents=True)
    # Files from before the GUI started: offered as left-overs; "decide later", then a new
    # recording starts, so they are kept in the movie folder first (its cleanup would
    # remove them), never deleted.
    (env.rec_dir / "stream_0.ts").write_bytes(b"G" * 188)
    save_streams(env, ("Secret", server.url("/secret.mp4")))
    main = await open_main(env)
    await main.leftover_check
    env.session.top(ChoiceBox).choose("later")
    press(main, "ok")
    assert await until(lambda: len(env.session.find(MessageBox)) == 2, 15)
    saved, box = env.session.find(MessageBox)
    assert saved.type == MessageBox.TYPE_INFO and "movie folder" in saved.text
    assert box.type == MessageBox.TYPE_ERROR
    assert box.text.startswith("Access denied: the server refused this stream.")
    assert env.controller.job.stop["error_id"] == "forbidden"
    assert await no_threads()
    assert not env.session.ever_opened(StreamRecorderPlayer)
    box.close()
    saved.close()
    await env.controller.idle()
    assert owned(env) == [] and [n for n in movie_files(env) if n.endswith(".ts")]
    assert "Access denied" in main["status"].text


@pytest_twisted.ensureDeferred
async def test_no_storage_says_so_and_opens_settings(enigma_env, server, monkeypatch):
    from Plugins.Extensions.StreamRecorder import storage
    env = enigma_env
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(env.root / "media" / "usb"),))
    save_streams(env, ("Any", server.url("/any.mp4")))
    main = await open_main(env)
    press(main, "ok")
    assert await until(lambda: env.session.find(MessageBox))
    box = env.session.top(MessageBox)
    assert "No hard disk or USB storage" in box.text
    box.close()
    assert isinstance(env.session.top(), StreamRecorderSettings)
    assert not server.paths_requested("any")
    assert env.controller.status()["state"] == "idle"


# --- HLS with a resolution change -----------------------------------------------------------
@pytest.fixture(scope="module")
def two_resolution_hls(tmp_path_factory):
    """A tiny VOD: 2 s at 320x240, then 2 s at 640x360 (EXT-X-DISCONTINUITY), 1 s segments."""
    root = tmp_path_factory.mktemp("hls2res")
    for prefix, size in (("a", "320x240"), ("b", "640x360")):
        subprocess.run([
            "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=%s:rate=25" % size,
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25",
            "-sc_threshold", "0", "-c:a", "aac", "-f", "hls", "-hls_time", "1",
            "-hls_playlist_type", "vod", "-hls_segment_filename", str(root / (prefix + "_%d.ts")),
            str(root / (prefix + ".m3u8"))], check=True, timeout=60)
    segments = {}
    for prefix in ("a", "b"):
        lines = (root / (prefix + ".m3u8")).read_text().splitlines()
        segments[prefix] = [(lines[i], lines[i + 1]) for i, line in enumerate(lines)
                            if line.startswith("#EXTINF")]
    playlist = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2",
                "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for extinf, name in segments["a"]:
        playlist += [extinf, name]
    playlist.append("#EXT-X-DISCONTINUITY")
    for extinf, name in segments["b"]:
        playlist += [extinf, name]
    playlist.append("#EXT-X-ENDLIST")
    files = {"/hls/" + p.name: p.read_bytes() for p in root.glob("*.ts")}
    files["/hls/index.m3u8"] = ("\n".join(playlist) + "\n").encode()
    return files


@pytest.mark.skipif(not HAVE_HLS, reason="streamrecorder.recorders.hls is not available yet")
@pytest_twisted.ensureDeferred
async def test_hls_resolution_change_switches_to_the_next_section(enigma_env, server,
                                                                 two_resolution_hls):
    env = enigma_env
    for path, body in two_resolution_hls.items():
        server.put(path, body)
    # The first 640x360 segment comes late: the player runs dry on stream_0.ts meanwhile.
    late = server.add_fault(Fault(r"/hls/b_0\.ts", latency=1.5))
    env.settings.buffering.value = 1
    env.settings.parallel.value = 1
    save_streams(env, ("Two sizes", server.url("/hls/index.m3u8")))
    main = await open_main(env)
    press(main, "ok")
    player = await wait_for_player(env)
    first = eServiceReference(1, 0, str(env.rec_dir / "stream_0.ts"))
    second = eServiceReference(1, 0, str(env.rec_dir / "stream_1.ts"))
    assert player.cur_service == first and env.session.nav.played[-1] == (first, True)

    env.session.nav.dispatch(iPlayableService.evEOF)  # stream_0.ts exhausted for now
    assert env.session.top() is player and (player.waiting or player.section == 1)
    assert await until(lambda: 1 in env.controller.job.sections, 15), env.controller.job.sections
    if player.section == 0:
        # More of stream_0.ts arrived first and playback resumed; its end comes again.
        assert not player.waiting
        env.session.nav.dispatch(iPlayableService.evEOF)
    assert player.section == 1
    assert late.hits >= 1
    assert env.session.nav.getCurrentlyPlayingServiceReference() == second
    assert env.session.nav.played[-1] == (second, True)
    assert not player.waiting

    # The recording completes; the end of the last section closes the player normally.
    assert await until(lambda: env.controller.job.stop is not None, 15)
    assert env.controller.job.stop["reason"] == "complete", env.controller.job.stop
    env.session.nav.dispatch(iPlayableService.evEOF)
    assert is_closed(player)
    assert env.session.nav.getCurrentlyPlayingServiceReference() == env.live_service()
    keep = env.session.top(ChoiceBox)
    assert [c[1] for c in keep.list] == ["keep", "delete"]
    keep.choose("keep")
    await env.controller.idle()
    kept = movie_files(env)
    assert len(kept) == 6, kept  # two sections, each with its .ap and .meta
    ts = sorted((n for n in kept if n.endswith(".ts")), key=len)  # section 1 first, " (2)" next
    assert ts[0].startswith("Two sizes - ") and ts[1] == ts[0][:-3] + " (2).ts"
    for name in ts:
        meta = (env.movie_dir / (name + ".meta")).read_text().split("\n")
        assert meta[0] == "1:0:0:0:0:0:0:0:0:0:" and meta[1].startswith("Two sizes")
    assert owned(env) == []
    dismiss_info(env)
    assert await no_threads()
