"""Abortable requests through the resolver's session, on a real loopback server: the adapter
the session holds for the URL is used for every request and never replaced, stop() still ends
a blocked read at once, requests' redirect/cookie/hook handling is kept, and no library's
module-level name is patched (architecture.md, "Runtime model")."""

import threading
import time

import pytest
import pytest_twisted
import requests
import urllib3
from twisted.internet import reactor
from urllib3 import poolmanager
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as u3_connection

from helpers import one_stop, recorder_threads, rr, sleep, until, wait_stopped
from hls_server import publish_vod
from streamrecorder.devserver import Fault
from streamrecorder.http import HttpClient, TransientError


def library_names():
    return (u3_connection.create_connection, HTTPConnectionPool._get_conn,
            HTTPConnectionPool._new_conn, poolmanager.PoolManager._new_pool,
            dict(poolmanager.pool_classes_by_scheme), requests.adapters.HTTPAdapter.send,
            requests.Session.send)


class MarkingAdapter(requests.adapters.HTTPAdapter):
    """A resolver's adapter: counts its calls, adds a header, and checks it is still mounted."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.calls = []
        self.mounted = []

    def send(self, request, **kwargs):
        self.calls.append(request.url)
        self.mounted.append(self.session.get_adapter(request.url) is self)
        request.headers["X-Resolver"] = "marked"
        return super().send(request, **kwargs)


class HangingAdapter(requests.adapters.BaseAdapter):
    """A resolver's adapter whose send() blocks where stop() cannot reach it."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def send(self, request, **kwargs):
        self.entered.set()
        self.release.wait(60)
        raise requests.exceptions.ConnectionError("released")

    def close(self):
        self.release.set()


@pytest_twisted.ensureDeferred
async def test_resolver_adapter_is_used_for_every_request_and_never_replaced(
        server, manager, collector, media_ts_restart, tmp_path):
    url = publish_vod(server, "marked", media_ts_restart)
    session = requests.Session()
    adapter = MarkingAdapter(session)
    session.mount("http://", adapter)
    adapters_before = dict(session.adapters)
    names_before = library_names()
    manager.record_stream(rr(url, tmp_path, buffering=2, session=session, parallel=3))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert len(adapter.calls) == len(server.requests) == 1 + len(media_ts_restart)
    assert all(adapter.mounted)
    assert all(r.headers.get("X-Resolver") == "marked" for r in server.requests)
    assert dict(session.adapters) == adapters_before and session.adapters["http://"] is adapter
    assert library_names() == names_before


@pytest_twisted.ensureDeferred
async def test_library_module_names_are_the_originals(server, manager, collector, mp4_media,
                                                      tmp_path):
    before = library_names()
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    manager.record_stream(rr(server.url("/v.mp4"), tmp_path, recorder_id="mp4"))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert library_names() == before
    assert u3_connection.create_connection.__module__ == "urllib3.util.connection"
    assert HTTPConnectionPool._get_conn.__qualname__ == "HTTPConnectionPool._get_conn"
    assert HTTPConnectionPool._get_conn.__module__ == "urllib3.connectionpool"
    assert poolmanager.pool_classes_by_scheme == {"http": HTTPConnectionPool,
                                                  "https": HTTPSConnectionPool}
    assert urllib3.PoolManager is poolmanager.PoolManager


@pytest_twisted.ensureDeferred
async def test_stop_ends_a_blocked_body_read_behind_a_resolver_adapter(
        server, manager, collector, mp4_media, tmp_path):
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"\.mp4", stall_after=500_000))
    session = requests.Session()
    adapter = MarkingAdapter(session)
    session.mount("http://", adapter)
    manager.record_stream(rr(server.url("/v.mp4"), tmp_path, recorder_id="mp4", session=session))
    assert await until(lambda: collector.of("progress"), 10)
    await sleep(0.3)
    t0 = time.monotonic()
    manager.stop()
    stop = (await wait_stopped(manager, 10))[1]
    assert stop["reason"] == "user", stop
    assert time.monotonic() - t0 < 2.0, "the stop message came %.1f s after stop()" % (
        time.monotonic() - t0)
    assert adapter.calls and session.adapters["http://"] is adapter
    one_stop(collector)


