"""MP4 recorder against a real loopback server: start rules, resume, errors, stop."""

import os

import pytest
import pytest_twisted

from helpers import (MAX_REACTOR_LAG_S, ReactorHeartbeat, ffmpeg_errors, open_fds, recorder_threads,
                     sleep, until, wait_stopped)
from streamrecorder.devserver import Fault
from streamrecorder.http import RetryPolicy
from streamrecorder.manager import Manager


def rr(server, rec_dir, path="/v.mp4", **extra):
    result = {"resolved_url": server.url(path), "recorder_id": "mp4", "rec_dir": str(rec_dir)}
    result.update(extra)
    return result


def publish(server, media):
    data = media.read_bytes()
    server.put("/v.mp4", data)
    return data


def single_stop(collector):
    stops = collector.of("stop")
    assert len(stops) == 1, stops
    return stops[0]


@pytest_twisted.ensureDeferred
async def test_faststart_mp4_starts_early_and_completes_identical(server, manager, collector,
                                                           mp4_media, tmp_path):
    data = publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", throttle_bps=3_000_000))
    sizes_at_start = []
    collector_size = lambda m: sizes_at_start.append(  # noqa: E731
        os.path.getsize(m[1]["rec_file"])) if m[0] == "start" else None
    manager.subscribe(collector_size)
    assert manager.record_stream(rr(server, tmp_path / "rec"))
    stop = await wait_stopped(manager)
    out = tmp_path / "rec" / "stream_0.mp4"
    assert stop[1]["reason"] == "complete", stop
    assert out.read_bytes() == data
    starts = collector.of("start")
    assert len(starts) == 1 and starts[0]["rec_file"] == str(out)
    assert starts[0]["recorder"] == {"type": "mp4"}
    assert 2 << 20 <= sizes_at_start[0] < len(data), "start must come once moov + 2 MiB are on disk"
    progress = collector.of("progress")
    assert progress and progress[-1]["percent"] == 100.0 and progress[-1]["total_bytes"] == len(data)
    assert progress[-1]["media_s"] == pytest.approx(6.0, abs=0.2)
    assert single_stop(collector)["error_id"] is None
    assert collector.messages and collector.off_reactor == [], "every message on the reactor thread"
    assert ffmpeg_errors(out) == ""


