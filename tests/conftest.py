"""Shared pytest set-up: the loopback server, a manager on the real reactor, media fixtures."""

import threading

import pytest
from twisted.python import threadable

from media import *  # noqa: F401,F403  (session fixtures: generated TS/MP4/HLS media)
from helpers import block_until_stopped, make_mp4_file
from streamrecorder.devserver import DevServer
from streamrecorder import volume
from streamrecorder.manager import Manager


@pytest.fixture(autouse=True)
def small_default_reserve(monkeypatch):
    """Recordings keep 1 MB free instead of 500 MB: the suite must not depend on how full the
    test machine's disk is. The reserve's own tests (test_storage.py) set it explicitly."""
    monkeypatch.setattr(volume, "DEFAULT_RESERVE", 1_000_000)


@pytest.fixture
def server(tmp_path_factory):
    srv = DevServer(str(tmp_path_factory.mktemp("www")))
    yield srv
    srv.close()


def on_reactor_thread():
    """Is the caller on the reactor's thread? (Before the reactor first ran: the main thread.)"""
    if threadable.ioThread is None:
        return threading.current_thread() is threading.main_thread()
    return threadable.isInIOThread()


class Collector:
    """A message subscriber that remembers everything, and every message that did not arrive on
    the reactor thread (`off_reactor`: (thread name, message) pairs; the fixture fails on any)."""

    def __init__(self):
        self.messages = []
        self.off_reactor = []

    def __call__(self, message):
        if not on_reactor_thread():
            self.off_reactor.append((threading.current_thread().name, message))
        self.messages.append(message)

    def of(self, kind):
        return [m[1] for m in self.messages if m[0] == kind]


@pytest.fixture
def collector():
    c = Collector()
    yield c
    assert c.off_reactor == [], "messages delivered off the reactor thread: %r" % c.off_reactor[:5]


@pytest.fixture
def manager(collector):
    mgr = Manager()
    mgr.subscribe(collector)
    yield mgr
    mgr.stop()
    block_until_stopped(mgr, 10)
    mgr.close()


@pytest.fixture
def make_manager(collector):
    """Managers with recorder options (allow_transcode, ffmpeg_path, ...); closed after the test."""
    made = []

    def make(**options):
        mgr = Manager(recorder_options=dict(options))
        mgr.subscribe(collector)
        made.append(mgr)
        return mgr

    yield make
    for mgr in made:
        mgr.stop()
        block_until_stopped(mgr, 15)
        mgr.close()


@pytest.fixture(scope="session")
def mp4_media(tmp_path_factory):
    """A faststart MP4 (moov first) and one with moov at the end, ~4.5 MB each."""
    root = tmp_path_factory.mktemp("mp4media")
    return {
        "faststart": make_mp4_file(root / "fast.mp4", faststart=True),
        "moov_end": make_mp4_file(root / "late.mp4", faststart=False),
    }
