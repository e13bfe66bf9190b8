"""Receiver-side parts of issues 7 and 8 through the plugin on OpenPLi's real enigma2 tree.

- the local control socket as the settings describe it (real sockets against the controller),
- the free-space reserve reaching the recorders,
- left-over files of a recording whose end the GUI never saw (keep, delete, decide later),
- a running recording as a job in enigma2's job list (Components.Task.job_manager): the task
  list can abort it, standby (Screens.Standby) goes on recording, deep standby and restart
  (TryQuitMainloop) ask first and stop the recorder cleanly,
- kept file names that FAT accepts.

The user's side goes through the remote (test_plugin_ui.py's helpers, keys through keymap.xml
and eActionMap); a scripted Manager stands in for the core where every message must come at
a chosen moment, the real one records from the loopback server elsewhere.
"""

import json
import os
import socket
import stat
import struct
import time

import pytest
import pytest_twisted
from twisted.internet import reactor, threads

from helpers import recorder_threads
from plugin_harness import *  # noqa: F401,F403 - fixtures: receiver, reactor_guard
from plugin_harness import ScriptedManager
from plugin_harness import load_tree
from streamrecorder.devserver import Fault
from test_plugin_ui import *  # noqa: F401,F403 - the remote's helpers; fixtures: started, ...
from test_plugin_ui import (answer_yes_no, choose, enter_number, enter_text, names, open_plugin,
                            push, select_entry, start_plugins)

RECORDING = "Stream Recorder: Scripted"


# --- a scripted core --------------------------------------------------------------------------
@pytest.fixture
def scripted(started):
    """The plugin's controller with a scripted Manager."""
    from Plugins.Extensions.StreamRecorder import controller
    ctrl = controller.Controller(manager_factory=ScriptedManager)
    controller._controller = ctrl
    return ctrl


def pes_packets(seconds, first_s=0.0, fps=25):
    """TS packets of a video PES each, with PTS from first_s on: what the decoder reads."""
    data = b""
    for n in range(int(seconds * fps) + 1):
        pts = int((first_s + n / fps) * 90000)
        header = bytes([0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, ((pts >> 14) & 0xFE) | 1,
                        (pts >> 7) & 0xFF, ((pts << 1) & 0xFE) | 1])
        packet = b"\x47\x41\x00" + bytes([0x10 | (n & 15)]) + b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + header
        data += packet + b"\xff" * (188 - len(packet))
    return data


def save_streams(rx, *streams):
    """The stream list as the main screen saved it earlier."""
    rx.streams_file.parent.mkdir(parents=True, exist_ok=True)
    rx.streams_file.write_text(json.dumps({"streams": [
        {"name": name, "url": url, "recorder": "auto"} for name, url in streams]}))


async def start_watching(rx, ctrl, seconds=0.2):
    """OK on a saved stream in the main screen; the scripted core starts section 0 and the
    player opens over the main screen."""
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    save_streams(rx, ("Scripted", "http://example.com/x.m3u8"))
    await open_plugin(rx)
    await push(rx, "KEY_OK")
    await rx.answer_end()
    assert await rx.until(lambda: ctrl._manager is not None and ctrl.manager.started)
    manager = ctrl.manager
    (rx.rec_dir / "stream_0.ts").write_bytes(pes_packets(seconds))
    manager.emit("start", url="http://example.com/x.m3u8", rec_file=str(rx.rec_dir / "stream_0.ts"),
                 section_index=0, segment_index=4, recorder={"type": "hls_live"})
    assert await rx.until(lambda: isinstance(rx.top(), StreamRecorderPlayer))
    await rx.settle()
    return manager, rx.top()


def progress(manager, section, size):
    manager.emit("progress", recorder={"type": "hls_live"}, section_index=section,
                 segment_index=1, bytes=size, total_bytes=None, percent=None, speed_bps=1000,
                 eta_s=None, media_s=1.0, skipped_segments=0)


async def leave_player(rx, answer):
    """STOP in the player, then an answer of its question (keep, delete, background)."""
    await push(rx, "KEY_STOP")
    await choose(rx, answer)