@pytest_twisted.ensureDeferred
async def test_moov_at_end_starts_only_when_complete(server, manager, collector, mp4_media, tmp_path):
    data = publish(server, mp4_media["moov_end"])
    sizes = []
    manager.subscribe(lambda m: sizes.append(os.path.getsize(m[1]["rec_file"]))
                      if m[0] == "start" else None)
    manager.record_stream(rr(server, tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete"
    assert sizes == [len(data)]
    kinds = [m[0] for m in collector.messages]
    assert kinds.index("start") < kinds.index("stop")


@pytest_twisted.ensureDeferred
async def test_resume_after_truncation_is_byte_identical(server, manager, collector, mp4_media,
                                                   tmp_path):
    data = publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", cut_after=2_500_000, cut_times=2))
    manager.record_stream(rr(server, tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete", stop
    assert (tmp_path / "stream_0.mp4").read_bytes() == data
    ranges = [r.headers.get("Range") for r in server.requests if r.path == "/v.mp4"]
    assert ranges == [None, "bytes=2500000-", "bytes=5000000-"]


@pytest_twisted.ensureDeferred
async def test_server_ignoring_range_restarts_cleanly(server, manager, mp4_media, tmp_path):
    data = publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", cut_after=1_000_000, cut_times=1, ignore_range=True))
    manager.record_stream(rr(server, tmp_path))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "complete"
    assert (tmp_path / "stream_0.mp4").read_bytes() == data


@pytest_twisted.ensureDeferred
async def test_short_file_is_an_error_not_success(server, collector, mp4_media, tmp_path):
    publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", cut_after=500_000, cut_times=100, ignore_range=True))
    mgr = Manager(recorder_options={"retry": RetryPolicy(attempts=3, base=0.01, cap=0.02)})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(server, tmp_path))
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop[1]["reason"] == "error"
    assert "incomplete" in stop[1]["msg"]
    assert single_stop(collector) == stop[1]


@pytest_twisted.ensureDeferred
async def test_503_bursts_are_retried(server, manager, mp4_media, tmp_path):
    data = publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", fail_first=2))
    manager.record_stream(rr(server, tmp_path))
    assert (await wait_stopped(manager))[1]["reason"] == "complete"
    assert (tmp_path / "stream_0.mp4").read_bytes() == data


@pytest.mark.parametrize("status,error_id", [(403, "forbidden"), (401, "forbidden"),
                                             (404, "not_found"), (410, "not_found")])
@pytest_twisted.ensureDeferred
async def test_http_errors_map_to_error_ids(server, manager, collector, tmp_path, status, error_id):
    server.add_fault(Fault(r"\.mp4", status=status))
    manager.record_stream(rr(server, tmp_path))
    stop = await wait_stopped(manager)
    assert (stop[1]["reason"], stop[1]["error_id"]) == ("error", error_id)
    assert single_stop(collector)["error_id"] == error_id
    assert len(server.paths_requested(r"\.mp4")) == 1, "401/403/404 are not retried"
    assert not collector.of("start")


@pytest_twisted.ensureDeferred
async def test_auth_by_session_header_and_auth_token_cookie(server, manager, mp4_media, tmp_path):
    import requests
    data = publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", require_header=("X-Token", "s3cret")))
    server.add_fault(Fault(r"\.mp4", require_cookie=("sid", "abc")))
    session = requests.Session()
    session.headers["X-Token"] = "s3cret"
    manager.record_stream(rr(server, tmp_path, session=session,
                             auth_tokens={"cookies": {"sid": "abc"}}))
    stop = await wait_stopped(manager)
    # both faults match; the first one decides per request, so also check the cookie was sent
    assert stop[1]["reason"] == "complete", stop
    assert (tmp_path / "stream_0.mp4").read_bytes() == data
    sent = [r.headers for r in server.requests if r.path == "/v.mp4"][0]
    assert "sid=abc" in sent.get("Cookie", "")
    assert sent["User-Agent"].startswith("Mozilla/"), "python-requests UA is replaced"


@pytest_twisted.ensureDeferred
async def test_resolver_user_agent_is_kept(server, manager, mp4_media, tmp_path):
    import requests
    publish(server, mp4_media["faststart"])
    session = requests.Session()
    session.headers["User-Agent"] = "ResolverAgent/1.0"
    manager.record_stream(rr(server, tmp_path, session=session))
    await wait_stopped(manager)
    assert server.requests[0].headers["User-Agent"] == "ResolverAgent/1.0"


@pytest_twisted.ensureDeferred
async def test_html_page_never_wipes_previous_recording(server, manager, collector, tmp_path):
    server.add_fault(Fault(r"\.mp4", html_instead=True))
    old = tmp_path / "stream_0.mp4"
    old.write_bytes(b"previous recording")
    notes = tmp_path / "stream_notes.txt"
    notes.write_text("mine")
    manager.record_stream(rr(server, tmp_path))
    stop = await wait_stopped(manager)
    assert (stop[1]["reason"], stop[1]["error_id"]) == ("error", "invalid_stream")
    assert old.read_bytes() == b"previous recording"
    assert notes.read_text() == "mine"


@pytest_twisted.ensureDeferred
async def test_cleanup_removes_only_owned_files(server, manager, mp4_media, tmp_path):
    publish(server, mp4_media["faststart"])
    for name in ("stream_3.ts", "stream_3.ts.ap", "stream_12.mp4"):
        (tmp_path / name).write_bytes(b"old")
    keep = ["stream_notes.txt", "stream.ts", "stream_1.ts.bak", "my_stream_0.ts", "stream_x.mp4"]
    for name in keep:
        (tmp_path / name).write_text("user file")
    manager.record_stream(rr(server, tmp_path))
    await wait_stopped(manager)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["stream_0.mp4",
                                                                    "stream_0.mp4.meta"])


@pytest_twisted.ensureDeferred
async def test_rec_dir_that_is_a_file_is_a_clear_error(server, manager, tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    manager.record_stream(rr(server, target))
    stop = await wait_stopped(manager)
    assert stop[1]["reason"] == "error" and "not a folder" in stop[1]["msg"]
    assert target.read_text() == "x"


@pytest_twisted.ensureDeferred
async def test_stop_mid_body_is_immediate_and_releases_everything(server, manager, collector,
                                                           mp4_media, tmp_path):
    publish(server, mp4_media["faststart"])
    server.add_fault(Fault(r"\.mp4", stall_after=3_000_000))
    fds_before = open_fds()
    manager.record_stream(rr(server, tmp_path))
    out = tmp_path / "stream_0.mp4"
    assert await until(lambda: out.exists() and out.stat().st_size >= 3_000_000, timeout=10)
    await sleep(0.2)
    heartbeat = ReactorHeartbeat()
    manager.stop()
    stop = await wait_stopped(manager, timeout=5)
    assert stop[1]["reason"] == "user"
    assert await until(lambda: recorder_threads() == 0, timeout=5)
    assert await heartbeat.finish() < MAX_REACTOR_LAG_S, "stop() must not block the reactor"
    assert await until(lambda: open_fds() <= fds_before, timeout=2), (open_fds(), fds_before)
    assert out.stat().st_size == 3_000_000, "the partial file is kept"
    assert len(collector.of("stop")) == 1


@pytest_twisted.ensureDeferred
async def test_stop_while_waiting_for_headers(server, manager, tmp_path):
    server.add_fault(Fault(r"\.mp4", never_answer=True))
    server.put("/v.mp4", b"x")
    manager.record_stream(rr(server, tmp_path))
    await sleep(0.3)
    manager.stop()
    stop = await wait_stopped(manager, timeout=2)
    assert stop[1]["reason"] == "user"
    assert await until(lambda: recorder_threads() == 0, timeout=2)


@pytest_twisted.ensureDeferred
async def test_single_recorder_rule_queues_the_next(server, manager, collector, mp4_media, tmp_path):
    data = publish(server, mp4_media["faststart"])
    server.put("/slow.mp4", data)
    server.add_fault(Fault(r"slow\.mp4", stall_after=1_000_000))
    first_id = manager.record_stream(rr(server, tmp_path / "a", path="/slow.mp4"))
    await sleep(0.3)
    first = manager.current_recorder
    heartbeat = ReactorHeartbeat()
    second_id = manager.record_stream(rr(server, tmp_path / "b"))
    assert second_id and second_id != first_id
    # The old one is told to stop and the new one waits for its stop message (the old thread
    # may already have ended: that races with this line, the queue does not).
    status = manager.status()
    assert first.stop_event.is_set()
    assert (status["recording_id"], status["queued_recording_id"]) == (first_id, second_id)
    assert await heartbeat.finish() < MAX_REACTOR_LAG_S, "starting must not block the reactor"
    await wait_stopped(manager)
    stops = collector.of("stop")
    assert [s["reason"] for s in stops] == ["user", "complete"]
    assert stops[0]["rec_dir"].endswith("a") and stops[1]["rec_dir"].endswith("b")
    assert (tmp_path / "b" / "stream_0.mp4").read_bytes() == data
    assert manager.status()["state"] == "idle"


@pytest_twisted.ensureDeferred
async def test_socketserver_in_resolve_result_gets_messages(server, manager, mp4_media, tmp_path):
    publish(server, mp4_media["faststart"])

    class Sock:
        def __init__(self):
            self.got = []

        def broadcast(self, message):
            self.got.append(message[0])

    sock = Sock()
    manager.record_stream(rr(server, tmp_path, socketserver=sock))
    await wait_stopped(manager)
    assert sock.got[0] in ("progress", "start") and sock.got[-1] == "stop"
    assert sock.got.count("stop") == 1
