"""The plugin on OpenPLi's real enigma2 Python tree: fixtures and a remote control.

`receiver` (fixture): a fresh Navigation, Session and InfoBar of the real tree (loaded by
e2tree.py; the only stand-in is the C++ `enigma` module), the plugin's settings reset, its
folders in tmp_path; on teardown any recording is stopped, the controller's file work is
awaited, and a recording left in enigma2's job list fails the test.

Keys go through the real key path: keymap.xml bindings in eActionMap, each screen's ActionMaps
bound while it executes, dispatched by priority. A screen closes one reactor turn after its
close() (Session.close starts the delay timer), so tests `await rx.settle()` after keys.
"""

import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, List

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.python import threadable

import e2tree

REPO = e2tree.REPO
PLUGIN_DIR = REPO / "Plugins" / "Extensions" / "StreamRecorder"
LIVE_SERVICE = "1:0:19:283D:3FB:1:C00000:0:0:0:"

__all__ = ["receiver", "reactor_guard", "Receiver", "ReactorGuard", "REPO", "PLUGIN_DIR",
           "LIVE_SERVICE", "load_tree", "Watch", "ScriptedManager", "player_class"]


def player_class() -> Any:
    """The plugin's player screen class (imported once the tree is loaded)."""
    from Plugins.Extensions.StreamRecorder.player import StreamRecorderPlayer
    return StreamRecorderPlayer


def load_tree() -> dict:
    """Load the real tree, or fail (never skip) with the reason."""
    try:
        return e2tree.load()
    except e2tree.TreeMissing as exc:
        pytest.fail(str(exc), pytrace=False)


class Receiver:
    """The GUI as a user meets it: the session, the remote control, what is on screen."""

    def __init__(self, session: Any, root: Path) -> None:
        self.session = session
        self.nav = session.nav
        self.root = root
        self.config_dir = root / "etc" / "enigma2"
        self.hdd = root / "media" / "hdd"
        self.rec_dir = self.hdd / "streamrecorder"
        self.movie_dir = self.hdd / "movie"
        self.ram_dir = root / "ram"

    # --- plugin -------------------------------------------------------------------------------
    @property
    def controller(self) -> Any:
        from Plugins.Extensions.StreamRecorder.controller import get_controller
        return get_controller()

    @property
    def settings(self) -> Any:
        from Plugins.Extensions.StreamRecorder.config import settings
        return settings

    @property
    def streams_file(self) -> Path:
        return self.config_dir / "streamrecorder" / "streams.json"

    def live_service(self) -> Any:
        from enigma import eServiceReference
        return eServiceReference(LIVE_SERVICE)

    # --- screens ------------------------------------------------------------------------------
    def top(self, screen_class: Any = None) -> Any:
        dialog = self.session.current_dialog
        if screen_class is not None:
            assert isinstance(dialog, screen_class), "expected %s on top, found %r (stack %r)" % (
                screen_class.__name__, dialog, self.stack())
        return dialog

    def stack(self) -> List[Any]:
        return [d for d, _shown in self.session.dialog_stack] + [self.session.current_dialog]

    def find(self, screen_class: Any) -> List[Any]:
        return [d for d in self.stack() if isinstance(d, screen_class)]

    # --- the remote control ---------------------------------------------------------------------
    def press(self, key: str, long: bool = False) -> int:
        """One key of the remote (a keyids.py name such as "KEY_OK"), make then break."""
        from enigma import eActionMap
        from keyids import KEYIDS
        code = KEYIDS[key]
        actions = eActionMap.getInstance()
        handled = actions.keyPressed("dreambox remote control (native)", code, 0)
        if long:
            handled |= actions.keyPressed("dreambox remote control (native)", code, 3)
        handled |= actions.keyPressed("dreambox remote control (native)", code, 1)
        return handled

    def choose(self, box: Any, value: str) -> None:
        """Pick a ChoiceBox entry by its value, with the number key the box gave it."""
        keys = [key for key, entry in box.keymap.items() if entry[1] == value]
        assert keys, "%r is not offered: %r" % (value, box.keymap)
        self.press("KEY_" + keys[0].upper())

    async def answer_end(self, value: Any = "open") -> Any:
        """Answer the question every GUI recording asks first (until when?) with an ends.py
        value; "open" records until the stream ends or is stopped, as before the question."""
        from Plugins.Extensions.StreamRecorder.question import Question
        assert await self.until(lambda: isinstance(self.top(), Question), 5), self.stack()
        box = self.top(Question)
        self.choose(box, value)
        await self.settle()
        return box

    @staticmethod
    def choice_values(box: Any) -> List[str]:
        """The values a ChoiceBox offers, in order."""
        return [entry[0][1] for entry in box.list]

    async def wait_player(self, timeout: float = 15) -> Any:
        """The plugin's player once it is open (fails with what is on screen otherwise)."""
        found = await self.until(lambda: self.find(player_class()), timeout)
        assert found, "no player: %r, %r" % (self.stack(), self.controller.status())
        await self.settle()
        return found[0]

    async def leave_player(self, player: Any) -> None:
        """EXIT as a viewer presses it: the first one hides the infobar when it is shown."""
        if player.shown:
            self.press("KEY_EXIT")
            assert not player.shown and self.top() is player
        self.press("KEY_EXIT")
        await self.settle()

    def save_streams(self, *entries: Any) -> None:
        """Saved streams (name, url) in the plugin's streams.json, as the GUI writes them."""
        import json
        self.streams_file.parent.mkdir(parents=True, exist_ok=True)
        self.streams_file.write_text(json.dumps({"version": 1, "streams": [
            {"name": name, "url": url, "recorder": "auto"} for name, url in entries]}))

    async def open_main(self) -> Any:
        """The plugin's entry in the plugin browser (its descriptor's fnc), once loaded."""
        from Plugins.Extensions.StreamRecorder import plugin
        from Plugins.Extensions.StreamRecorder.screens import StreamRecorderMain
        plugin.main(self.session)
        main = self.top(StreamRecorderMain)
        await main.loading
        await main.leftover_check
        await self.settle()
        return main

    async def settle(self, turns: int = 3) -> None:
        """Let the reactor run a few turns (Session.close, eTimer(0), callLater(0) hops)."""
        for _ in range(turns):
            await task.deferLater(reactor, 0.01, lambda: None)

    async def until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                return value
            await task.deferLater(reactor, 0.02, lambda: None)

    def played(self) -> List[Any]:
        return list(self.nav.pnav.played)


