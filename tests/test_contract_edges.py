"""Edges of the contracts in architecture.md, tried as a new user would (issue "Core: one plan
per recording"): empty MP4, a short VOD with a missing segment, a live recording that got
nothing, an unexpected exception, descriptive quality values. Real loopback HTTP, real TS bytes.
"""

import logging

import pytest
import pytest_twisted

from helpers import ffprobe_video_size, one_stop, rr, sleep, until, wait_stopped
from hls_server import LiveStream, publish_vod
from streamrecorder.devserver import Fault
from streamrecorder.http import RetryPolicy
from streamrecorder.manager import Manager
from streamrecorder.recorders.mp4 import Mp4Recorder

FAST_RETRY = RetryPolicy(attempts=2, base=0.01, cap=0.02)


async def record(collector, resolve_result, **recorder_options):
    """Run one recording on a manager of its own; its stop message body."""
    mgr = Manager(recorder_options=dict({"retry": FAST_RETRY}, **recorder_options))
    mgr.subscribe(collector)
    try:
        mgr.record_stream(resolve_result)
        stop = await wait_stopped(mgr)
    finally:
        mgr.close()
    assert stop is not None
    return stop[1]


# --- 1. MP4: 200 with an empty body ---------------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_empty_mp4_body_is_invalid_stream_without_start(server, collector, tmp_path):
    server.put("/empty.mp4", b"")
    stop = await record(collector, rr(server.url("/empty.mp4"), tmp_path, recorder_id="mp4"))
    assert (stop["reason"], stop["error_id"]) == ("error", "invalid_stream"), stop
    assert "empty file" in stop["msg"]
    assert collector.of("start") == [], "no start for a file that does not exist"
    one_stop(collector)


# --- 2. every section with data gets its start ------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_short_vod_with_missing_segment_gets_its_start(server, collector, media_ts,
                                                             tmp_path):
    url = publish_vod(server, "gap", media_ts["restart"][:4])
    server.add_fault(Fault(r"gap/seg_2\.ts", status=404))
    stop = await record(collector, rr(url, tmp_path))  # default buffering 5 > 4 segments
    assert (stop["reason"], stop["skipped_segments"]) == ("complete", 1), stop
    starts = collector.of("start")
    out = tmp_path / "stream_0.ts"
    assert [(s["rec_file"], s["section_index"], s["segment_index"]) for s in starts] == [
        (str(out), 0, 3)], "one start; segment_index = playlist index of the last segment written"
    assert out.stat().st_size > 0


@pytest_twisted.ensureDeferred
async def test_first_section_shorter_than_buffering_gets_its_start(server, collector, media_ts,
                                                                   tmp_path):
    # 2 segments at 320x240, then 2 at 640x360: section 0 never reaches buffering (5)
    url = publish_vod(server, "res", media_ts["restart"][:2] + media_ts["640"],
                      extra={2: ["#EXT-X-DISCONTINUITY"]})
    stop = await record(collector, rr(url, tmp_path))
    assert stop["reason"] == "complete", stop
    starts = [(s["section_index"], s["segment_index"]) for s in collector.of("start")]
    assert starts == [(0, 1), (1, 2)], starts


# --- 3. a live recording that got nothing -----------------------------------------------------

@pytest_twisted.ensureDeferred
async def test_live_duration_over_before_any_segment_reports_invalid_stream(server, collector, media_ts,
                                                                 tmp_path):
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="slow")
    server.add_fault(Fault(r"slow/pool_\d\.ts", latency=4.0))
    stop = await record(collector, rr(live.url, tmp_path, recorder_id="hls_live", duration=1))
    assert (stop["reason"], stop["error_id"]) == ("user", "invalid_stream"), stop
    assert "no segment arrived" in stop["msg"]
    assert not list(tmp_path.glob("stream_*.ts"))