async def open_task_list_entry(rx, name):
    """BLUE (extensions menu) lists enigma2's running jobs; open the job called name."""
    from Screens.ChoiceBox import ChoiceBox
    from Screens.TaskView import JobView
    await push(rx, "KEY_BLUE")
    box = rx.top(ChoiceBox)
    shown = [entry[0][0] for entry in box.list]
    assert len([text for text in shown if text.endswith(", " + name)]) == 1, shown
    for _ in shown:  # the jobs have no number key: move the cursor there, OK
        if box["list"].getCurrent()[0][0].endswith(", " + name):
            break
        rx.press("KEY_DOWN")
    await push(rx, "KEY_OK")
    return rx.top(JobView)


async def idle(ctrl, timeout=15):
    """Until the controller records, prepares and moves nothing (fails after timeout)."""
    d = ctrl.idle()
    d.addTimeout(timeout, reactor)
    await d


def pending_names():
    from Components.Task import job_manager
    return [job.name for job in job_manager.getPendingJobs()]


def is_paused(rx):
    """The decoder of what plays stands still."""
    return rx.nav.getCurrentService().rate == 0


@pytest.fixture
def quit_flags():
    """TryQuitMainloop marks config.misc.DeepStandby / RestartUI for the next start: put back."""
    from Components.config import config
    saved = (config.misc.DeepStandby.value, config.misc.RestartUI.value)
    yield
    config.misc.DeepStandby.value, config.misc.RestartUI.value = saved


def gui_goes_away(rx):
    """enigma2 has quit: its screens are gone without any of their callbacks. The next start
    shows the InfoBar with the live channel again and loads the plugins anew."""
    from Components.PluginComponent import plugins
    from Plugins.Extensions.StreamRecorder import controller
    from Screens.InfoBar import InfoBar
    session = rx.session
    while not isinstance(session.current_dialog, InfoBar):
        dialog = session.current_dialog
        dialog.callback = None
        session.in_exec = True
        session.execEnd()
        dialog.doClose()
        session.current_dialog, _shown = session.dialog_stack.pop()
        session.in_exec = False
        session.execBegin(first=False, do_show=False)
    rx.nav.stopService()
    rx.nav.playService(rx.live_service())
    plugins.clearPluginList()
    return controller.reset_controller()


# --- control socket -------------------------------------------------------------------------
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


def write_leftover(rx, title="Late film"):
    """What a crash leaves: two sections with .ap and the core's .meta, plus a user's files."""
    rx.rec_dir.mkdir(parents=True, exist_ok=True)
    (rx.rec_dir / "stream_0.ts").write_bytes(b"G" * 188 * 1000)
    (rx.rec_dir / "stream_0.ts.ap").write_bytes(b"\0" * 16)
    (rx.rec_dir / "stream_0.ts.meta").write_text(
        "1:0:0:0:0:0:0:0:0:0:\n%s\n\n1716000000\n\n0\n0\n\n188\n0\n" % title)
    (rx.rec_dir / "stream_1.ts").write_bytes(b"G" * 188 * 500)
    (rx.rec_dir / "notes.txt").write_text("mine")
    (rx.rec_dir / "stream_x.ts").write_text("not the recorder's")


@pytest.fixture
def movie_folder(receiver):
    """Kept recordings go to enigma2's movie folder (config.usage.default_path, which the
    harness points into tmp_path); checked first, so no test moves files outside tmp_path."""
    from Plugins.Extensions.StreamRecorder.controller import Controller
    where = Controller.movie_dir()
    if where.rstrip("/") != str(receiver.movie_dir):
        pytest.fail("the plugin would keep recordings in %s, not in enigma2's movie folder %s"
                    % (where, receiver.movie_dir), pytrace=False)
    return receiver.movie_dir