class Watch:
    """What a viewer sees happen: the screens opened, the services played and on which thread."""

    def __init__(self, rx: Receiver, monkeypatch: Any) -> None:
        self.opened: List[Any] = []
        self.play_threads: List[str] = []
        session_open, pnav_play = rx.session.open, rx.nav.pnav.playService

        def open_(screen: Any, *args: Any, **kwargs: Any) -> Any:
            self.opened.append(screen)
            return session_open(screen, *args, **kwargs)

        def play(ref: Any) -> Any:
            self.play_threads.append(threading.current_thread().name)
            assert threadable.isInIOThread(), "playService off the reactor thread"
            return pnav_play(ref)
        monkeypatch.setattr(rx.session, "open", open_)
        monkeypatch.setattr(rx.nav.pnav, "playService", play)

    def count(self, screen_class: Any) -> int:
        return len([s for s in self.opened if issubclass(s, screen_class)])


class ScriptedManager:
    """streamrecorder.manager.Manager's public surface; the test decides which messages arrive
    and when. Like the Manager, every accepted recording gets an id that its messages carry."""

    def __init__(self, runtime: Any = None, recorder_types: Any = None,
                 recorder_options: Any = None) -> None:
        self.recorder_options = dict(recorder_options or {})
        self.subscribers: List[Any] = []
        self.started: List[dict] = []
        self.running = False
        self.stop_calls = 0
        self.recording_id: Any = None

    def subscribe(self, sink: Any) -> None:
        self.subscribers.append(sink)

    def unsubscribe(self, sink: Any) -> None:
        self.subscribers.remove(sink)

    def record_stream(self, resolve_result: dict) -> str:
        self.started.append(dict(resolve_result))
        self.running = True
        self.recording_id = str(resolve_result.get("recording_id") or "rec-%d" % len(self.started))
        return self.recording_id

    def emit(self, kind: str, **data: Any) -> None:
        assert threadable.isInIOThread()
        if kind == "stop":
            self.running = False
        for sink in list(self.subscribers):
            sink([kind, dict(data, recording_id=self.recording_id)])

    def stop(self) -> bool:
        self.stop_calls += 1
        if self.running:
            self.emit("stop", reason="user", error_id=None, msg="stopped")
        return True

    def stopped(self) -> Any:
        return defer.succeed(None)

    def status(self) -> dict:
        return {"state": "recording" if self.running else "idle",
                "recording_id": self.recording_id if self.running else None}

    def close(self) -> None:
        pass


