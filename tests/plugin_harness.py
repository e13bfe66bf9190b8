"""Desktop harness for the Enigma2 layer: stand-in modules, a fake session, the reactor guard.

Fixtures (import with `from plugin_harness import *`):
- `enigma_env`: installs the enigma2 stand-ins, points the settings folder, the storage and the
  movie folder into tmp_path, gives a fresh plugin controller and a FakeSession; on teardown
  stops any recording, waits for the controller's file work, closes its control socket and
  fails when a recording was left in enigma2's job list (Components.Task.job_manager).
- `reactor_guard`: fails the test when plugin code connects a socket, looks up a host name,
  joins a thread, fsyncs a file or sleeps on the reactor thread.

Nothing here touches sys.modules until a fixture (or install_enigma_stubs()) asks for it, so the
core tests never see the stand-ins. The package `Plugins` resolves to the repository's Plugins/.
"""

import importlib.util
import os
import socket
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.python import threadable

REPO = Path(__file__).resolve().parent.parent
STUBS = Path(__file__).resolve().parent / "enigma_stubs"
PLUGIN_DIR = REPO / "Plugins" / "Extensions" / "StreamRecorder"
LIVE_SERVICE = "1:0:19:283D:3FB:1:C00000:0:0:0:"

__all__ = ["enigma_env", "reactor_guard", "install_enigma_stubs", "press", "compile_po",
           "PluginEnv", "ReactorGuard", "REPO", "PLUGIN_DIR"]