@pytest_twisted.ensureDeferred
async def test_control_socket_follows_the_settings(enigma2_plugins, server, mp4_media, reactor_guard):
    from Plugins.Extensions.StreamRecorder import controller
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    rx = enigma2_plugins
    s = rx.settings
    assert s.control_enabled.value is False and s.control_token.value == ""
    port = free_port()
    # Off by default: enigma2's start opens nothing and creates no controller.
    start_plugins(rx)
    assert controller._controller is None
    assert await threads.deferToThread(refused, ("127.0.0.1", s.control_port.value))

    # Enabled in the settings screen: a token appears at once and is shown there.
    main = await open_plugin(rx)
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    elements = [entry[1] for entry in screen["config"].list]
    assert s.reserve_mb in elements and s.control_enabled in elements
    assert s.control_token not in elements and s.control_port not in elements
    await select_entry(rx, screen, s.control_enabled)
    await push(rx, "KEY_RIGHT")
    token = s.control_token.value
    assert len(token) >= 20
    shown = [entry[1] for entry in screen["config"].list]
    assert s.control_token in shown and s.control_port in shown and s.control_path not in shown
    await enter_number(rx, screen, s.control_port, port)
    await push(rx, "KEY_GREEN")
    assert rx.top() is main
    assert s.control_token.saved_value == token and s.control_port.saved_value == str(port)
    assert s.control_enabled.saved_value == s.control_enabled.tostring(True)
    ctrl = rx.controller
    assert await rx.until(lambda: ctrl.control.server is not None, 10), ctrl.control.error
    assert ctrl.control.server.default_rec_dir == str(rx.hdd / "streamrecorder")

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
    assert replies[1]["ok"] is True and replies[1]["cmd"] == "record"
    assert await rx.until(lambda: ctrl.job is not None and ctrl.job.adopted and ctrl.job.sections, 15)
    assert len(pending_names()) == 1
    assert (rx.rec_dir / "stream_0.mp4").is_file()
    replies = await threads.deferToThread(call, address, {"cmd": "hello", "token": token},
                                          {"cmd": "stop"})
    assert replies[1]["ok"] is True
    assert await rx.until(lambda: ctrl.job.stop is not None, 15)
    assert pending_names() == []
    await idle(ctrl)
    assert (rx.rec_dir / "stream_0.mp4").is_file()  # the other program's: untouched

    # A unix socket instead, chosen in the settings: the TCP port closes, the socket file is
    # private (0600).
    path = str(rx.root / "sr.sock")
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    await select_entry(rx, screen, s.control_kind)
    await push(rx, "KEY_RIGHT")
    assert s.control_kind.value == "unix"
    await select_entry(rx, screen, s.control_path)
    await push(rx, "KEY_OK")
    await enter_text(rx, path)
    assert rx.top() is screen and s.control_path.value == path
    await push(rx, "KEY_GREEN")
    assert await rx.until(lambda: ctrl.control.address == ("unix", path), 10), ctrl.control.error
    assert rx.top() is main  # no error message
    assert await threads.deferToThread(refused, address)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    replies = await threads.deferToThread(call, path, {"cmd": "hello", "token": token},
                                          {"cmd": "status"}, family=socket.AF_UNIX)
    assert replies[1]["ok"] is True

    # Disabled again through the settings: nothing listens and the socket file is gone.
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    assert s.control_path in [entry[1] for entry in screen["config"].list]
    await select_entry(rx, screen, s.control_enabled)
    await push(rx, "KEY_LEFT")
    assert s.control_path not in [entry[1] for entry in screen["config"].list]
    await push(rx, "KEY_GREEN")
    assert await rx.until(lambda: ctrl.control.server is None and not os.path.exists(path))
    assert await threads.deferToThread(refused, address)
    assert s.control_token.value == token  # kept for the next time it is enabled


@pytest_twisted.ensureDeferred
async def test_control_socket_opens_at_session_start_and_reports_a_busy_port(enigma2_plugins):
    from Components.PluginComponent import plugins
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    rx = enigma2_plugins
    s = rx.settings
    s.control_enabled.value = True
    s.control_token.value = ""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        s.control_port.value = taken.getsockname()[1]
        start_plugins(rx)
        ctrl = rx.controller
        assert len(s.control_token.value) >= 20  # generated and saved for the other program
        assert s.control_token.saved_value == s.control_token.value
        assert await rx.until(lambda: ctrl.control.error, 10)
        assert "could not be opened" in ctrl.control.error and ctrl.control.server is None
    # Another port in the settings: it opens.
    port = free_port()
    main = await open_plugin(rx)
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    await enter_number(rx, screen, s.control_port, port)
    await push(rx, "KEY_GREEN")
    assert await rx.until(lambda: ctrl.control.server is not None, 10), ctrl.control.error
    assert rx.top() is main
    replies = await threads.deferToThread(
        call, ("127.0.0.1", port), {"cmd": "hello", "token": s.control_token.value})
    assert replies == [{"ok": True, "cmd": "hello"}]
    # enigma2 quits (plugins.shutdown(): WHERE_AUTOSTART with reason 1): the socket closes.
    plugins.shutdown()
    assert await rx.until(lambda: refused(("127.0.0.1", port)))