# --- the reactor-thread guard --------------------------------------------------------------------
class ReactorGuard:
    """Records blocking calls made by plugin code on the reactor thread: socket connects and
    DNS lookups, thread joins, fsync and sleeps."""

    def __init__(self) -> None:
        self.violations: List[str] = []
        self.checks = 0  # how often it looked (a test can show it was active)

    def check(self, what: str) -> None:
        self.checks += 1
        if not threadable.isInIOThread():
            return
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename.startswith(str(PLUGIN_DIR)):
                stack = "".join(traceback.format_stack(sys._getframe(2), limit=12))
                self.violations.append("%s on the reactor thread:\n%s" % (what, stack))
                return
            frame = frame.f_back

    def install(self, monkeypatch: Any) -> None:
        import socket
        guard = self
        connect, join, fsync = socket.socket.connect, threading.Thread.join, os.fsync
        getaddrinfo, sleep = socket.getaddrinfo, time.sleep

        def guarded_connect(sock: Any, address: Any) -> Any:
            guard.check("socket connect to %r" % (address,))
            return connect(sock, address)

        def guarded_join(thread: Any, timeout: Any = None) -> Any:
            guard.check("join of thread %s" % thread.name)
            return join(thread, timeout)

        def guarded_fsync(fd: Any) -> Any:
            guard.check("fsync")
            return fsync(fd)

        def guarded_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
            guard.check("DNS lookup of %r" % (args[:1],))
            return getaddrinfo(*args, **kwargs)

        def guarded_sleep(seconds: float) -> None:
            guard.check("sleep(%s)" % seconds)
            sleep(seconds)

        monkeypatch.setattr(socket.socket, "connect", guarded_connect)
        monkeypatch.setattr(threading.Thread, "join", guarded_join)
        monkeypatch.setattr(os, "fsync", guarded_fsync)
        monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        monkeypatch.setattr(time, "sleep", guarded_sleep)


@pytest.fixture
def reactor_guard(monkeypatch):
    guard = ReactorGuard()
    guard.install(monkeypatch)
    yield guard
    assert not guard.violations, "\n\n".join(guard.violations)


# --- per-test receiver -----------------------------------------------------------------------------
_baseline: dict = {}


def _reset_tree() -> None:
    """Forget the previous test's GUI: singletons, key bindings, standby, notifications."""
    import enigma
    import NavigationInstance
    import Screens.InfoBar
    import Screens.Standby
    import Tools.Notifications
    from Components.Task import job_manager
    actions = enigma.eActionMap.getInstance()
    if not _baseline:
        _baseline["bindings"] = list(actions.bindings)
        _baseline["unbound"] = list(actions.unbound_handlers)
    actions.bindings[:] = _baseline["bindings"]
    actions.unbound_handlers[:] = _baseline["unbound"]
    # Each test has its own Navigation and InfoBar (a receiver has one of each for the life of
    # the process): the class-level event routing must start from scratch with them.
    import Components.ServiceEventTracker as tracker
    tracker.InfoBarCount = 0
    tracker.ServiceEventTracker.EventMap = {}
    tracker.ServiceEventTracker.InfoBarStack = []
    tracker.ServiceEventTracker.InfoBarStackSize = 0
    tracker.ServiceEventTracker.oldServiceStr = None
    tracker.ServiceEventTracker.oldRef = None
    tracker.ServiceEventTracker.navcore = None
    NavigationInstance.instance = None
    Screens.InfoBar.InfoBar.instance = None
    Screens.InfoBar.MoviePlayer.movie_instance = None
    Screens.Standby.inStandby = None
    Screens.Standby.inTryQuitMainloop = False
    del Tools.Notifications.notifications[:]
    del Tools.Notifications.notificationAdded[:]
    job_manager.active_job = None
    job_manager.active_jobs = []
    job_manager.failed_jobs = []
    del getattr(job_manager, "_streamrecorder_jobs", [])[:]
    del enigma.QUIT_REQUESTS[:]


