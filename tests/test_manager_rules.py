"""The manager's message contracts on a real loopback server: every message carries the
recording_id of its recording, and the single-recorder rule holds until the old recording's
stop message has been delivered (architecture.md, "Messages" and "Runtime model")."""

import os
import time

import pytest_twisted

from helpers import rr, until, wait_stopped
from hls_server import LiveStream, publish_vod


def ids_in_order(collector):
    return [m[1]["recording_id"] for m in collector.messages]


def assert_a_before_b(collector, first, second):
    """Every message of `first` (its stop last) came before any message of `second`."""
    ids = ids_in_order(collector)
    assert set(ids) == {first, second}, ids
    last_a = max(i for i, rid in enumerate(ids) if rid == first)
    first_b = min(i for i, rid in enumerate(ids) if rid == second)
    assert last_a < first_b, [(m[0], m[1]["recording_id"][:6]) for m in collector.messages]
    assert collector.messages[last_a][0] == "stop"


class FileWatcher:
    """A subscriber that, when `recording_id` stops, checks that its files are still there."""

    def __init__(self):
        self.recording_id = None
        self.files = {}  # path -> size when last seen
        self.at_stop = None

    def __call__(self, message):
        kind, info = message
        if info["recording_id"] != self.recording_id:
            return
        if kind == "start":
            self.files[info["rec_file"]] = os.path.getsize(info["rec_file"])
        elif kind == "stop":
            self.at_stop = {path: os.path.exists(path) and os.path.getsize(path) >= size
                            for path, size in self.files.items()}


@pytest_twisted.ensureDeferred
async def test_every_message_carries_its_recording_id(server, manager, collector,
                                                      media_ts_restart, tmp_path):
    url = publish_vod(server, "ids", media_ts_restart)
    first = manager.record_stream(rr(url, tmp_path / "a", buffering=2))
    assert isinstance(first, str) and first
    assert manager.current_recording_id == first
    assert manager.status()["recording_id"] == first
    stop = await wait_stopped(manager)
    assert stop[1]["recording_id"] == first and stop[1]["reason"] == "complete", stop
    assert manager.current_recording_id is None and manager.status()["recording_id"] is None
    count = len(collector.messages)

    class Sock:
        got = []

        def broadcast(self, message):
            self.got.append(message)

    second = manager.record_stream(rr(url, tmp_path / "b", buffering=2, socketserver=Sock()))
    await wait_stopped(manager)
    assert isinstance(second, str) and second != first
    assert ids_in_order(collector) == [first] * count + [second] * (len(collector.messages) - count)
    for rid in (first, second):
        kinds = [m[0] for m in collector.messages if m[1]["recording_id"] == rid]
        assert kinds.count("start") == 1 and kinds.count("stop") == 1 and kinds[-1] == "stop", kinds
        assert "progress" in kinds
    assert Sock.got and all(m[1]["recording_id"] == second for m in Sock.got)


def test_refused_requests_return_false(manager, tmp_path):
    assert manager.record_stream({"resolved_url": "http://127.0.0.1:9/x"}) is False
    assert manager.start_recorder("no_such_type", rr("http://127.0.0.1:9/x", tmp_path)) is False
    assert manager.current_recording_id is None and manager.status()["state"] == "idle"


@pytest_twisted.ensureDeferred
async def test_preempting_recording_starts_after_the_old_stop_was_delivered(
        server, manager, collector, media_ts_restart, mp4_media, tmp_path):
    """B asked for while live recording A runs in the same rec_dir: A stops, every message of A
    (its stop last) reaches the subscribers before any of B, and A's file is still there when
    A's stop arrives (B's cleanup comes later)."""
    live = LiveStream(server, media_ts_restart, seg_dur=0.5, window=6, prefix="prelive")
    server.put("/b.mp4", mp4_media["faststart"].read_bytes())
    rec_dir = tmp_path / "rec"
    watcher = FileWatcher()
    manager.subscribe(watcher)
    first = manager.record_stream(rr(live.url, rec_dir, recorder_id="hls_live", buffering=2))
    watcher.recording_id = first
    assert await until(lambda: collector.of("start"), 15)
    second = manager.record_stream(rr(server.url("/b.mp4"), rec_dir, recorder_id="mp4"))
    assert second and second != first
    status = manager.status()
    assert (status["state"], status["recording_id"], status["queued_recording_id"]) == (
        "stopping", first, second)
    stop = await wait_stopped(manager, 30)
    assert stop[1]["recording_id"] == second and stop[1]["reason"] == "complete", stop
    assert [s["reason"] for s in collector.of("stop")] == ["user", "complete"]
    assert_a_before_b(collector, first, second)
    assert watcher.at_stop == {str(rec_dir / "stream_0.ts"): True}
    assert (rec_dir / "stream_0.mp4").stat().st_size == mp4_media["faststart"].stat().st_size


@pytest_twisted.ensureDeferred
async def test_new_recording_waits_for_a_stop_message_still_in_flight(
        server, manager, collector, media_ts_restart, mp4_media, tmp_path):
    """The race the rule is about: A's thread has ended (is_running is False) but its stop
    message still waits for the reactor. B asked for then must not start (nor clean rec_dir up)
    before A's stop has reached the subscribers."""
    url = publish_vod(server, "race", media_ts_restart)
    server.put("/b.mp4", mp4_media["faststart"].read_bytes())
    rec_dir = tmp_path / "rec"
    a_file = rec_dir / "stream_0.ts"
    seen_at_a_stop = []
    manager.subscribe(lambda m: seen_at_a_stop.append(a_file.exists())
                      if m[0] == "stop" and m[1]["reason"] == "complete" else None)
    first = manager.record_stream(rr(url, rec_dir, buffering=2))
    recorder_a = manager.current_recorder
    # Hold the reactor (this test runs on it), so none of A's messages can be delivered.
    deadline = time.monotonic() + 20
    while recorder_a.is_running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not recorder_a.is_running and a_file.stat().st_size > 0
    assert not collector.messages, "the reactor was held: nothing delivered yet"
    second = manager.record_stream(rr(server.url("/b.mp4"), rec_dir, recorder_id="mp4"))
    time.sleep(1.5)  # time enough for a B started too early to prove itself and clean up
    assert a_file.exists(), "B cleaned rec_dir up before A's stop message was delivered"
    stop = await wait_stopped(manager, 30)
    assert stop[1]["recording_id"] == second and stop[1]["reason"] == "complete", stop
    assert seen_at_a_stop == [True, False]  # A's stop: A's file there; B's stop: B cleaned up
    assert_a_before_b(collector, first, second)
    assert not a_file.exists() and (rec_dir / "stream_0.mp4").exists()