@pytest_twisted.ensureDeferred
async def test_saving_the_settings_shows_a_port_that_cannot_be_opened(started):
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    from Screens.MessageBox import MessageBox
    rx = started
    s = rx.settings
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        await open_plugin(rx)
        await push(rx, "KEY_MENU")
        screen = rx.top(StreamRecorderSettings)
        await select_entry(rx, screen, s.control_enabled)
        await push(rx, "KEY_RIGHT")
        await enter_number(rx, screen, s.control_port, busy)
        rx.press("KEY_GREEN")
        # A busy receiver: the port check on the worker thread is done before the GUI's next
        # turn, in which the settings screen's close ends.
        time.sleep(0.5)
        assert await rx.until(lambda: rx.find(MessageBox), 2)
        box = rx.find(MessageBox)[0]
        assert "could not be opened" in box.text and str(busy) in box.text


@pytest_twisted.ensureDeferred
async def test_socket_recording_keeps_undecided_leftovers_first(enigma2_plugins, movie_folder,
                                                                server, mp4_media):
    """Another program records over the socket before anyone opened the plugin after a crash:
    the left-over files go to the movie folder, never into the new recording's cleanup."""
    rx = enigma2_plugins
    s = rx.settings
    write_leftover(rx, "Crash film")
    port = free_port()
    s.control_enabled.value = True
    s.control_port.value = port
    start_plugins(rx)
    ctrl = rx.controller
    assert await rx.until(lambda: ctrl.control.server is not None, 10), ctrl.control.error
    server.put("/new.mp4", mp4_media["faststart"].read_bytes())
    replies = await threads.deferToThread(
        call, ("127.0.0.1", port), {"cmd": "hello", "token": s.control_token.value},
        {"cmd": "record", "resolve_result": {"resolved_url": server.url("/new.mp4"),
                                             "recorder_id": "mp4"}})
    assert replies[1]["ok"] is True and replies[1]["cmd"] == "record"
    assert await rx.until(lambda: ctrl.job is not None and ctrl.job.stop is not None, 20)
    assert ctrl.job.stop["reason"] == "complete"
    kept = names(movie_folder)
    assert [n for n in kept if n.startswith("Crash film") and n.endswith(".ts")], kept
    assert [n for n in kept if n.endswith(".ts.ap")] and [n for n in kept if n.endswith(".meta")]
    assert "notes.txt" in names(rx.rec_dir) and "stream_x.ts" in names(rx.rec_dir)
    await idle(ctrl)


@pytest_twisted.ensureDeferred
async def test_settings_refuse_a_short_token(started):
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    from Screens.MessageBox import MessageBox
    rx = started
    rx.settings.control_enabled.value = True
    rx.settings.control_token.value = "short"
    main = await open_plugin(rx)
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    await push(rx, "KEY_GREEN")
    box = rx.top(MessageBox)
    assert "at least 8 characters" in box.text
    await push(rx, "KEY_OK")
    assert rx.top() is screen
    await push(rx, "KEY_EXIT")
    assert rx.top() is main
    assert rx.settings.control_enabled.value is False


# --- free-space reserve ---------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_reserve_reaches_the_recorders(started, scripted):
    from Plugins.Extensions.StreamRecorder import config as cfg
    from Plugins.Extensions.StreamRecorder import texts
    from Plugins.Extensions.StreamRecorder.settings import StreamRecorderSettings
    from Screens.MessageBox import MessageBox
    ctrl = scripted
    rx = started
    assert rx.settings.reserve_mb.value == 500
    assert cfg.recorder_options()["reserve_bytes"] == 500_000_000
    main = await open_plugin(rx)
    await push(rx, "KEY_MENU")
    screen = rx.top(StreamRecorderSettings)
    await enter_number(rx, screen, rx.settings.reserve_mb, 1234)
    await push(rx, "KEY_GREEN")
    assert rx.top() is main
    await push(rx, "KEY_EXIT")
    manager, player = await start_watching(rx, ctrl)
    assert manager.recorder_options["reserve_bytes"] == 1_234_000_000
    text = texts.error_text("disk_full")
    assert "full" in text and "reserve" in text and "Keep free on the device" in text
    manager.emit("stop", reason="error", error_id="disk_full", msg="reserve reached")
    assert await rx.until(lambda: rx.find(MessageBox))
    assert rx.find(MessageBox)[0].text.startswith(text)


