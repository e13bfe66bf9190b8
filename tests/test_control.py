"""Local control socket (issue 7) with real socket clients in threads."""

import json
import os
import socket
import stat
import struct

import pytest
import pytest_twisted
from twisted.internet import threads

from helpers import sleep, until, wait_stopped
from streamrecorder.control import MAX_CLIENTS, MAX_FRAME, MAX_PENDING_OUTPUT, ControlServer
from streamrecorder.devserver import Fault

TOKEN = "s3cret-token-123"


class Client:
    """A blocking control client (use only from threads)."""

    def __init__(self, address, family=socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(address)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        data = json.dumps(obj).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv(self):
        """The next frame, or None at EOF."""
        head = self._exact(4)
        if head is None:
            return None
        body = self._exact(struct.unpack(">I", head)[0])
        return None if body is None else json.loads(body)

    def call(self, obj):
        """Send a command; return its reply, skipping pushed messages."""
        self.send(obj)
        while True:
            frame = self.recv()
            if frame is None or "message" not in frame:
                return frame

    def closed(self):
        """True when the server closed the connection (EOF or reset)."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def connect(address, family=socket.AF_INET, token=TOKEN):
    client = Client(address, family)
    if token is not None:
        reply = client.call({"cmd": "hello", "token": token})
        assert reply == {"ok": True, "cmd": "hello"}, reply
    return client


@pytest.fixture
def control(manager, tmp_path):
    srv = ControlServer(manager, TOKEN, str(tmp_path / "default_rec"))
    yield srv
    pytest_twisted.blockon(srv.close())


def in_thread(fn, *args):
    return threads.deferToThread(fn, *args)


def rr(server, path="/v.mp4", **extra):
    result = {"resolved_url": server.url(path), "recorder_id": "mp4"}
    result.update(extra)
    return result


@pytest_twisted.ensureDeferred
async def test_auth_required(control, manager, server, mp4_media):
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    port = control.listen_tcp(0)

    def wrong_token():
        client = Client(("127.0.0.1", port))
        client.send({"cmd": "hello", "token": "wrong-token-xyz"})
        client.send({"cmd": "record", "resolve_result": rr(server)})
        reply = client.recv()
        return reply, client.closed()

    def command_first():
        client = Client(("127.0.0.1", port))
        client.send({"cmd": "status"})
        reply = client.recv()
        return reply, client.closed()

    for fn in (wrong_token, command_first):
        reply, closed = await in_thread(fn)
        assert reply["ok"] is False and "status" not in reply
        assert closed
    await sleep(0.2)
    assert manager.current_recorder is None
    assert server.paths_requested() == []


@pytest_twisted.ensureDeferred
async def test_status_and_too_many_clients(control):
    port = control.listen_tcp(0)

    def run():
        clients = [connect(("127.0.0.1", port)) for _ in range(MAX_CLIENTS)]
        status = clients[0].call({"cmd": "status"})
        extra = Client(("127.0.0.1", port))
        refused = extra.closed()
        for c in clients:
            c.close()
        return status, refused

    status, refused = await in_thread(run)
    assert status == {"ok": True, "cmd": "status",
                      "status": {"state": "idle", "recorder": None, "url": None,
                                 "recording_id": None, "queued_recording_id": None}}
    assert refused
    assert await until(lambda: not control._factory.clients)
    # slots are free again
    client = await in_thread(connect, ("127.0.0.1", port))
    client.close()


@pytest_twisted.ensureDeferred
async def test_record_with_auth_headers_until_stop(control, manager, server, mp4_media,
                                                   tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/v.mp4", data)
    server.add_fault(Fault(r"\.mp4", require_header=("Authorization", "Bearer abc"),
                           require_cookie=("sid", "c00kie")))
    port = control.listen_tcp(0)

    def run():
        client = connect(("127.0.0.1", port))
        bad = client.call({"cmd": "record", "resolve_result": rr(
            server, headers={"X-Evil": "a\r\nInjected: yes"})})
        reply = client.call({"cmd": "record", "resolve_result": rr(
            server, headers={"Authorization": "Bearer abc"}, cookies={"sid": "c00kie"})})
        messages = []
        while True:
            frame = client.recv()
            assert frame is not None, "connection closed before the stop message"
            messages.append(frame["message"])
            if frame["message"][0] == "stop":
                break
        client.close()
        return bad, reply, messages

    bad, reply, messages = await in_thread(run)
    assert bad["ok"] is False and "line break" in bad["error"]
    recording_id = reply.pop("recording_id")
    assert reply == {"ok": True, "cmd": "record"}
    assert isinstance(recording_id, str) and recording_id
    # Every pushed message of that recording carries the id the reply gave (clients route by it).
    assert {m[1]["recording_id"] for m in messages} == {recording_id}
    kinds = [m[0] for m in messages]
    assert kinds.count("start") == 1 and kinds[-1] == "stop" and "progress" in kinds
    assert messages[-1][1]["reason"] == "complete", messages[-1]
    await wait_stopped(manager)
    out = tmp_path / "default_rec" / "stream_0.mp4"
    assert out.read_bytes() == data


@pytest_twisted.ensureDeferred
async def test_stop_command(control, manager, collector, server, mp4_media, tmp_path):
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    server.add_fault(Fault(r"\.mp4", throttle_bps=500_000))
    port = control.listen_tcp(0)
    client = await in_thread(connect, ("127.0.0.1", port))
    reply = await in_thread(client.call, {"cmd": "record", "resolve_result": rr(
        server, rec_dir=str(tmp_path / "own"))})
    assert reply["ok"] is True
    assert await until(lambda: collector.of("progress"), timeout=10)
    status = await in_thread(client.call, {"cmd": "status"})
    assert status["status"]["state"] == "recording" and status["status"]["recorder"] == "mp4"

    def stop_and_read():
        reply = client.call({"cmd": "stop"})
        while True:
            frame = client.recv()
            if frame is None or frame.get("message", [None])[0] == "stop":
                return reply, frame

    reply, stop = await in_thread(stop_and_read)
    client.close()
    assert reply == {"ok": True, "cmd": "stop"}
    assert stop is not None and stop["message"][1]["reason"] == "user"
    assert os.path.exists(tmp_path / "own" / "stream_0.mp4")


@pytest_twisted.ensureDeferred
async def test_bad_frames_do_not_affect_recording(control, manager, collector, server,
                                                  mp4_media, tmp_path):
    data = mp4_media["faststart"].read_bytes()
    server.put("/v.mp4", data)
    server.add_fault(Fault(r"\.mp4", throttle_bps=2_000_000))
    port = control.listen_tcp(0)
    assert manager.record_stream(rr(server, rec_dir=str(tmp_path / "rec")))
    body = b'{"cmd": "status"'
    attacks = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50,                     # garbage
        struct.pack(">I", 0xFFFFFFFF) + b"x" * 1000,                    # huge length prefix
        struct.pack(">I", (1 << 20) + 1),                               # just over 1 MiB
        struct.pack(">I", len(body)) + body,                            # invalid JSON
        struct.pack(">I", 2) + b"[]",                                   # not an object
        struct.pack(">I", 4) + b"\xff\xfe\xfd\xfc",                     # not UTF-8
    ]

    def attack(payload, hello):
        client = Client(("127.0.0.1", port))
        try:
            if hello:
                assert client.call({"cmd": "hello", "token": TOKEN})["ok"]
            client.send_raw(payload)
        except OSError:
            return True
        closed = client.closed()
        client.close()
        return closed

    results = []
    for _ in range(2):
        for hello in (False, True):
            # one batch of concurrent clients stays below the client limit
            runs = [in_thread(attack, p, hello) for p in attacks]
            for d in runs:
                results.append(await d)
            assert await until(lambda: not control._factory.clients)
    assert all(results), results
    assert manager.status()["state"] == "recording"
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert (tmp_path / "rec" / "stream_0.mp4").read_bytes() == data
    assert len(collector.of("stop")) == 1
    # the server still works
    client = await in_thread(connect, ("127.0.0.1", port))
    reply = await in_thread(client.call, {"cmd": "status"})
    client.close()
    assert reply["status"]["state"] == "idle"


@pytest_twisted.ensureDeferred
async def test_unix_socket_mode_0600(manager, tmp_path):
    path = str(tmp_path / "ctl.sock")
    srv = ControlServer(manager, TOKEN, str(tmp_path / "rec"))
    try:
        srv.listen_unix(path)
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600

        def run():
            client = connect(path, socket.AF_UNIX)
            reply = client.call({"cmd": "status"})
            client.close()
            return reply

        reply = await in_thread(run)
        assert reply["ok"] is True and reply["status"]["state"] == "idle"
    finally:
        await srv.close()
    # a stale socket file (a crashed previous run) is replaced
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    assert os.path.exists(path)
    srv = ControlServer(manager, TOKEN, str(tmp_path / "rec"))
    try:
        srv.listen_unix(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        await srv.close()


async def _authed_client(control, port):
    client = await in_thread(connect, ("127.0.0.1", port))
    assert await until(lambda: [p for p in control._factory.clients if p.authed])
    (proto,) = control._factory.clients
    return client, proto


PAD = 64 << 10     # bytes of padding per pushed message in the back-pressure tests


@pytest_twisted.ensureDeferred
async def test_client_that_stops_reading_is_dropped(control, manager):
    port = control.listen_tcp(0)
    client, proto = await _authed_client(control, port)
    # All in one reactor turn: nothing reaches the socket, the transport's buffer only grows.
    for i in range((MAX_PENDING_OUTPUT + (1 << 20)) // PAD):
        proto.broadcast(["progress", {"i": i, "pad": "x" * PAD}])
        if proto.closing:
            break
    assert proto.closing and i * PAD >= MAX_PENDING_OUTPUT, i
    assert await until(lambda: not control._factory.clients)
    assert proto not in manager._subscribers
    assert await in_thread(client.closed)
    client.close()
    # the server still works
    client, _ = await _authed_client(control, port)
    reply = await in_thread(client.call, {"cmd": "status"})
    client.close()
    assert reply["ok"] is True


@pytest_twisted.ensureDeferred
async def test_slow_reader_gets_every_message(control):
    """The transport pauses its producer when its buffer fills and resumes it once drained: a
    client that reads (late) gets every message, far more than MAX_PENDING_OUTPUT in all."""
    port = control.listen_tcp(0)
    client, proto = await _authed_client(control, port)
    per_batch = (MAX_PENDING_OUTPUT * 3 // 4) // PAD

    def read(n):
        return [client.recv() for _ in range(n)]

    for batch in range(3):
        for i in range(per_batch):
            proto.broadcast(["progress", {"batch": batch, "i": i, "pad": "x" * PAD}])
        assert proto.output_paused and not proto.closing
        frames = await in_thread(read, per_batch)
        assert [(f["message"][1]["batch"], f["message"][1]["i"]) for f in frames] == \
            [(batch, i) for i in range(per_batch)]
        assert await until(lambda: not proto.output_paused)
    reply = await in_thread(client.call, {"cmd": "status"})
    client.close()
    assert reply["ok"] is True and not proto.closing


@pytest_twisted.ensureDeferred
async def test_frame_of_max_length_is_accepted(control):
    port = control.listen_tcp(0)

    def run():
        client = connect(("127.0.0.1", port))
        body = b'{"cmd":"status","pad":"' + b"x" * (MAX_FRAME - 25) + b'"}'
        assert len(body) == MAX_FRAME
        client.send_raw(struct.pack(">I", len(body)) + body)
        reply = client.recv()
        client.close()
        return reply

    reply = await in_thread(run)
    assert reply["ok"] is True and reply["status"]["state"] == "idle"


def test_token_required(manager):
    with pytest.raises(ValueError):
        ControlServer(manager, "", "/tmp")