@pytest_twisted.ensureDeferred
async def test_live_user_stop_before_any_segment_reports_invalid_stream(server, collector, media_ts,
                                                             tmp_path):
    live = LiveStream(server, media_ts["restart"], seg_dur=0.5, window=6, prefix="slow")
    server.add_fault(Fault(r"slow/pool_\d\.ts", latency=4.0))
    mgr = Manager(recorder_options={"retry": FAST_RETRY})
    mgr.subscribe(collector)
    try:
        mgr.record_stream(rr(live.url, tmp_path, recorder_id="hls_live"))
        assert await until(lambda: server.paths_requested(r"slow/pool_"), timeout=10)
        await sleep(0.2)
        mgr.stop()
        stop = (await wait_stopped(mgr))[1]
    finally:
        mgr.close()
    assert (stop["reason"], stop["error_id"]) == ("user", "invalid_stream"), stop
    assert "no segment arrived" in stop["msg"]


# --- 4. an unexpected exception ---------------------------------------------------------------

def _buggy_maybe_start(self):
    return None.x  # a real AttributeError: 'NoneType' object has no attribute 'x'


@pytest_twisted.ensureDeferred
async def test_unexpected_exception_is_reported_in_plain_words(server, collector, mp4_media,
                                                               tmp_path, monkeypatch):
    monkeypatch.setattr(Mp4Recorder, "_maybe_start", _buggy_maybe_start)
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    stop = await record(collector, rr(server.url("/v.mp4"), tmp_path, recorder_id="mp4"))
    assert (stop["reason"], stop["error_id"]) == ("error", "failure"), stop
    assert stop["msg"] == ("internal error while recording (AttributeError); "
                           "details are in the log")


@pytest_twisted.ensureDeferred
async def test_unexpected_exception_traceback_goes_to_the_log(server, collector, mp4_media,
                                                              tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(Mp4Recorder, "_maybe_start", _buggy_maybe_start)
    server.put("/v.mp4", mp4_media["faststart"].read_bytes())
    with caplog.at_level(logging.ERROR, logger="streamrecorder"):
        await record(collector, rr(server.url("/v.mp4"), tmp_path, recorder_id="mp4"))
    traced = [r for r in caplog.records if r.exc_info and r.exc_info[0] is AttributeError]
    assert traced and "_buggy_maybe_start" in caplog.text, caplog.text


# --- 5. quality -------------------------------------------------------------------------------

def publish_master(server, media_ts):
    """A master: 640x360 (1 Mbit/s), 1920x1080 (6 Mbit/s) and an I-frame-only entry that claims
    the most bandwidth and resolution (trick play: never the one to record)."""
    v360 = publish_vod(server, "v360", media_ts["640"])
    v1080 = publish_vod(server, "v1080", media_ts["1080"])
    server.put("/iframe/index.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n")
    master = "\n".join([
        "#EXTM3U",
        '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000000,RESOLUTION=3840x2160,'
        'CODECS="avc1.640033",URI="/iframe/index.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=640x360,CODECS="avc1.640028,mp4a.40.2"',
        v360,
        '#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,CODECS="avc1.640028"',
        v1080,
    ]) + "\n"
    server.put("/master.m3u8", master.encode())
    return server.url("/master.m3u8")


@pytest.mark.parametrize("quality,size", [
    ("HD", (640, 360)), ("sd", (640, 360)),
    ("FHD", (1920, 1080)), ("4K", (1920, 1080)),
])
@pytest_twisted.ensureDeferred
async def test_quality_labels_cap_the_variant(server, collector, media_ts, tmp_path, quality,
                                              size):
    url = publish_master(server, media_ts)
    stop = await record(collector, rr(url, tmp_path, quality=quality))
    assert stop["reason"] == "complete", stop
    assert ffprobe_video_size(tmp_path / "stream_0.ts") == size


@pytest.mark.parametrize("quality", ["", "medium"])
@pytest_twisted.ensureDeferred
async def test_empty_or_unknown_quality_records_the_best_variant(server, collector, media_ts,
                                                                 tmp_path, quality):
    url = publish_master(server, media_ts)
    stop = await record(collector, rr(url, tmp_path, quality=quality))
    assert stop["reason"] == "complete", stop
    assert ffprobe_video_size(tmp_path / "stream_0.ts") == (1920, 1080)
    assert not server.paths_requested("iframe"), "an I-frame-only entry is never recorded"