# --- left-overs -----------------------------------------------------------------------------
@pytest_twisted.ensureDeferred
async def test_leftover_keep_moves_it_to_the_movie_folder(started, movie_folder, reactor_guard):
    from Plugins.Extensions.StreamRecorder import recordings
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Screens.ChoiceBox import ChoiceBox
    from Screens.InfoBar import InfoBar
    from Screens.MessageBox import MessageBox
    rx = started
    write_leftover(rx)
    main = await open_plugin_with_question(rx)
    question = rx.top(ChoiceBox)
    assert {key: entry[1] for key, entry in question.keymap.items()} == {
        "1": "keep", "2": "delete", "3": "later"}
    text = question["text"].getText()
    assert "Late film" in text and str(rx.rec_dir) in text
    assert "2 file(s), 275.4 KB" in text
    assert time.strftime("%Y-%m-%d", time.localtime(1716000000)) in text
    await choose(rx, "keep")
    await idle(rx.controller)
    base = "Late film - " + recordings.stamp(1716000000)
    assert names(movie_folder) == sorted([base + ".ts", base + ".ts.ap", base + ".ts.meta",
                                          base + " (2).ts", base + " (2).ts.meta"])
    meta = (movie_folder / (base + ".ts.meta")).read_text().split("\n")
    assert meta[1] == "Late film" and meta[3] == "1716000000"
    assert (movie_folder / (base + ".ts")).stat().st_size == 188 * 1000
    assert names(rx.rec_dir) == ["notes.txt", "stream_x.ts"]
    assert await rx.until(lambda: isinstance(rx.top(), MessageBox))
    assert "movie folder" in rx.top().text
    await push(rx, "KEY_OK")
    assert rx.top() is main
    await push(rx, "KEY_EXIT")
    assert isinstance(rx.top(), InfoBar)
    # Nothing left: no question the next time.
    await open_plugin(rx)
    assert isinstance(rx.top(), StreamRecorderMain)


async def open_plugin_with_question(rx):
    """open_plugin, then the left-over question is on top of the main screen."""
    from Screens.ChoiceBox import ChoiceBox
    main = await open_plugin(rx)
    assert await rx.until(lambda: isinstance(rx.top(), ChoiceBox))
    assert rx.stack()[-2] is main
    return main


@pytest_twisted.ensureDeferred
async def test_leftover_delete_removes_only_the_recorders_files(started, movie_folder,
                                                                reactor_guard):
    rx = started
    write_leftover(rx)
    (rx.rec_dir / "stream_2.mp4.meta").write_text("stale")
    await open_plugin_with_question(rx)
    await choose(rx, "delete")
    await idle(rx.controller)
    assert names(rx.rec_dir) == ["notes.txt", "stream_x.ts"]
    assert names(movie_folder) == []
    assert "deleted" in rx.controller.status()["last_result"]


@pytest.mark.parametrize("answer", ["later", "KEY_EXIT"])
@pytest_twisted.ensureDeferred
async def test_leftover_later_asks_again_next_time(started, movie_folder, answer, reactor_guard):
    from Screens.ChoiceBox import ChoiceBox
    rx = started
    write_leftover(rx, title="")
    (rx.rec_dir / "stream_0.ts.meta").unlink()  # an older core wrote no .meta
    before = names(rx.rec_dir)
    main = await open_plugin_with_question(rx)
    assert "2 file(s)" in rx.top(ChoiceBox)["text"].getText()
    if answer == "KEY_EXIT":
        await push(rx, "KEY_EXIT")
    else:
        await choose(rx, answer)
    await idle(rx.controller)
    assert names(rx.rec_dir) == before and names(movie_folder) == []
    assert rx.top() is main
    await push(rx, "KEY_EXIT")
    await open_plugin_with_question(rx)
    await choose(rx, "keep")
    await idle(rx.controller)
    kept = [n for n in names(movie_folder) if n.endswith(".ts")]
    assert kept[0].startswith("Stream recording - ")


@pytest_twisted.ensureDeferred
async def test_no_leftover_question_while_recording(started, scripted, movie_folder):
    from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
    from Screens.MessageBox import MessageBox
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    await leave_player(rx, "background")
    main = rx.top(StreamRecorderMain)
    await push(rx, "KEY_EXIT")
    main = await open_plugin(rx)
    assert rx.top() is main  # the running recording's files are not left-overs
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await idle(ctrl)
    assert [n for n in names(movie_folder) if n.endswith(".ts")]  # kept, as in the background
    assert await rx.until(lambda: isinstance(rx.top(), MessageBox))
    await push(rx, "KEY_OK")
    assert rx.top() is main
    await push(rx, "KEY_EXIT")
    await open_plugin(rx)
    assert isinstance(rx.top(), StreamRecorderMain)