def _reset_settings(settings: Any) -> None:
    for element in settings.content.items.values():
        element.value = element.default
        element.saved_value = None


@pytest.fixture
def receiver(tmp_path, monkeypatch):
    state = load_tree()
    import enigma
    from Components.config import config
    from Screens.InfoBar import InfoBar
    from Tools import Directories
    from Plugins.Extensions.StreamRecorder import controller, storage
    from Plugins.Extensions.StreamRecorder.config import settings

    _reset_tree()
    enigma.set_desktop_size(1280, 720)
    root = tmp_path
    config_dir = root / "etc" / "enigma2"
    hdd, ram = root / "media" / "hdd", root / "ram"
    for folder in (config_dir, hdd, ram):
        folder.mkdir(parents=True)
    mounts = root / "mounts"
    mounts.write_text("/dev/root / ext4 rw 0 0\n/dev/sda1 %s ext4 rw 0 0\ntmpfs %s tmpfs rw 0 0\n"
                      % (hdd, ram))
    monkeypatch.setitem(Directories.defaultPaths, Directories.SCOPE_CONFIG,
                        (str(config_dir) + "/", Directories.PATH_CREATE))
    monkeypatch.setattr(storage, "MOUNTS_FILE", str(mounts))
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(hdd), str(root / "media" / "usb")))
    monkeypatch.setattr(storage, "RAM_PATHS", (str(ram),))
    monkeypatch.setattr(storage, "MIN_FREE_BYTES", 1 << 20)
    monkeypatch.setattr(enigma, "PLAY_SPEED", 1.0)
    _reset_settings(settings)
    config.usage.default_path.value = str(hdd / "movie") + "/"
    config.tv.lastservice.value = LIVE_SERVICE
    old = controller.reset_controller()
    assert old is None, "a previous test leaked the plugin controller"
    session = e2tree.new_session()
    session.open(InfoBar)
    rx = Receiver(session, root)
    pytest_twisted.blockon(_start_up(rx))
    yield rx
    from Plugins.Extensions.StreamRecorder import timers
    timers.reset_timer()  # the plugin's timer list of this test, its eTimer stopped
    ctrl = controller.reset_controller()
    if ctrl is not None:
        pytest_twisted.blockon(_shut_down(ctrl))
    from Components.Task import job_manager
    leaked = job_manager.getPendingJobs()
    e2tree.close_screens(rx.session)
    _reset_tree()
    _reset_settings(settings)
    assert not leaked, "recordings left in enigma2's job list: %s" % leaked
    del state


@defer.inlineCallbacks
def _start_up(rx: Receiver):
    """The InfoBar is on screen with the live channel playing (the channel list that the
    InfoBar opens when the last service cannot start is closed, as a user would)."""
    from Screens.ChannelSelection import ChannelSelection
    from Screens.InfoBar import InfoBar
    yield defer.ensureDeferred(rx.settle())
    if isinstance(rx.session.current_dialog, ChannelSelection):
        rx.press("KEY_EXIT")
        yield defer.ensureDeferred(rx.settle())
    # ChannelSelection zaps to its list's selection 100 ms after it was created
    # (Screens/ChannelSelection.py lastChannelRootTimer): tune the live channel after that.
    timer = InfoBar.instance.servicelist.lastChannelRootTimer
    yield defer.ensureDeferred(rx.until(lambda: not timer.isActive(), 2))
    rx.nav.playService(rx.live_service())
    yield defer.ensureDeferred(rx.settle())


@defer.inlineCallbacks
def _shut_down(ctrl: Any):
    """Stop a recording left running and wait for the controller's worker-thread jobs."""
    manager = ctrl._manager
    if manager is not None:
        manager.stop()
        d = manager.stopped()
        d.addTimeout(15, reactor)
        yield d
    pending = list(ctrl._file_work)
    if pending:
        yield defer.DeferredList(pending, consumeErrors=True)
    yield ctrl.close()