class StallingBody:
    """A resolver transport's body, not a urllib3 one (no socket to shut down): hands out
    `data` in pieces, then blocks until released; close() must not come from the reader."""

    def __init__(self, data, release):
        self.data_left = data
        self.release = release
        self.reader_threads = set()

    def read(self, amt=None, **kwargs):
        self.reader_threads.add(threading.current_thread().name)
        if not self.data_left:
            self.release.wait(60)
            return b""
        piece, self.data_left = self.data_left[:65536], self.data_left[65536:]
        return piece

    def close(self):
        pass


class OwnTransportAdapter(requests.adapters.BaseAdapter):
    """A resolver's adapter whose responses come from a transport of its own."""

    def __init__(self, data):
        super().__init__()
        self.release = threading.Event()
        self.data = data
        self.bodies = []

    def send(self, request, **kwargs):
        resp = requests.Response()
        resp.status_code = 200
        resp.headers["Content-Type"] = "video/mp4"
        resp.raw = StallingBody(self.data, self.release)
        self.bodies.append(resp.raw)
        resp.url = request.url
        resp.request = request
        return resp

    def close(self):
        self.release.set()


@pytest_twisted.ensureDeferred
async def test_stop_ends_a_body_read_without_a_socket_on_the_reactor_pool(
        manager, collector, mp4_media, tmp_path):
    """The recorder holds a reactor pool thread; a body it has no socket for is read on
    helpers, which stop() leaves at once; the helper ends once the read returns."""
    data = mp4_media["faststart"].read_bytes()[:3 << 20]
    session = requests.Session()
    adapter = OwnTransportAdapter(data)
    session.mount("http://", adapter)
    try:
        manager.record_stream(rr("http://127.0.0.1:9/v.mp4", tmp_path, recorder_id="mp4",
                                 session=session))
        assert await until(lambda: (tmp_path / "stream_0.mp4").exists()
                           and (tmp_path / "stream_0.mp4").stat().st_size == len(data), 10)
        assert len(reactor.getThreadPool().working) == 1, "the recorder runs on the reactor pool"
        assert not [t for t in threading.enumerate() if t.name == "streamrecorder-mp4"]
        await sleep(0.3)
        t0 = time.monotonic()
        manager.stop()
        stop = (await wait_stopped(manager, 10))[1]
        took = time.monotonic() - t0
        # the pool thread returns right after sending the stop message
        assert await until(lambda: not reactor.getThreadPool().working, 1)
    finally:
        adapter.release.set()
    assert stop["reason"] == "user", stop
    assert took < 2.0, "the stop message came %.1f s after stop()" % took
    assert (tmp_path / "stream_0.mp4").read_bytes() == data
    assert {name for body in adapter.bodies for name in body.reader_threads} \
        == {"streamrecorder-body"}
    assert await until(lambda: recorder_threads() == 0, 5), "the helper ends once read() returns"
    one_stop(collector)


@pytest_twisted.ensureDeferred
async def test_stop_while_a_resolver_adapter_hangs_in_send(manager, collector, tmp_path):
    session = requests.Session()
    adapter = HangingAdapter()
    session.mount("http://", adapter)
    try:
        manager.record_stream(rr("http://127.0.0.1:9/v.mp4", tmp_path, recorder_id="mp4",
                                 session=session))
        assert await until(adapter.entered.is_set, 5)
        assert len(reactor.getThreadPool().working) == 1, "the recorder runs on the reactor pool"
        t0 = time.monotonic()
        manager.stop()
        stop = (await wait_stopped(manager, 10))[1]
        took = time.monotonic() - t0
    finally:
        adapter.release.set()
    assert stop["reason"] == "user", stop
    assert took < 2.0, "the stop message came %.1f s after stop()" % took
    assert session.adapters["http://"] is adapter
    assert await until(lambda: recorder_threads() == 0, 5), "the helper ends once send() returns"