# --- enigma2's job list, standby, deep standby ----------------------------------------------
@pytest_twisted.ensureDeferred
async def test_recording_is_a_job_so_shutdown_asks(started, scripted, quit_flags):
    import enigma
    from Components.Task import job_manager
    from Screens.Standby import QUIT_RESTART, QUIT_SHUTDOWN, TryQuitMainloop
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    assert pending_names() == [RECORDING]
    manager.emit("progress", recorder={"type": "mp4"}, section_index=0, segment_index=0,
                 bytes=1000, total_bytes=4000, percent=25.0, speed_bps=1, eta_s=3, media_s=0)
    assert job_manager.getPendingJobs()[0].progress == 25
    # Deep standby from the shutdown menu: enigma2 asks because of the pending job; EXIT is no.
    box = rx.session.open(TryQuitMainloop, QUIT_SHUTDOWN)
    await rx.settle()
    assert rx.top() is box
    assert "In progress: %s (25%%)" % RECORDING in box.text
    await push(rx, "KEY_EXIT")
    assert rx.top() is player
    assert enigma.QUIT_REQUESTS == [] and ctrl.job.running and manager.stop_calls == 0
    # The recording ends: the job is done and a restart no longer asks.
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert pending_names() == []
    rx.session.open(TryQuitMainloop, QUIT_RESTART)
    await rx.settle()
    assert enigma.QUIT_REQUESTS == [QUIT_RESTART]


@pytest_twisted.ensureDeferred
async def test_other_jobs_are_not_held_up_by_a_recording(started, scripted):
    """enigma2 runs one job at a time: a recording is listed, never queued in front of others."""
    from Components.Task import Job, Task, job_manager
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    copy = Job("Copy a movie")
    Task(copy, "copy")  # no command line: done as soon as it runs
    job_manager.AddJob(copy)
    assert copy.status == copy.FINISHED, "the other job ran at once, beside the recording"
    assert pending_names() == [RECORDING]
    manager.emit("stop", reason="complete", error_id=None, msg="")
    assert pending_names() == []
    await leave_player(rx, "delete")
    await idle(ctrl)


@pytest.mark.parametrize("watching", [True, False])
@pytest_twisted.ensureDeferred
async def test_aborting_the_job_stops_the_recording(started, scripted, movie_folder, watching):
    from Components.Task import job_manager
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    if not watching:
        await leave_player(rx, "background")
        await push(rx, "KEY_EXIT")  # the main screen: back to the InfoBar
    # The task list (BLUE, the job, RED: abort).
    view = await open_task_list_entry(rx, RECORDING)
    await push(rx, "KEY_RED")
    assert manager.stop_calls == 1 and not ctrl.job.running
    assert pending_names() == [] and job_manager.failed_jobs == []
    assert view.job.status == view.job.FINISHED
    if not watching:
        await idle(ctrl)  # kept at once: nobody watches it
        assert await rx.until(lambda: isinstance(rx.top(), MessageBox))
        assert "movie folder" in rx.top().text
        await push(rx, "KEY_OK")
    assert rx.top() is view
    await push(rx, "KEY_OK")  # the finished job's view closes
    assert view not in rx.stack()
    if watching:
        # The player is still open and decides at its end, as for any ended recording.
        assert rx.find(StreamRecorderPlayer) == [player] and ctrl.job.action is None
        assert await rx.until(lambda: isinstance(rx.top(), ChoiceBox), 5)
        assert rx.find(StreamRecorderPlayer) == []
        await choose(rx, "keep")
    await idle(ctrl)
    assert [n for n in names(movie_folder) if n.endswith(".ts")]  # never lost silently


