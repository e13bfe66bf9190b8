"""Receiver-side parts of issues 7 and 8 through the plugin and the enigma2 stand-ins.

- the local control socket as the settings describe it (real sockets against the controller),
- the free-space reserve reaching the recorders,
- left-over files of a recording whose end the GUI never saw (keep, delete, decide later),
- a running recording as a job in enigma2's job list: standby goes on recording, deep standby
  and restart ask first and stop the recorder cleanly,
- kept file names that FAT accepts.
"""

import json
import os
import socket
import stat
import struct
import time

import pytest
import pytest_twisted
from twisted.internet import threads

from helpers import recorder_threads, until
from plugin_harness import *  # noqa: F401,F403 - fixtures: enigma_env, reactor_guard
from plugin_harness import install_enigma_stubs
from streamrecorder.devserver import Fault
from test_plugin_player import ScriptedManager, progress, start_watching

install_enigma_stubs()

import enigma  # noqa: E402
from Components.Task import job_manager  # noqa: E402
from enigma import iPlayableService  # noqa: E402
from fake_session import is_closed  # noqa: E402
from Plugins.Extensions.StreamRecorder import controller as controller_module  # noqa: E402
from Plugins.Extensions.StreamRecorder import plugin, recordings, texts  # noqa: E402
from Plugins.Extensions.StreamRecorder import config as cfg  # noqa: E402
from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer  # noqa: E402
from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain  # noqa: E402
from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings  # noqa: E402
from Screens.ChoiceBox import ChoiceBox  # noqa: E402
from Screens.MessageBox import MessageBox  # noqa: E402
from Screens.Standby import QUIT_RESTART, QUIT_SHUTDOWN, Standby, TryQuitMainloop  # noqa: E402


# --- helpers --------------------------------------------------------------------------------
@pytest.fixture
def scripted(enigma_env):
    """The plugin's controller with a scripted Manager (see test_plugin_player.py)."""
    ctrl = controller_module.Controller(manager_factory=ScriptedManager)
    controller_module._controller = ctrl
    return ctrl


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(address, *frames, family=socket.AF_INET):
    """Blocking client (run it in a thread): send frames, return the replies (None at EOF)."""
    replies = []
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(address)
        for frame in frames:
            data = json.dumps(frame).encode()
            sock.sendall(struct.pack(">I", len(data)) + data)
            while True:
                reply = _recv(sock)
                if reply is None or "message" not in reply:
                    break
            replies.append(reply)
            if reply is None:
                break
    return replies