@pytest_twisted.ensureDeferred
async def test_redirect_keeps_cookies_and_hooks_of_the_session(server, manager, collector,
                                                               mp4_media, tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/v.mp4", data)
    server.add_fault(Fault(r"^/v\.mp4", require_cookie=("hop", "1")))
    server.route("/start", lambda request: (302, {"Location": "/v.mp4",
                                                  "Set-Cookie": "hop=1; Path=/"}, b""))
    session = requests.Session()
    hooked = []
    session.hooks["response"].append(lambda r, *args, **kwargs: hooked.append(r.status_code))
    manager.record_stream(rr(server.url("/start"), tmp_path, recorder_id="mp4", session=session))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert (tmp_path / "stream_0.mp4").read_bytes() == data
    assert session.cookies.get("hop") == "1", "the redirect's cookie landed in the session"
    assert hooked[:2] == [302, 200], hooked


@pytest_twisted.ensureDeferred
async def test_session_class_with_its_own_request_logic_runs_as_it_is(
        server, manager, collector, mp4_media, tmp_path):
    class SolvingSession(requests.Session):
        """Like a challenge solver: its request() adds what it worked out."""

        def __init__(self):
            super().__init__()
            self.seen = []

        def request(self, method, url, *args, **kwargs):
            self.seen.append(url)
            headers = dict(kwargs.get("headers") or {})
            headers["X-Solved"] = "yes"
            kwargs["headers"] = headers
            return super().request(method, url, *args, **kwargs)

    data = mp4_media["faststart"].read_bytes()
    server.put("/v.mp4", data)
    server.add_fault(Fault(r"\.mp4", require_header=("X-Solved", "yes")))
    session = SolvingSession()
    manager.record_stream(rr(server.url("/v.mp4"), tmp_path, recorder_id="mp4", session=session))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert session.seen and (tmp_path / "stream_0.mp4").read_bytes() == data


class BytesAdapter(requests.adapters.HTTPAdapter):
    """A resolver's transport whose urllib3 responses read from memory (no socket), gzipped;
    the first request is redirected."""

    def __init__(self, payload):
        super().__init__()
        self.payload = payload
        self.readers = set()

    def send(self, request, **kwargs):
        import gzip
        import io

        adapter = self

        class Body(io.BytesIO):
            def read(self, *args):
                adapter.readers.add(threading.current_thread().name)
                return super().read(*args)

        if request.url.endswith("/start"):
            raw = urllib3.HTTPResponse(body=Body(b"moved"), status=302,
                                       headers={"Location": "/data"}, preload_content=False,
                                       decode_content=False)
        else:
            raw = urllib3.HTTPResponse(body=Body(gzip.compress(self.payload)), status=200,
                                       headers={"Content-Encoding": "gzip"},
                                       preload_content=False, decode_content=False)
        return self.build_response(request, raw)


def test_a_body_without_a_socket_is_read_on_helpers_and_still_decoded():
    payload = bytes(range(256)) * 4096
    session = requests.Session()
    adapter = BytesAdapter(payload)
    session.mount("http://", adapter)
    hooked = []
    session.hooks["response"].append(
        lambda r, *args, **kwargs: hooked.append((r.status_code, threading.current_thread().name)))
    client = HttpClient(session)
    body, final = client.fetch("http://example.invalid/start")
    assert body == payload and final == "http://example.invalid/data"
    assert adapter.readers == {"streamrecorder-body"}, adapter.readers
    assert hooked == [(302, "streamrecorder-hook"), (200, "streamrecorder-hook")], hooked
    client.abort()
    with pytest.raises(TransientError, match="stopped"):  # nothing more is sent
        client.fetch("http://example.invalid/data")