@pytest_twisted.ensureDeferred
async def test_standby_pauses_the_player_and_the_recording_goes_on(started, scripted, monkeypatch,
                                                                   reactor_guard):
    import enigma
    from Screens.Standby import Standby
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl, seconds=3.0)
    assert player.seekstate == player.SEEK_STATE_PLAY and not is_paused(rx)
    await push(rx, "KEY_POWER")  # the power key: standby
    rx.top(Standby)
    assert player.seekstate == player.SEEK_STATE_PAUSE and is_paused(rx)
    progress(manager, 0, 5000)
    assert ctrl.job.running and manager.stop_calls == 0 and rx.stack()[-2] is player
    assert pending_names() == [RECORDING]
    await push(rx, "KEY_POWER")  # wakes up
    assert rx.top() is player
    assert player.seekstate == player.SEEK_STATE_PLAY and not is_paused(rx)

    # At the end of the data when standby starts: it stays paused in standby although more
    # data arrives, and plays on when the player is back on top.
    monkeypatch.setattr(enigma, "PLAY_SPEED", 20.0)  # the viewer watches up to the end
    assert await rx.until(lambda: player.waiting, 5)
    await push(rx, "KEY_POWER")
    rx.top(Standby)
    with open(rx.rec_dir / "stream_0.ts", "ab") as f:
        f.write(pes_packets(2.0, first_s=3.04))
    progress(manager, 0, 9000)
    assert player.waiting and is_paused(rx)
    await push(rx, "KEY_POWER")
    assert rx.top() is player
    assert not player.waiting and player.seekstate == player.SEEK_STATE_PLAY and not is_paused(rx)
    assert ctrl.job.running and manager.stop_calls == 0
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await leave_player(rx, "delete")
    await idle(ctrl)


@pytest_twisted.ensureDeferred
async def test_standby_with_live_tv_and_a_closed_player_keeps_recording(started, scripted, movie_folder):
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    from Screens.ChoiceBox import ChoiceBox
    from Screens.InfoBar import InfoBar
    from Screens.Standby import Standby
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    # Something closes the player without asking (e.g. another plugin): background recording.
    player.close()
    await rx.settle()
    assert rx.find(StreamRecorderPlayer) == []
    assert rx.nav.getCurrentlyPlayingServiceReference() == rx.live_service()
    assert ctrl.job.running and not ctrl.job.watch and manager.stop_calls == 0
    await push(rx, "KEY_EXIT")  # the main screen
    rx.top(InfoBar)
    await push(rx, "KEY_POWER")
    rx.top(Standby)
    assert rx.nav.getCurrentlyPlayingServiceReference() is None  # live TV stops in standby
    progress(manager, 0, 9000)
    assert ctrl.job.running and manager.stop_calls == 0
    await push(rx, "KEY_POWER")
    assert rx.nav.getCurrentlyPlayingServiceReference() == rx.live_service()
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await idle(ctrl)
    assert [n for n in names(movie_folder) if n.endswith(".ts")]
    assert rx.find(ChoiceBox) == []  # nobody was asked: kept, as a background recording


@pytest_twisted.ensureDeferred
async def test_a_recording_that_starts_in_standby_opens_no_player_there(started, scripted):
    """The recording was asked for, then the receiver went to standby before the stream's
    first data: the player must not open inside standby (waking up would then close the
    player instead of leaving standby)."""
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    from Screens.InfoBar import InfoBar
    from Screens.Standby import Standby
    ctrl = scripted
    rx = started
    save_streams(rx, ("Scripted", "http://example.com/x.m3u8"))
    await open_plugin(rx)
    await push(rx, "KEY_OK")
    await rx.answer_end()
    await push(rx, "KEY_EXIT")
    rx.top(InfoBar)
    await push(rx, "KEY_POWER")
    standby = rx.top(Standby)
    assert await rx.until(lambda: ctrl._manager is not None and ctrl.manager.started)
    manager = ctrl.manager
    (rx.rec_dir / "stream_0.ts").write_bytes(pes_packets(2.0))
    manager.emit("start", url="http://example.com/x.m3u8", rec_file=str(rx.rec_dir / "stream_0.ts"),
                 section_index=0, segment_index=4, recorder={"type": "hls_live"})
    await rx.settle(10)
    assert rx.top() is standby and rx.find(StreamRecorderPlayer) == []
    assert ctrl.job.running and pending_names() == [RECORDING]
    await push(rx, "KEY_POWER")
    assert rx.find(Standby) == []


