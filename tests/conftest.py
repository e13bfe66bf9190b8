"""Shared pytest set-up: the loopback server, a manager on the real reactor, media fixtures."""

import threading

import pytest

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


class Collector:
    """A message subscriber that remembers everything (and on which thread it arrived)."""

    def __init__(self):
        self.messages = []
        self.threads = set()

    def __call__(self, message):
        self.threads.add(threading.current_thread().name)
        self.messages.append(message)

    def of(self, kind):
        return [m[1] for m in self.messages if m[0] == kind]


@pytest.fixture
def collector():
    return Collector()


@pytest.fixture
def manager(collector):
    mgr = Manager()
    mgr.subscribe(collector)
    yield mgr
    mgr.stop()
    block_until_stopped(mgr, 10)
    mgr.close()


@pytest.fixture(scope="session")
def mp4_media(tmp_path_factory):
    """A faststart MP4 (moov first) and one with moov at the end, ~4.5 MB each."""
    root = tmp_path_factory.mktemp("mp4media")
    return {
        "faststart": make_mp4_file(root / "fast.mp4", faststart=True),
        "moov_end": make_mp4_file(root / "late.mp4", faststart=False),
    }