def _recv(sock):
    head = _exact(sock, 4)
    if head is None:
        return None
    body = _exact(sock, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _exact(sock, n):
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def refused(address, family=socket.AF_INET):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(address)
    except OSError:
        return True
    return False


async def open_main(env):
    plugin.main(env.session)
    main = env.session.top(StreamRecorderMain)
    await main.loading
    await main.leftover_check
    return main


def write_leftover(env, title="Late film"):
    """What a crash leaves: two sections with .ap and the core's .meta, plus a user's files."""
    env.rec_dir.mkdir(parents=True, exist_ok=True)
    (env.rec_dir / "stream_0.ts").write_bytes(b"G" * 188 * 1000)
    (env.rec_dir / "stream_0.ts.ap").write_bytes(b"\0" * 16)
    (env.rec_dir / "stream_0.ts.meta").write_text(
        "1:0:0:0:0:0:0:0:0:0:\n%s\n\n1716000000\n\n0\n0\n\n188\n0\n" % title)
    (env.rec_dir / "stream_1.ts").write_bytes(b"G" * 188 * 500)
    (env.rec_dir / "notes.txt").write_text("mine")
    (env.rec_dir / "stream_x.ts").write_text("not the recorder's")


def names(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def pending_names():
    return [job.name for job in job_manager.getPendingJobs()]


# --- control socket -------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_control_socket_follows_the_settings(enigma_env, server, mp4_media, reactor_guard):
    env = enigma_env
    s = env.settings
    assert s.control_enabled.value is False and s.control_token.value == ""
    port = free_port()
    s.control_port.value = port
    # Off by default: the session start opens nothing and creates no controller.
    plugin.sessionstart(reason=0, session=env.session)
    assert controller_module._controller is None
    assert await threads.deferToThread(refused, ("127.0.0.1", port))

    # Enabled in the settings screen: a token appears at once and is shown there.
    main = await open_main(env)
    main.keySettings()
    screen = env.session.top(StreamRecorderSettings)
    elements = [entry[1] for entry in screen["config"].list]
    assert s.reserve_mb in elements and s.control_enabled in elements
    assert s.control_token not in elements and s.control_port not in elements
    screen["config"].setCurrentIndex(elements.index(s.control_enabled))
    screen.keyRight()
    token = s.control_token.value
    assert len(token) >= 20
    shown = [entry[1] for entry in screen["config"].list]
    assert s.control_token in shown and s.control_port in shown and s.control_path not in shown
    screen.keySave()
    assert s.control_token.saved_value == token and s.control_enabled.saved_value == "true"
    ctrl = env.controller
    assert await until(lambda: ctrl.control.server is not None, 10), ctrl.control.error
    assert ctrl.control.server.default_rec_dir == str(env.hdd / "streamrecorder")

    # A real client: hello with the token, status; a wrong token is refused.
    address = ("127.0.0.1", port)
    replies = await threads.deferToThread(call, address, {"cmd": "hello", "token": token},
                                          {"cmd": "status"})
    assert replies[0] == {"ok": True, "cmd": "hello"}
    assert replies[1]["ok"] is True and replies[1]["status"]["state"] == "idle"
    bad = await threads.deferToThread(call, address, {"cmd": "hello", "token": "wrong-token"},
                                      {"cmd": "status"})
    assert bad[0] == {"ok": False, "error": "authentication failed"} and bad[1:] in ([], [None])

    # A recording started by the other program is shown and is a job in enigma2's list too.
    server.put("/film.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"/film\.mp4", stall_after=3_000_000))
    replies = await threads.deferToThread(call, address, {"cmd": "hello", "token": token}, {
        "cmd": "record", "resolve_result": {"resolved_url": server.url("/film.mp4"),
                                            "recorder_id": "mp4"}})
    assert replies[1] == {"ok": True, "cmd": "record"}
    assert await until(lambda: ctrl.job is not None and ctrl.job.adopted and ctrl.job.sections, 15)
    assert len(pending_names()) == 1
    assert (env.rec_dir / "stream_0.mp4").is_file()
    replies = await threads.deferToThread(call, address, {"cmd": "hello", "token": token},
                                          {"cmd": "stop"})
    assert replies[1]["ok"] is True
    assert await until(lambda: ctrl.job.stop is not None, 15)
    assert pending_names() == []
    await ctrl.idle()
    assert (env.rec_dir / "stream_0.mp4").is_file()  # the other program's: untouched

    # A unix socket instead: the TCP port closes, the socket file is private (0600).
    path = str(env.root / "sr.sock")
    s.control_kind.value = "unix"
    s.control_path.value = path
    assert await ctrl.apply_settings() == ""
    assert await threads.deferToThread(refused, address)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    replies = await threads.deferToThread(call, path, {"cmd": "hello", "token": token},
                                          {"cmd": "status"}, family=socket.AF_UNIX)
    assert replies[1]["ok"] is True

    # Disabled again through the settings: nothing listens and the socket file is gone.
    main.keySettings()
    screen = env.session.top(StreamRecorderSettings)
    elements = [entry[1] for entry in screen["config"].list]
    assert s.control_path in elements
    screen["config"].setCurrentIndex(elements.index(s.control_enabled))
    screen.keyRight()
    assert s.control_path not in [entry[1] for entry in screen["config"].list]
    screen.keySave()
    assert await until(lambda: ctrl.control.server is None and not os.path.exists(path))
    assert await threads.deferToThread(refused, address)
    assert s.control_token.value == token  # kept for the next time it is enabled


@pytest_twisted.ensureDeferred
async def test_control_socket_opens_at_session_start_and_reports_a_busy_port(enigma_env):
    env = enigma_env
    s = env.settings
    s.control_enabled.value = True
    s.control_token.value = ""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        s.control_port.value = taken.getsockname()[1]
        plugin.sessionstart(reason=0, session=env.session)
        ctrl = env.controller
        assert len(s.control_token.value) >= 20  # generated and saved for the other program
        assert s.control_token.saved_value == s.control_token.value
        assert await until(lambda: ctrl.control.error, 10)
        assert "could not be opened" in ctrl.control.error and ctrl.control.server is None
    port = free_port()
    s.control_port.value = port
    assert await ctrl.apply_settings() == ""
    replies = await threads.deferToThread(
        call, ("127.0.0.1", port), {"cmd": "hello", "token": s.control_token.value})
    assert replies == [{"ok": True, "cmd": "hello"}]
    # enigma2 quits: the socket closes with the controller's shutdown.
    plugin.autostart(reason=1)
    assert await until(lambda: refused(("127.0.0.1", port)))


@pytest_twisted.ensureDeferred
async def test_socket_recording_keeps_undecided_leftovers_first(enigma_env, server, mp4_media):
    """Another program records over the socket before anyone opened the plugin after a crash:
    the left-over files go to the movie folder, never into the new recording's cleanup."""
    env = enigma_env
    s = env.settings
    write_leftover(env, "Crash film")
    port = free_port()
    s.control_enabled.value = True
    s.control_port.value = port
    plugin.sessionstart(reason=0, session=env.session)
    ctrl = env.controller
    assert await until(lambda: ctrl.control.server is not None, 10), ctrl.control.error
    server.put("/new.mp4", mp4_media["faststart"].read_bytes())
    replies = await threads.deferToThread(
        call, ("127.0.0.1", port), {"cmd": "hello", "token": s.control_token.value},
        {"cmd": "record", "resolve_result": {"resolved_url": server.url("/new.mp4"),
                                             "recorder_id": "mp4"}})
    assert replies[1] == {"ok": True, "cmd": "record"}
    assert await until(lambda: ctrl.job is not None and ctrl.job.stop is not None, 20)
    assert ctrl.job.stop["reason"] == "complete"
    kept = names(env.movie_dir)
    assert [n for n in kept if n.startswith("Crash film") and n.endswith(".ts")], kept
    assert [n for n in kept if n.endswith(".ts.ap")] and [n for n in kept if n.endswith(".meta")]
    assert "notes.txt" in names(env.rec_dir) and "stream_x.ts" in names(env.rec_dir)
    await ctrl.idle()


@pytest_twisted.ensureDeferred
async def test_settings_refuse_a_short_token(enigma_env):
    env = enigma_env
    env.settings.control_enabled.value = True
    env.settings.control_token.value = "short"
    screen = env.session.open(StreamRecorderSettings)
    screen.keySave()
    box = env.session.top(MessageBox)
    assert "at least 8 characters" in box.text
    box.close()
    assert env.session.top() is screen
    screen.keyCancel()
    assert env.settings.control_enabled.value is False


# --- free-space reserve ---------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_reserve_reaches_the_recorders(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    assert env.settings.reserve_mb.value == 500
    assert cfg.recorder_options()["reserve_bytes"] == 500_000_000
    env.settings.reserve_mb.value = 1234
    manager, player = await start_watching(env, ctrl)
    assert manager.recorder_options["reserve_bytes"] == 1_234_000_000
    text = texts.error_text("disk_full")
    assert "full" in text and "reserve" in text and "Keep free on the device" in text
    manager.emit("stop", reason="error", error_id="disk_full", msg="reserve reached")
    assert env.session.top(MessageBox).text.startswith(text)


# --- left-overs -----------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_leftover_keep_moves_it_to_the_movie_folder(enigma_env, reactor_guard):
    env = enigma_env
    write_leftover(env)
    main = await open_main(env)
    question = env.session.top(ChoiceBox)
    assert [c[1] for c in question.list] == ["keep", "delete", "later"]
    assert "Late film" in question.text and str(env.rec_dir) in question.text
    assert "2 file(s), 275.4 KB" in question.text
    assert time.strftime("%Y-%m-%d", time.localtime(1716000000)) in question.text
    question.choose("keep")
    await env.controller.idle()
    base = "Late film - " + recordings.stamp(1716000000)
    assert names(env.movie_dir) == sorted([base + ".ts", base + ".ts.ap", base + ".ts.meta",
                                           base + " (2).ts", base + " (2).ts.meta"])
    meta = (env.movie_dir / (base + ".ts.meta")).read_text().split("\n")
    assert meta[1] == "Late film" and meta[3] == "1716000000"
    assert (env.movie_dir / (base + ".ts")).stat().st_size == 188 * 1000
    assert names(env.rec_dir) == ["notes.txt", "stream_x.ts"]
    assert "movie folder" in env.session.top(MessageBox).text
    env.session.top(MessageBox).close()
    assert env.session.top() is main
    main.close()
    # Nothing left: no question the next time.
    main = await open_main(env)
    assert env.session.top() is main


@pytest_twisted.ensureDeferred
async def test_leftover_delete_removes_only_the_recorders_files(enigma_env, reactor_guard):
    env = enigma_env
    write_leftover(env)
    (env.rec_dir / "stream_2.mp4.meta").write_text("stale")
    await open_main(env)
    env.session.top(ChoiceBox).choose("delete")
    await env.controller.idle()
    assert names(env.rec_dir) == ["notes.txt", "stream_x.ts"]
    assert names(env.movie_dir) == []
    assert "deleted" in env.controller.status()["last_result"]


@pytest.mark.parametrize("answer", ["later", None])
@pytest_twisted.ensureDeferred
async def test_leftover_later_asks_again_next_time(enigma_env, answer, reactor_guard):
    env = enigma_env
    write_leftover(env, title="")
    (env.rec_dir / "stream_0.ts.meta").unlink()  # an older core wrote no .meta
    before = names(env.rec_dir)
    main = await open_main(env)
    question = env.session.top(ChoiceBox)
    assert "2 file(s)" in question.text
    if answer is None:
        question.close(None)  # EXIT
    else:
        question.choose(answer)
    await env.controller.idle()
    assert names(env.rec_dir) == before and names(env.movie_dir) == []
    assert env.session.top() is main
    main.close()
    await open_main(env)
    env.session.top(ChoiceBox).choose("keep")
    await env.controller.idle()
    kept = [n for n in names(env.movie_dir) if n.endswith(".ts")]
    assert kept[0].startswith("Stream recording - ")


@pytest_twisted.ensureDeferred
async def test_no_leftover_question_while_recording(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    player.close_with("background")
    main = await open_main(env)
    assert env.session.top() is main  # the running recording's files are not left-overs
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await ctrl.idle()
    assert [n for n in names(env.movie_dir) if n.endswith(".ts")]  # kept, as in the background
    env.session.top(MessageBox).close()
    main.close()
    await open_main(env)
    assert isinstance(env.session.top(), StreamRecorderMain)


# --- enigma2's job list, standby, deep standby ----------------------------------------------
@pytest_twisted.ensureDeferred
async def test_recording_is_a_job_so_shutdown_asks(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    assert pending_names() == ["Stream Recorder: Scripted"]
    manager.emit("progress", recorder={"type": "mp4"}, section_index=0, segment_index=0,
                 bytes=1000, total_bytes=4000, percent=25.0, speed_bps=1, eta_s=3, media_s=0)
    assert job_manager.getPendingJobs()[0].progress == 25
    box = env.session.open(TryQuitMainloop, QUIT_SHUTDOWN)
    assert box.asked and "In progress: Stream Recorder: Scripted (25%)" in box.text
    box.close(False)
    assert enigma.quit_requests == [] and ctrl.job.running and manager.stop_calls == 0
    # The recording ends: the job is done and a restart no longer asks.
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert pending_names() == []
    box = env.session.open(TryQuitMainloop, QUIT_RESTART)
    assert is_closed(box) and enigma.quit_requests == [QUIT_RESTART]
    nav = env.session.nav
    nav.dispatch(iPlayableService.evEOF)
    env.session.top(ChoiceBox).choose("delete")
    await ctrl.idle()


@pytest_twisted.ensureDeferred
async def test_other_jobs_are_not_held_up_by_a_recording(enigma_env, scripted):
    """enigma2 runs one job at a time: a recording is listed, never queued in front of others."""
    from Components.Task import Job, Task
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    ran = []

    class Copy(Task):
        def _run(self):
            ran.append(self.name)
            self.finish()

    copy = Job("Copy a movie")
    Copy(copy, "copy")
    job_manager.AddJob(copy)
    assert ran == ["copy"], "the other job ran at once, beside the recording"
    assert pending_names() == ["Stream Recorder: Scripted"]
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert pending_names() == []
    env.session.nav.dispatch(iPlayableService.evEOF)
    env.session.top(ChoiceBox).choose("delete")
    await ctrl.idle()


@pytest.mark.parametrize("watching", [True, False])
@pytest_twisted.ensureDeferred
async def test_aborting_the_job_stops_the_recording(enigma_env, scripted, watching):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    if not watching:
        player.close_with("background")
    job_manager.getPendingJobs()[0].cancel()  # what the task list's "abort" does
    assert manager.stop_calls == 1 and not ctrl.job.running
    assert pending_names() == [] and job_manager.failed_jobs == []
    if watching:
        # The player is still open and decides at its end, as for any ended recording.
        assert not is_closed(player) and ctrl.job.action is None
        env.session.nav.dispatch(iPlayableService.evEOF)
        assert is_closed(player)
        env.session.top(ChoiceBox).choose("keep")
    await ctrl.idle()
    assert [n for n in names(env.movie_dir) if n.endswith(".ts")]  # never lost silently


@pytest_twisted.ensureDeferred
async def test_standby_pauses_the_player_and_the_recording_goes_on(enigma_env, scripted,
                                                                   reactor_guard):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    nav = env.session.nav
    standby = env.session.open(Standby)
    assert player.seekstate == player.SEEK_STATE_PAUSE and nav.getCurrentService().pause().paused
    progress(manager, 0, 5000)
    assert ctrl.job.running and manager.stop_calls == 0 and not is_closed(player)
    assert pending_names() == ["Stream Recorder: Scripted"]
    standby.Power()
    assert player.seekstate == player.SEEK_STATE_PLAY and not nav.getCurrentService().pause().paused

    # At the end of the data when standby starts: it stays paused in standby although more
    # data arrives, and plays on when the player is back on top.
    nav.dispatch(iPlayableService.evEOF)
    assert player.waiting
    standby = env.session.open(Standby)
    progress(manager, 0, 9000)
    assert player.waiting and nav.getCurrentService().pause().paused
    standby.Power()
    assert not player.waiting and player.seekstate == player.SEEK_STATE_PLAY
    assert ctrl.job.running and manager.stop_calls == 0
    manager.emit("stop", reason="complete", error_id=None, msg="")
    nav.dispatch(iPlayableService.evEOF)
    env.session.top(ChoiceBox).choose("delete")
    await ctrl.idle()


@pytest_twisted.ensureDeferred
async def test_standby_with_live_tv_and_a_closed_player_keeps_recording(enigma_env, scripted):
    env, ctrl = enigma_env, scripted
    manager, player = await start_watching(env, ctrl)
    nav = env.session.nav
    # Something closes the player without asking (e.g. another plugin): background recording.
    player.close()
    assert is_closed(player) and nav.getCurrentlyPlayingServiceReference() == env.live_service()
    assert ctrl.job.running and not ctrl.job.watch and manager.stop_calls == 0
    standby = env.session.open(Standby)
    assert nav.getCurrentlyPlayingServiceReference() is None  # live TV stops in standby
    progress(manager, 0, 9000)
    assert ctrl.job.running and manager.stop_calls == 0
    standby.Power()
    assert nav.getCurrentlyPlayingServiceReference() == env.live_service()
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await ctrl.idle()
    assert [n for n in names(env.movie_dir) if n.endswith(".ts")]
    assert not env.session.ever_opened(ChoiceBox)


@pytest_twisted.ensureDeferred
async def test_deep_standby_stops_the_recorder_and_the_next_start_offers_the_files(
        enigma_env, server, mp4_media):
    env = enigma_env
    server.put("/film.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"/film\.mp4", stall_after=3_000_000))
    ctrl = env.controller
    ctrl.record_and_play(env.session, {"resolved_url": server.url("/film.mp4"),
                                       "title": "Night show"})
    assert await until(lambda: env.session.find(StreamRecorderPlayer), 15)
    player = env.session.find(StreamRecorderPlayer)[0]

    # Deep standby asks because the recording is a pending job; the user confirms.
    box = env.session.open(TryQuitMainloop, QUIT_SHUTDOWN)
    assert "Stream Recorder: Night show" in box.text
    box.close(True)
    assert enigma.quit_requests == [QUIT_SHUTDOWN]
    # The reactor stops (its 'before shutdown' trigger already tells the controller), then
    # enigma2's plugins.shutdown() calls WHERE_AUTOSTART with reason 1.
    ctrl._before_shutdown()
    started = time.monotonic()
    plugin.autostart(reason=1)
    assert time.monotonic() - started < controller_module.SHUTDOWN_WAIT_S
    assert ctrl.manager.status()["state"] == "idle"
    assert await until(lambda: recorder_threads() == 0, 5)
    # The stop message arrives (here the reactor still runs): nothing is moved or deleted.
    assert await until(lambda: ctrl.job.stop is not None, 5)
    assert ctrl.job.stop["reason"] == "user" and pending_names() == []
    assert names(env.movie_dir) == [] and (env.rec_dir / "stream_0.mp4").stat().st_size > 0

    # The GUI goes away (here: the player closes without a question), then the next start:
    # a new controller, and the main screen offers what was left.
    player.close()
    assert not env.session.ever_opened(ChoiceBox)
    old = controller_module.reset_controller()
    await old.close()
    main = await open_main(env)
    question = env.session.top(ChoiceBox)
    assert "1 file(s)" in question.text
    question.choose("keep")
    await env.controller.idle()
    kept = [n for n in names(env.movie_dir) if n.endswith(".mp4")]
    assert len(kept) == 1 and (env.movie_dir / (kept[0] + ".meta")).is_file()
    assert names(env.rec_dir) == []
    env.session.top(MessageBox).close()
    assert env.session.top() is main


# --- names that FAT accepts -----------------------------------------------------------------
def test_kept_names_are_safe_on_fat_bounded_and_unique(tmp_path):
    rec, movies = tmp_path / "rec", tmp_path / "movie"
    rec.mkdir()
    title = ('Tatort: "Wer?" <Teil 1|2> a/b\\c*\x01 Überraschung ' + "日本語 ") * 8
    assert len(title.encode()) > 300
    started = time.mktime((2024, 5, 17, 20, 15, 0, 0, 0, -1))
    kept = []
    for _ in range(2):
        (rec / "stream_0.ts").write_bytes(b"G" * 188)
        (rec / "stream_1.ts").write_bytes(b"G" * 188)
        kept += recordings.keep(str(rec), str(movies), title, started)
    assert len(kept) == 4 and len(set(kept)) == 4
    for name in os.listdir(movies):
        assert len(name.encode("utf-8")) <= 255, name
        assert not set(name) & set(':?*"<>|\\/') and not any(ord(c) < 32 for c in name)
        name.encode("utf-8").decode("utf-8")  # cut on a character boundary
    first = os.path.basename(kept[0])
    part = recordings.safe_title(title)
    assert first == part + " - 2024-05-17 20-15.ts"
    assert part.startswith("Tatort Wer Teil 1 2 a b c Überraschung 日本語 Tatort")
    assert len(part.encode()) <= recordings.MAX_TITLE_BYTES
    assert os.path.basename(kept[1]) == part + " - 2024-05-17 20-15 (2).ts"
    assert os.path.basename(kept[2]) == part + " - 2024-05-17 20-15_2.ts"
    assert os.path.basename(kept[3]) == part + " - 2024-05-17 20-15 (2)_2.ts"
    meta = (movies / (first + ".meta")).read_text(encoding="utf-8").split("\n")
    assert meta[1] == title  # the movie list shows the full title