@pytest.mark.parametrize("answer", ["keep", "delete"])
@pytest_twisted.ensureDeferred
async def test_the_cue_sheet_of_a_watched_recording_goes_with_it(started, scripted, movie_folder, answer):
    """servicedvb writes <file>.cuts (the last position) when the player stops a .ts: it goes
    into the movie folder with a kept recording and away with a deleted one."""
    ctrl = scripted
    rx = started
    manager, player = await start_watching(rx, ctrl)
    manager.emit("stop", reason="complete", error_id=None, msg="")
    await leave_player(rx, answer)
    await idle(ctrl)
    assert [n for n in names(rx.rec_dir) if n.startswith("stream_0")] == []
    if answer == "keep":
        kept = [n for n in names(movie_folder) if n.endswith(".ts")]
        assert [n for n in names(movie_folder) if n.endswith(".cuts")] == [kept[0] + ".cuts"]
    else:
        assert names(movie_folder) == []


@pytest_twisted.ensureDeferred
async def test_deep_standby_stops_the_recorder_and_the_next_start_offers_the_files(
        started, movie_folder, server, mp4_media, quit_flags):
    import enigma
    from Components.PluginComponent import plugins
    from Plugins.Extensions.StreamRecorder import controller
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    from Screens.ChoiceBox import ChoiceBox
    from Screens.MessageBox import MessageBox
    from Screens.Standby import QUIT_SHUTDOWN, TryQuitMainloop
    rx = started
    server.put("/film.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"/film\.mp4", stall_after=3_000_000))
    save_streams(rx, ("Night show", server.url("/film.mp4")))
    await open_plugin(rx)
    await push(rx, "KEY_OK")
    await rx.answer_end()
    assert await rx.until(lambda: rx.find(StreamRecorderPlayer), 15)
    ctrl = rx.controller

    # Deep standby asks because the recording is a pending job; the user says yes.
    box = rx.session.open(TryQuitMainloop, QUIT_SHUTDOWN)
    await rx.settle()
    assert rx.top() is box and "Stream Recorder: Night show" in box.text
    await answer_yes_no(rx, True)
    assert enigma.QUIT_REQUESTS == [QUIT_SHUTDOWN]
    # The main loop ends: the reactor's 'before shutdown' trigger tells the controller, then
    # enigma2's plugins.shutdown() calls WHERE_AUTOSTART with reason 1.
    ctrl._before_shutdown()
    started_at = time.monotonic()
    plugins.shutdown()
    assert time.monotonic() - started_at < controller.SHUTDOWN_WAIT_S
    assert ctrl.manager.status()["state"] == "idle"
    assert await rx.until(lambda: recorder_threads() == 0, 5)
    # The stop message arrives (here the reactor still runs): nothing is moved or deleted.
    assert await rx.until(lambda: ctrl.job.stop is not None, 5)
    assert ctrl.job.stop["reason"] == "user" and pending_names() == []
    assert names(movie_folder) == [] and (rx.rec_dir / "stream_0.mp4").stat().st_size > 0

    # The next start: a new GUI and plugin; the main screen offers what was left.
    old = gui_goes_away(rx)
    await old.close()
    assert rx.find(ChoiceBox) == []
    start_plugins(rx)
    main = await open_plugin_with_question(rx)
    assert "1 file(s)" in rx.top(ChoiceBox)["text"].getText()
    await choose(rx, "keep")
    await idle(rx.controller)
    kept = [n for n in names(movie_folder) if n.endswith(".mp4")]
    assert len(kept) == 1 and (movie_folder / (kept[0] + ".meta")).is_file()
    assert names(rx.rec_dir) == []
    assert await rx.until(lambda: isinstance(rx.top(), MessageBox))
    await push(rx, "KEY_OK")
    assert rx.top() is main


# --- names that FAT accepts -----------------------------------------------------------------
def test_kept_names_are_safe_on_fat_bounded_and_unique(tmp_path):
    load_tree()
    from Plugins.Extensions.StreamRecorder import recordings
    rec, movies = tmp_path / "rec", tmp_path / "movie"
    rec.mkdir()
    title = ('Tatort: "Wer?" <Teil 1|2> a/b\\c*\x01 Überraschung ' + "日本語 ") * 8
    assert len(title.encode()) > 300
    started_at = time.mktime((2024, 5, 17, 20, 15, 0, 0, 0, -1))
    kept = []
    for _ in range(2):
        (rec / "stream_0.ts").write_bytes(b"G" * 188)
        (rec / "stream_1.ts").write_bytes(b"G" * 188)
        kept += recordings.keep(str(rec), str(movies), title, started_at)
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