def install_enigma_stubs() -> None:
    """Make `enigma`, `Components`, `Screens`, `Tools` and `Plugins.Plugin` importable (idempotent)."""
    for path in (str(STUBS), str(REPO)):
        if path not in sys.path:
            sys.path.append(path)  # last: nothing of the core or the tests is shadowed
    import enigma
    import Plugins
    assert Path(enigma.__file__).resolve().parent == STUBS, enigma.__file__
    assert Path(Plugins.__file__).resolve().parent == REPO / "Plugins", Plugins.__file__
    if "Plugins.Plugin" not in sys.modules:
        spec = importlib.util.spec_from_file_location("Plugins.Plugin",
                                                      str(STUBS / "plugin_descriptor.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["Plugins.Plugin"] = module
        spec.loader.exec_module(module)
        Plugins.Plugin = module


def press(screen: Any, action: str) -> Any:
    """Simulate a remote-control key: the highest-priority enabled ActionMap that has `action`."""
    from Components.ActionMap import ActionMap
    assert screen.execing, "%r is not the active screen" % (screen,)
    maps = sorted((m for m in screen.values() if isinstance(m, ActionMap) and m.enabled),
                  key=lambda m: m.prio)
    for action_map in maps:
        if action in action_map.actions:
            return action_map.action(action_map.contexts[0] if action_map.contexts else "", action)
    raise AssertionError("no action %r on %r" % (action, screen))


# --- the reactor-thread guard --------------------------------------------------------------
class ReactorGuard:
    """Records blocking calls made by plugin code on the reactor thread: socket connects and
    DNS lookups, thread joins, fsync and sleeps."""

    def __init__(self) -> None:
        self.violations: List[str] = []
        self.checks = 0

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
        guard = self
        connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
        join, fsync = threading.Thread.join, os.fsync
        getaddrinfo, sleep = socket.getaddrinfo, time.sleep

        def guarded_connect(sock: Any, address: Any) -> Any:
            guard.check("socket connect to %r" % (address,))
            return connect(sock, address)

        def guarded_connect_ex(sock: Any, address: Any) -> Any:
            guard.check("socket connect_ex to %r" % (address,))
            return connect_ex(sock, address)

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
        monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
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


# --- the plugin environment ----------------------------------------------------------------
@dataclass
class PluginEnv:
    session: Any
    root: Path
    config_dir: Path
    hdd: Path
    rec_dir: Path
    movie_dir: Path
    ram_dir: Path

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


def _reset_settings(settings: Any) -> None:
    for element in settings.content.values():
        element.value = element.default
        element.saved_value = None


@pytest.fixture
def enigma_env(tmp_path, monkeypatch):
    install_enigma_stubs()
    from Components.ServiceEventTracker import ServiceEventTracker
    from enigma import eServiceReference, set_desktop_size
    from fake_session import FakeSession
    from Plugins.Extensions.StreamRecorder import controller, storage
    from Plugins.Extensions.StreamRecorder.config import settings
    from Tools import Directories

    ServiceEventTracker.reset()
    set_desktop_size(1280, 720)
    config_dir = tmp_path / "etc" / "enigma2"
    hdd = tmp_path / "media" / "hdd"
    ram = tmp_path / "ram"
    for folder in (config_dir, hdd, ram):
        folder.mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/root / ext4 rw 0 0\n/dev/sda1 %s ext4 rw 0 0\ntmpfs %s tmpfs rw 0 0\n"
                      % (hdd, ram))
    monkeypatch.setitem(Directories.scope_roots, Directories.SCOPE_CONFIG, str(config_dir) + "/")
    monkeypatch.setattr(storage, "MOUNTS_FILE", str(mounts))
    monkeypatch.setattr(storage, "MEDIA_ROOTS", (str(hdd), str(tmp_path / "media" / "usb")))
    monkeypatch.setattr(storage, "RAM_PATHS", (str(ram),))
    monkeypatch.setattr(storage, "MIN_FREE_BYTES", 1 << 20)
    _reset_settings(settings)
    from Components.Task import job_manager
    _reset_job_manager(job_manager)
    settings.movie_dir.value = str(hdd / "movie") + "/"
    old = controller.reset_controller()
    assert old is None, "a previous test leaked the plugin controller"
    env = PluginEnv(session=FakeSession(eServiceReference(LIVE_SERVICE)), root=tmp_path,
                    config_dir=config_dir, hdd=hdd, rec_dir=hdd / "streamrecorder",
                    movie_dir=hdd / "movie", ram_dir=ram)
    yield env
    ctrl = controller.reset_controller()
    if ctrl is not None:
        pytest_twisted.blockon(_shut_down(ctrl))
    from Components.Task import job_manager
    leaked_jobs = job_manager.getPendingJobs()
    _reset_job_manager(job_manager)
    assert not leaked_jobs, "recordings left in enigma2's job list: %s" % leaked_jobs
    _reset_settings(settings)
    ServiceEventTracker.reset()
    assert not env.session.off_thread_opens, "screens opened off the reactor thread: %s" % (
        env.session.off_thread_opens,)


def _reset_job_manager(job_manager: Any) -> None:
    import enigma
    job_manager.active_job = None
    job_manager.active_jobs = []
    job_manager.failed_jobs = []
    del getattr(job_manager, "_streamrecorder_jobs", [])[:]  # recordings the plugin listed
    enigma.quit_requests.clear()


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


# --- gettext catalogues ----------------------------------------------------------------------
def _po_entries(text: str) -> dict:
    """msgid -> msgstr of a .po file (no plural forms or contexts needed here)."""
    entries, msgid, msgstr, target = {}, None, None, None

    def flush() -> None:
        if msgid is not None and msgstr:
            entries[msgid] = msgstr

    for line in text.splitlines() + [""]:
        line = line.strip()
        if line.startswith("msgid "):
            flush()
            msgid, msgstr, target = _unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            msgstr, target = _unquote(line[7:]), "str"
        elif line.startswith('"'):
            if target == "id":
                msgid += _unquote(line)
            elif target == "str":
                msgstr += _unquote(line)
        elif not line or line.startswith("#"):
            target = None
    flush()
    return entries


def _unquote(token: str) -> str:
    import ast
    return ast.literal_eval(token.strip())


def compile_po(po_path: Path, mo_path: Path) -> dict:
    """Write a GNU .mo file for po_path (what msgfmt does); returns the catalogue."""
    entries = _po_entries(Path(po_path).read_text(encoding="utf-8"))
    keys = sorted(entries)
    ids = [k.encode("utf-8") for k in keys]
    strs = [entries[k].encode("utf-8") for k in keys]
    header = 7 * 4
    ids_table = header
    strs_table = ids_table + 8 * len(keys)
    data_start = strs_table + 8 * len(keys)
    offsets, blob = [], b""
    for item in ids + strs:
        offsets.append((len(item), data_start + len(blob)))
        blob += item + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), ids_table, strs_table, 0, 0)
    for length, offset in offsets:
        out += struct.pack("<2I", length, offset)
    Path(mo_path).parent.mkdir(parents=True, exist_ok=True)
    Path(mo_path).write_bytes(out + blob)
    return entries
